// The alarm queue: open incidents, most urgent first (priority, then oldest), with live timers.

import { serverNow } from "./api.js";
import { h, replaceChildren, setText } from "./dom.js";
import { clock, countLabel, kindLabel, stateLabel } from "./format.js";
import { VOICE_LABELS, holderOf } from "./triage.js";
import { _ } from "./i18n.js";

/**
 * The scheme's answer-time targets (the server's setting, sent with the page): a new alarm's
 * timer turns amber past the first and red past the second. These defaults are only used
 * until the page has told the queue (setAnswerTargets).
 */
const targets = { warnAfterS: 30, urgentAfterS: 60 };

/** targets: [{seconds, share}, …] from the server, shortest first. */
export function setAnswerTargets(list) {
  const seconds = (list || []).map((t) => t.seconds).filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b);
  if (seconds.length) {
    targets.warnAfterS = seconds[0];
    targets.urgentAfterS = seconds[seconds.length - 1];
  }
}

export function answerTargets() {
  return { ...targets };
}

export function compareIncidents(a, b) {
  return (
    a.priority - b.priority ||
    Date.parse(a.opened_at) - Date.parse(b.opened_at) ||
    a.id - b.id
  );
}

/** Seconds since the incident was opened, by the server's clock. */
export function ageSeconds(incident) {
  return (serverNow() - Date.parse(incident.opened_at)) / 1000;
}

/** The CSS urgency class of an incident's timer. */
export function urgency(incident) {
  if (incident.state !== "new") return "handled";
  const age = ageSeconds(incident);
  if (age >= targets.urgentAfterS) return "urgent";
  if (age >= targets.warnAfterS) return "warn";
  return "";
}

/** Open incidents by id; knows nothing of the DOM. */
export class IncidentStore {
  constructor() {
    this.byId = new Map();
    // Ids seen closed. A closed incident never reopens (domain/model.py), but the answer to a
    // close and the pushes about the same incident travel on different channels: a push or a
    // snapshot built before the close can arrive after it, and must not bring the alarm back.
    this.closed = new Set();
  }

  /** Replace everything (snapshot or resync). */
  replace(incidents) {
    for (const i of incidents) if (i.state === "closed") this.closed.add(i.id);
    this.byId = new Map(incidents.filter((i) => !this.closed.has(i.id)).map((i) => [i.id, i]));
  }

  /**
   * Apply one incident change. Returns {added, removed, stale, incident}. Closed incidents
   * leave the queue. An answer that arrives late never undoes a close (stale: it was about an
   * incident already seen closed, and is ignored) or lowers the press count.
   */
  apply(incident) {
    const previous = this.byId.get(incident.id);
    if (incident.state === "closed") {
      this.closed.add(incident.id);
      this.byId.delete(incident.id);
      return { added: false, removed: Boolean(previous), incident };
    }
    if (this.closed.has(incident.id)) return { added: false, removed: false, stale: true, incident };
    const merged = previous
      ? { ...incident, event_count: Math.max(previous.event_count || 1, incident.event_count || 1) }
      : incident;
    this.byId.set(incident.id, merged);
    return { added: !previous, removed: false, incident: merged };
  }

  get(id) {
    return this.byId.get(id);
  }

  sorted() {
    return [...this.byId.values()].sort(compareIncidents);
  }

  unacknowledged() {
    return this.sorted().filter((i) => i.state === "new");
  }

  /** Open incidents per unit id: the most urgent one for each unit. */
  byUnit() {
    const result = new Map();
    for (const incident of this.sorted()) {
      if (!result.has(incident.unit_id)) result.set(incident.unit_id, incident);
    }
    return result;
  }
}

/**
 * What triage says about an incident, in words (docs/triage.md): on test, its mark (e.g.
 * "chattering") and a rule's suggestion. Shown with the alarm; they never decide anything.
 */
