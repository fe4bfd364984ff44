// The alarm queue: open incidents, most urgent first (priority, then oldest), with live timers.

import { serverNow } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clock, countLabel, kindLabel, stateLabel } from "./format.js";

//: EN 50518 targets: acknowledge within 30 s (80 %) and 60 s (98.5 %).
export const WARN_AFTER_S = 30;
export const URGENT_AFTER_S = 60;

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
  if (age >= URGENT_AFTER_S) return "urgent";
  if (age >= WARN_AFTER_S) return "warn";
  return "";
}

/** Open incidents by id; knows nothing of the DOM. */
export class IncidentStore {
  constructor() {
    this.byId = new Map();
  }

  /** Replace everything (snapshot or resync). */
  replace(incidents) {
    this.byId = new Map(incidents.filter((i) => i.state !== "closed").map((i) => [i.id, i]));
  }

  /**
   * Apply one incident change. Returns {added, removed, incident}. Closed incidents leave
   * the queue. An answer that arrives late never undoes a close or lowers the press count.
   */
  apply(incident) {
    const previous = this.byId.get(incident.id);
    if (incident.state === "closed") {
      this.byId.delete(incident.id);
      return { added: false, removed: Boolean(previous), incident };
    }
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

/** Renders the store as a listbox; selection is owned by the caller. */
export class QueueView {
  constructor(listEl, countEl, { zoneName, onSelect }) {
    this.listEl = listEl;
    this.countEl = countEl;
    this.zoneName = zoneName;
    this.onSelect = onSelect;
    this.rows = new Map();
    listEl.addEventListener("click", (event) => {
      const row = event.target.closest(".queue-row");
      if (row) this.onSelect(Number(row.dataset.id));
    });
  }

  render(incidents, selectedId) {
    this.rows.clear();
    const newCount = incidents.filter((i) => i.state === "new").length;
    this.countEl.textContent = incidents.length
      ? `${incidents.length} open · ${newCount} new`
      : "none open";
    if (!incidents.length) {
      replaceChildren(this.listEl, h("li", { class: "queue-empty", role: "presentation" }, "No open alarms."));
      this.listEl.removeAttribute("aria-activedescendant");
      return;
    }
    const items = incidents.map((incident) => {
      const row = this.renderRow(incident, incident.id === selectedId);
      this.rows.set(incident.id, { row, incident });
      return row;
    });
    replaceChildren(this.listEl, items);
    if (this.rows.has(selectedId)) {
      this.listEl.setAttribute("aria-activedescendant", `queue-row-${selectedId}`);
      this.rows.get(selectedId).row.scrollIntoView({ block: "nearest" });
    } else {
      this.listEl.removeAttribute("aria-activedescendant");
    }
    this.tick();
  }

  renderRow(incident, selected) {
    const presses = incident.event_count > 1 ? `×${incident.event_count}` : "";
    const zone = this.zoneName(incident.zone_id);
    const who = incident.acknowledged_by ? ` · ${incident.acknowledged_by}` : "";
    const label =
      `${kindLabel(incident.kind)}, ${incident.unit_name}, ${zone}, ${stateLabel(incident.state)}` +
      `${who}, ${countLabel(incident)}`;
    return h(
      "li",
      {
        id: `queue-row-${incident.id}`,
        class: `queue-row kind-${incident.kind} state-${incident.state}`,
        role: "option",
        "aria-selected": selected ? "true" : "false",
        "aria-label": label,
        dataset: { id: String(incident.id), unit: incident.unit_id, state: incident.state, kind: incident.kind },
      },
      h("span", { class: `badge kind-${incident.kind}` }, kindLabel(incident.kind)),
      h("span", { class: "unit" }, incident.unit_name),
      h("span", { class: "timer", "aria-hidden": "true" }, "--:--"),
      h("span", { class: `state state-${incident.state}` }, stateLabel(incident.state)),
      h("span", { class: "meta" }, `${zone}${who}`),
      h("span", { class: "presses", title: countLabel(incident) }, presses),
    );
  }

  /** Update the timers (called every second). */
  tick() {
    for (const { row, incident } of this.rows.values()) {
      const timer = row.querySelector(".timer");
      timer.textContent = clock(ageSeconds(incident));
      timer.className = `timer ${urgency(incident)}`;
    }
  }
}