export function triageMarks(incident) {
  const marks = [];
  if (incident.on_test) marks.push(_("on test"));
  if (incident.mark) marks.push(incident.mark);
  if (incident.suggestion) marks.push(_("suggested: %(label)s", { label: incident.suggestion.label }));
  return marks;
}

/** Who holds an incident, in words: "yours", "held by bob", or "" when nobody does yet. */
export function holderLabel(incident, me) {
  const holder = holderOf(incident);
  if (!holder) return "";
  return holder === me ? _("yours") : _("held by %(holder)s", { holder });
}

/** Who holds how many of the open incidents, and how many nobody holds: one line. */
export function holdersLine(incidents, me) {
  const counts = new Map();
  let waiting = 0;
  for (const incident of incidents) {
    const holder = holderOf(incident);
    if (!holder) waiting += 1;
    else counts.set(holder, (counts.get(holder) || 0) + 1);
  }
  const parts = [];
  if (counts.has(me)) parts.push(_("yours %(count)s", { count: counts.get(me) }));
  for (const [holder, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (holder !== me) parts.push(`${holder} ${n}`);
  }
  parts.push(_("nobody %(count)s", { count: waiting }));
  return _("Held: %(holders)s", { holders: parts.join(" · ") });
}

/**
 * Renders the store as a listbox; selection is owned by the caller. A storm brings a push per
 * press, still, judgement and colleague's action, drawn in batches: only the rows whose
 * incident changed are built again, the others stay as they are (no layout work for them),
 * and rows are moved only when out of order.
 */
export class QueueView {
  constructor(listEl, countEl, { zoneName, onSelect, me = "" }) {
    this.listEl = listEl;
    this.countEl = countEl;
    this.zoneName = zoneName;
    this.me = me;
    this.onSelect = onSelect;
    this.rows = new Map(); // incident id -> {row, incident, drawn (rowKey), timer, timerText}
    this.selectedId = null;
    listEl.addEventListener("click", (event) => {
      const row = event.target.closest(".queue-row");
      if (row) this.onSelect(Number(row.dataset.id));
    });
  }

  /** What a row shows of an incident (its timer aside): the row is built again when it changes. */
  rowKey(incident) {
    return JSON.stringify([
      incident.kind, incident.state, incident.unit_name, incident.unit_id, this.zoneName(incident.zone_id),
      holderOf(incident), incident.event_count, incident.voice || "", triageMarks(incident),
    ]);
  }

  render(incidents, selectedId) {
    const newCount = incidents.filter((i) => i.state === "new").length;
    const count = incidents.length
      ? _("%(open)s open · %(new)s new", { open: incidents.length, new: newCount })
      : _("none open");
    if (this.countEl.textContent !== count) this.countEl.textContent = count;
    if (!incidents.length) {
      this.rows.clear();
      const empty = this.listEl.querySelector(".queue-empty");
      if (empty && this.listEl.children.length === 1) setText(empty, _("No open alarms."));
      else replaceChildren(this.listEl, h("li", { class: "queue-empty", role: "presentation" }, _("No open alarms.")));
      this.listEl.removeAttribute("aria-activedescendant");
      this.selectedId = null;
      return;
    }
    this.listEl.querySelector(".queue-empty")?.remove();
    let moved = false;
    const seen = new Set();
    for (const incident of incidents) {
      seen.add(incident.id);
      const entry = this.rows.get(incident.id);
      const drawn = this.rowKey(incident);
      const selected = incident.id === selectedId;
      if (!entry) {
        this.rows.set(incident.id, this.buildEntry(incident, selected, drawn));
        moved = true;
      } else if (entry.drawn !== drawn) {
        const fresh = this.buildEntry(incident, selected, drawn);
        entry.row.replaceWith(fresh.row);
        this.rows.set(incident.id, fresh);
      } else {
        entry.incident = incident;
        if ((entry.row.getAttribute("aria-selected") === "true") !== selected) {
          entry.row.setAttribute("aria-selected", selected ? "true" : "false");
        }
      }
    }
    for (const [id, entry] of this.rows) {
      if (!seen.has(id)) {
        entry.row.remove();
        this.rows.delete(id);
        moved = true;
      }
    }
    // Put the rows in order, moving only those out of place.
    incidents.forEach((incident, index) => {
      const row = this.rows.get(incident.id).row;
      if (this.listEl.children[index] !== row) {
        this.listEl.insertBefore(row, this.listEl.children[index] || null);
        moved = true;
      }
    });
    const selectionChanged = this.selectedId !== selectedId;
    this.selectedId = selectedId;
    if (this.rows.has(selectedId)) {
      const active = `queue-row-${selectedId}`;
      if (this.listEl.getAttribute("aria-activedescendant") !== active) this.listEl.setAttribute("aria-activedescendant", active);
      // Only when something could have taken the selected row out of view: scrolling asks the
      // browser for a layout, which a batch that changed nothing else should not cost.
      if (selectionChanged || moved) this.rows.get(selectedId).row.scrollIntoView({ block: "nearest" });
    } else {
      this.listEl.removeAttribute("aria-activedescendant");
    }
    this.tick();
  }

  buildEntry(incident, selected, drawn) {
    const row = this.renderRow(incident, selected);
    return { row, incident, drawn, timer: row.querySelector(".timer"), timerText: "", timerClass: "" };
  }

  renderRow(incident, selected) {
    const presses = incident.event_count > 1 ? `×${incident.event_count}` : "";
    const zone = this.zoneName(incident.zone_id);
    const holder = holderLabel(incident, this.me);
    const who = holder ? ` · ${holder}` : "";
    const voice = incident.voice ? (VOICE_LABELS[incident.voice] ? _(VOICE_LABELS[incident.voice]) : incident.voice) : "";
    const marks = triageMarks(incident);
    const label =
      `${kindLabel(incident.kind)}, ${incident.unit_name}, ${incident.unit_id}, ${zone}, ` +
      `${stateLabel(incident.state)}${who}, ${countLabel(incident)}${voice ? `, ${voice}` : ""}` +
      marks.map((m) => `, ${m}`).join("");
    return h(
      "li",
      {
        id: `queue-row-${incident.id}`,
        class: `queue-row kind-${incident.kind} state-${incident.state}`,
        role: "option",
        "aria-selected": selected ? "true" : "false",
        "aria-label": label,
        dataset: {
          id: String(incident.id),
          unit: incident.unit_id,
          state: incident.state,
          kind: incident.kind,
          holder: holderOf(incident) || "",
          voice: incident.voice || "",
        },
      },
      h("span", { class: `badge kind-${incident.kind}` }, kindLabel(incident.kind)),
      // The whole name on its own line (it wraps, never cut off), the unit's id under it.
      h("span", { class: "unit" }, incident.unit_name),
      h("span", { class: "timer", "aria-hidden": "true" }, "--:--"),
      h("span", { class: `state state-${incident.state}` }, stateLabel(incident.state)),
      h("span", { class: "meta" },
        h("span", { class: "unit-id" }, incident.unit_id), ` · ${zone}`,
        holder ? h("span", { class: holderOf(incident) === this.me ? "holder mine" : "holder" }, ` · ${holder}`) : null,
        voice ? h("span", { class: `voice voice-${incident.voice}` }, voice) : null,
        marks.map((m) => h("span", { class: "triage-mark" }, m))),
      h("span", { class: "presses", title: countLabel(incident) }, presses),
    );
  }

  /** Update the timers (called every second); a timer whose text is unchanged is left alone. */
  tick() {
    for (const entry of this.rows.values()) {
      const text = clock(ageSeconds(entry.incident));
      const className = `timer ${urgency(entry.incident)}`;
      if (entry.timerText !== text) {
        entry.timer.textContent = text;
        entry.timerText = text;
      }
      if (entry.timerClass !== className) {
        entry.timer.className = className;
        entry.timerClass = className;
      }
    }
  }
}
