// The selected incident: details, acknowledge, unit commands, classify, notes, close, timeline.
// The forms are built once per incident and only their surroundings are refreshed, so a live
// update never wipes what the operator is typing.

import { ApiError, get, post, serverNow } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { actionLabel, clock, countLabel, dateTime, kindLabel, stateLabel, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";
import { triageMarks, urgency } from "./queue.js";
import { EscalationBlock } from "./escalation.js";
import { CallBlock } from "./call.js";
import { CameraBlock } from "./cameras.js";
import { IncidentMediaBlock } from "./incident-media.js";
import { VOICE_LABELS, canWeedOut, holderOf } from "./triage.js";
import { listeningTo } from "./listen.js";
import { _ } from "./i18n.js";

const CLASSIFIABLE = new Set(["acknowledged", "in_call", "assessed"]);
const CLOSABLE = new Set(["acknowledged", "in_call", "assessed", "escalated"]);

export class IncidentPanel {
  /**
   * options: classifications [{value,label}], readOnly, zoneName(id), unitConnected(unitId),
   * onIncident(incident) (an answer from the server changed it), onClosedHere(incident);
   * on the console also me (the username), triage (its reason), onWeedOut(incident) and
   * onNextReason().
   */
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.readOnly = Boolean(options.readOnly);
    this.incident = null;
    this.detail = null;
    this.ui = null;
    this.loadToken = 0;
    this.refreshTimer = null;
    this.commandLog = new Map(); // command id -> {unitId, label, result}
    this.earlyResults = new Map(); // results that arrived before the POST answered
    this.busy = false;
    this.renderEmpty();
  }

  get incidentId() {
    return this.incident ? this.incident.id : null;
  }

  renderEmpty(text = _("Select an incident in the queue (j / k or arrow keys).")) {
    if (this.ui && this.ui.cameras) this.ui.cameras.dispose();
    this.incident = null;
    this.detail = null;
    this.ui = null;
    replaceChildren(this.root, h("p", { class: "incident-empty" }, text));
  }

  /** Show an incident: the summary at once (if known), then the full record from the API. */
  async show(incidentId, summary = null) {
    if (incidentId === null || incidentId === undefined) {
      this.renderEmpty();
      return;
    }
    if (!this.incident || this.incident.id !== incidentId) {
      this.build(summary || { id: incidentId });
    }
    if (summary) this.updateSummary(summary);
    await this.reload();
  }

  async reload() {
    if (!this.incident) return;
    const id = this.incident.id;
    const token = ++this.loadToken;
    try {
      const detail = await get(`/api/incidents/${id}`);
      if (token !== this.loadToken || !this.incident || this.incident.id !== id) return;
      this.detail = detail;
      this.updateSummary(detail);
      this.renderNotes(detail.notes || []);
      this.renderTimeline(detail);
      this.ui.escalation.load();
      this.ui.media.load();
    } catch (error) {
      if (token === this.loadToken) toastError(error, _("Could not load incident %(id)s", { id }));
    }
  }

  /** A live change to an incident: refresh the summary now and the record shortly after. */
  update(incident) {
    if (!this.incident || incident.id !== this.incident.id) return;
    this.updateSummary(incident);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.reload(), 250);
  }

  /** Listening in started or stopped (incidentId: the incident listened to, or null). */
  listeningChanged(incidentId) {
    if (!this.ui || !this.ui.listen || !this.incident) return;
    const on = incidentId !== null && incidentId === this.incident.id;
    this.ui.listen.setAttribute("aria-pressed", String(on));
    replaceChildren(this.ui.listen, on ? _("Stop listening") : _("Listen in"), " ", h("kbd", {}, "l"));
  }

  /** The police acknowledged the shown incident: say so under its title. */
  policeAcknowledged(response) {
    if (!this.ui) return;
    const reference = response.cad_reference ? _(", reference %(reference)s", { reference: response.cad_reference }) : "";
    const by = response.acknowledged_by ? _(" by %(name)s", { name: response.acknowledged_by }) : "";
    this.ui.policeNotice.textContent = _("Police acknowledged at %(time)s%(by)s%(reference)s", { time: timeOfDay(response.acknowledged_at), by, reference });
    this.ui.policeNotice.hidden = false;
    this.ui.escalation.load();
  }

  /** A notification of this incident changed (pushed by the server). */
  notificationChanged(notification) {
    if (this.ui) this.ui.escalation.changed(notification);
  }

  /** Unit link went up or down. */
  unitChanged(unitId) {
    if (this.incident && this.incident.unit_id === unitId) {
      this.updateControls();
      if (this.ui && this.ui.call) this.ui.call.unitChanged();
    }
  }

  // ---------- building ----------

  build(incident) {
    if (this.ui && this.ui.cameras) this.ui.cameras.dispose();
    this.incident = { ...incident };
    this.detail = null;
    const ui = {};
    this.ui = ui;

    ui.badge = h("span", { class: "badge" });
    ui.title = h("h2", { id: "incident-title", tabindex: "-1" });
    ui.state = h("span", { class: "state" });
    ui.timer = h("span", { class: "timer", role: "timer", "aria-label": "Time since activation" });
    ui.voice = h("span", { class: "voice", id: "incident-voice", hidden: true });
    // The police acknowledgement, shown where the operator looks: under the title, which
    // stays at the top of the panel however far it is scrolled.
    ui.policeNotice = h("p", { class: "police-notice", id: "police-notice", role: "status", hidden: true });
    ui.sub = h("p", { class: "incident-sub" });
    ui.facts = h("dl", { class: "facts" });

    const blocks = [
      h("div", { class: "incident-head" },
        h("div", { class: "incident-title-row" }, ui.badge, ui.title, ui.state, ui.voice, ui.timer),
        ui.policeNotice),
      ui.sub,
      ui.facts,
    ];

    if (!this.readOnly) {
      ui.ack = h("button", { type: "button", class: "primary big", id: "ack-button", onclick: () => this.acknowledge() }, "Acknowledge");
      ui.claim = h("span", { class: "claim-info", id: "claim-info" });
      ui.claimError = h("p", { class: "claim-error", id: "claim-error", role: "alert", hidden: true });
      // One action for a false activation: acknowledge, classify as false and close.
      ui.weed = h("button", { type: "button", class: "danger big", id: "weed-out-button", "aria-keyshortcuts": "f",
        onclick: () => this.options.onWeedOut(this.incident) });
      ui.reason = h("button", { type: "button", id: "weed-reason-button", "aria-keyshortcuts": "r",
        onclick: () => this.options.onNextReason() }, _("Other reason"), " ", h("kbd", {}, "r"));
      // Hear the unit's press-time audio without answering (listen.js, docs/triage.md).
      ui.listen = h("button", { type: "button", id: "listen-button", "aria-keyshortcuts": "l", "aria-pressed": "false",
        onclick: () => this.options.onListen(this.incident) }, _("Listen in"), " ", h("kbd", {}, "l"));
      blocks.push(
        h("div", { class: "block", "aria-label": "Acknowledge" },
          h("div", { class: "row" }, ui.ack, ui.weed, ui.reason, ui.listen, ui.claim),
          ui.claimError),
      );

      ui.unitStatus = h("span", { class: "unit-link" });
      // The light, camera and message controls are in the media block below; what the unit
      // answered to each command shows here.
      ui.commandsLog = h("ul", { class: "commands-log", id: "commands-log", "aria-live": "polite" });
      blocks.push(
        h("div", { class: "block" },
          h("h3", {}, _("Unit"), " ", ui.unitStatus),
          ui.commandsLog),
      );

      ui.call = new CallBlock({
        unitConnected: (unitId) => this.options.unitConnected(unitId),
        canSupervise: () => /supervisor|admin/.test(document.querySelector("#current-user .role")?.textContent || ""),
      });
      blocks.push(ui.call.root);

      ui.cameras = new CameraBlock();
      blocks.push(ui.cameras.root);

      ui.classification = h("select", { id: "classification", name: "classification" },
        h("option", { value: "" }, _("Choose a classification…")),
        this.options.classifications.map((c) => h("option", { value: c.value }, c.label)));
      ui.classification.addEventListener("change", () => {
        ui.classification.dataset.touched = "1";
        this.ui.escalation.preview(ui.classification.value);
      });
      ui.classify = h("button", { type: "button", id: "classify-button", onclick: () => this.classify() }, _("Classify"));
      blocks.push(
        h("div", { class: "block" },
          h("h3", {}, h("label", { for: "classification" }, _("Classification")), " ", h("kbd", {}, "c")),
          h("div", { class: "row" }, h("div", { class: "grow" }, ui.classification), ui.classify)),
      );
    }

    ui.escalation = new EscalationBlock({ readOnly: this.readOnly, onIncident: (i) => this.options.onIncident(i) });
    blocks.push(ui.escalation.root);

    ui.media = new IncidentMediaBlock({
      readOnly: this.readOnly,
      unitConnected: (u) => this.options.unitConnected(u),
      send: (label, command, args) => this.sendCommand(label, command, args),
    });
    blocks.push(ui.media.root);

    ui.notes = h("ul", { class: "notes", id: "notes" });
    const notesBlock = h("div", { class: "block" }, h("h3", {}, _("Notes")), ui.notes);
    if (!this.readOnly) {
      ui.noteText = h("textarea", { id: "note-text", rows: "2", maxlength: "4000", placeholder: _("What the caller said, what you saw…") });
      ui.addNote = h("button", { type: "button", id: "add-note-button", onclick: () => this.addNote() }, _("Add note"));
      ui.noteText.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this.addNote();
        }
      });
      notesBlock.append(
        h("label", { for: "note-text" }, _("Add a note"), " ", h("kbd", {}, "n"), " ", _("(Ctrl+Enter to save)")),
        ui.noteText,
        h("div", { class: "row" }, ui.addNote),
      );
    }
    blocks.push(notesBlock);

    if (!this.readOnly) {
      ui.outcome = h("textarea", { id: "outcome", rows: "2", maxlength: "4000", placeholder: _("Outcome, e.g. child pressed the button, no one there") });
      ui.close = h("button", { type: "button", class: "danger", id: "close-button", onclick: () => this.close() }, _("Close incident"));
      ui.closeHint = h("p", { class: "readonly-note", id: "close-hint" });
      blocks.push(
        h("div", { class: "block" },
          h("h3", {}, h("label", { for: "outcome" }, _("Outcome and close")), " ", h("kbd", {}, "x")),
          ui.outcome,
          h("div", { class: "row" }, ui.close, ui.closeHint)),
      );
    }

    ui.timeline = h("ol", { class: "timeline", id: "timeline" });
    blocks.push(h("div", { class: "block" }, h("h3", {}, _("Timeline")), ui.timeline));

    replaceChildren(this.root, h("article", { class: "incident", "aria-labelledby": "incident-title", dataset: { id: String(incident.id) } }, blocks));
    if (incident.ref) this.updateSummary(incident);
    this.renderCommandLog();
    this.listeningChanged(listeningTo());
  }

  // ---------- refreshing ----------

  updateSummary(incident) {
    if (!this.ui) return;
    // Never let a late answer lower the press count or reopen a closed incident.
    const previous = this.incident || {};
    const merged = { ...previous, ...incident };
    merged.event_count = Math.max(previous.event_count || 1, incident.event_count || 1);
    if (previous.state === "closed" && incident.state !== "closed") {
      merged.state = "closed";
    }
    delete merged.events;
    delete merged.notes;
    delete merged.timeline;
    this.incident = merged;
    const i = merged;
    const ui = this.ui;
    if (!i.ref) return;
    ui.badge.className = `badge kind-${i.kind}`;
    ui.badge.textContent = kindLabel(i.kind);
    ui.title.textContent = `${i.ref} · ${i.unit_name}`;
    ui.state.className = `state state-${i.state}`;
    ui.state.textContent = stateLabel(i.state);
    renderVoice(ui.voice, i);
    ui.sub.textContent =
      _("%(zone)s · opened %(time)s · %(count)s", { zone: this.options.zoneName(i.zone_id), time: dateTime(i.opened_at), count: countLabel(i) });

    const facts = [
      [_("Unit"), `${i.unit_name} (${i.unit_id})`],
      [_("Location"), i.latitude != null ? `${i.latitude.toFixed(5)}, ${i.longitude.toFixed(5)}` : _("unknown")],
      [_("Last event"), timeOfDay(i.last_event_at)],
      [_("Acknowledged"), i.acknowledged_at
        ? _("%(time)s by %(name)s (after %(wait)s)", {
          time: timeOfDay(i.acknowledged_at),
          name: i.acknowledged_by,
          wait: clock((Date.parse(i.acknowledged_at) - Date.parse(i.opened_at)) / 1000),
        })
        : _("not yet")],
      [_("Classification"), i.classification_label || _("none yet")],
      [_("Closed"), i.closed_at ? _("%(time)s by %(name)s", { time: dateTime(i.closed_at), name: i.closed_by }) : _("open")],
    ];
    if (i.outcome) facts.push([_("Outcome"), i.outcome]);
    const marks = triageMarks(i);
    if (marks.length) facts.push([_("Triage"), marks.join(" · ")]);
    replaceChildren(ui.facts, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    ui.escalation.setIncident(i);
    if (ui.call) ui.call.setIncident(i);
    if (ui.cameras) ui.cameras.setIncident(i);
    ui.media.setIncident(i);
    this.tick();
    this.updateControls();
  }

  updateControls() {
    const ui = this.ui;
    const i = this.incident;
    if (!ui || !i || !i.ref || this.readOnly) return;
    const open = i.state !== "closed";
    ui.ack.disabled = this.busy || i.state !== "new";
    ui.ack.textContent = i.state === "new" ? _("Acknowledge") : _("Acknowledged");
    const holder = holderOf(i);
    ui.claim.textContent = !holder
      ? _("Not claimed yet: press A or Enter")
      : holder === i.acknowledged_by
        ? _("Claimed by %(holder)s", { holder })
        : _("Held by %(holder)s (moved; acknowledged by %(name)s)", { holder, name: i.acknowledged_by });
    this.updateWeedOut();
    ui.listen.disabled = !open;

    const connected = this.options.unitConnected(i.unit_id);
    ui.unitStatus.textContent = connected ? _("· connected") : _("· offline: commands unavailable");
    ui.unitStatus.className = connected ? "unit-link ok" : "unit-link offline";
    ui.media.updateControls();

    if (i.classification && document.activeElement !== ui.classification && !ui.classification.dataset.touched) {
      ui.classification.value = i.classification;
    }
    ui.classification.disabled = !CLASSIFIABLE.has(i.state);
    ui.classify.disabled = this.busy || !CLASSIFIABLE.has(i.state);

    ui.outcome.disabled = !open;
    ui.close.disabled = this.busy || !CLOSABLE.has(i.state);
    ui.closeHint.textContent = !open
      ? _("This incident is closed.")
      : i.state === "new"
        ? _("Acknowledge first.")
        : i.classification
          ? ""
          : _("Closing needs a classification.");
  }

  /** The one-key weed-out button: its reason, and whether it can be used on this incident. */
  updateWeedOut() {
    const ui = this.ui;
    const i = this.incident;
    if (!ui || !ui.weed || !i || !i.ref) return;
    const reason = this.options.triage.reason;
    replaceChildren(ui.weed, _("Close as %(reason)s", { reason: reason.label }), " ", h("kbd", {}, "f"));
    ui.weed.dataset.reason = reason.value;
    ui.weed.disabled = this.busy || !canWeedOut(i, this.options.me);
  }

  /** Update the age timer (called every second). */
  tick() {
    if (!this.ui || !this.incident || !this.incident.opened_at) return;
    const i = this.incident;
    const end = i.closed_at ? Date.parse(i.closed_at) : serverNow();
    this.ui.timer.textContent = clock((end - Date.parse(i.opened_at)) / 1000);
    this.ui.timer.className = `timer ${i.state === "closed" ? "handled" : urgency(i)}`;
  }

  renderNotes(notes) {
    if (!this.ui) return;
    if (!notes.length) {
      replaceChildren(this.ui.notes, h("li", { class: "readonly-note" }, "No notes."));
      return;
    }
    replaceChildren(this.ui.notes, notes.map((note) =>
      h("li", {},
        h("div", { class: "who" }, `${note.author} · ${timeOfDay(note.at)}`),
        h("div", { class: "text" }, note.text))));
  }

  renderTimeline(detail) {
    if (!this.ui) return;
    const entries = [];
    for (const event of detail.events || []) {
      entries.push({
        at: event.received_at,
        actor: detail.unit_name,
        text: event.unit_time
          ? _("%(event)s (seq %(seq)s, unit clock %(time)s)", { event: event.type.replaceAll("_", " "), seq: event.seq, time: timeOfDay(event.unit_time) })
          : _("%(event)s (seq %(seq)s)", { event: event.type.replaceAll("_", " "), seq: event.seq }),
      });
    }
    // The unit's own entries ("unit:HP-06" or "HP-06") go by its name, as its events do.
    const unitActors = [`unit:${detail.unit_id}`, detail.unit_id];
    for (const entry of detail.timeline || []) {
      const actor = unitActors.includes(entry.actor) && detail.unit_name ? detail.unit_name : entry.actor;
      entries.push({ at: entry.at, actor, text: describeAudit(entry, this.options.classifications) });
    }
    entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    replaceChildren(this.ui.timeline, entries.map((e) =>
      h("li", {},
        h("time", { datetime: e.at, title: dateTime(e.at) }, timeOfDay(e.at)),
        h("span", {}, h("span", { class: "actor" }, e.actor), " ", e.text))));
  }

  // ---------- actions ----------

  async run(action) {
    this.busy = true;
    this.updateControls();
    try {
      return await action();
    } finally {
      this.busy = false;
      this.updateControls();
    }
  }

  applyAnswer(incident) {
    this.updateSummary(incident);
    this.options.onIncident(incident);
  }

  async acknowledge() {
    const i = this.incident;
    if (this.readOnly || !i || !i.ref || i.state !== "new" || this.busy) return;
    this.ui.claimError.hidden = true;
    await this.run(async () => {
      try {
        const answer = await post(`/api/incidents/${i.id}/acknowledge`);
        this.applyAnswer(answer);
        toast(`${answer.ref} acknowledged`, "success");
        this.reload();
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          this.ui.claimError.textContent = error.message;
          this.ui.claimError.hidden = false;
        }
        toastError(error, _("Could not acknowledge"));
        this.reload();
      }
    });
  }

  async classify() {
    const i = this.incident;
    if (this.readOnly || !i || !i.ref || this.busy) return;
    const value = this.ui.classification.value;
    if (!value) {
      toast(_("Choose a classification first."), "error");
      this.ui.classification.focus();
      return;
    }
    await this.run(async () => {
      try {
        const answer = await post(`/api/incidents/${i.id}/classify`, { classification: value });
        delete this.ui.classification.dataset.touched;
        this.applyAnswer(answer);
        toast(`${answer.ref} classified: ${answer.classification_label}`, "success");
        this.reload();
      } catch (error) {
        toastError(error, _("Could not classify"));
      }
    });
  }

  async addNote() {
    const i = this.incident;
    if (this.readOnly || !i || !i.ref || this.busy) return;
    const text = this.ui.noteText.value.trim();
    if (!text) {
      toast(_("Type the note first."), "error");
      this.ui.noteText.focus();
      return;
    }
    await this.run(async () => {
      try {
        await post(`/api/incidents/${i.id}/notes`, { text });
        this.ui.noteText.value = "";
        toast(_("Note added"), "success");
        await this.reload();
      } catch (error) {
        toastError(error, _("Could not add the note"));
      }
    });
  }

  async close() {
    const i = this.incident;
    if (this.readOnly || !i || !i.ref || this.busy) return;
    if (i.state === "new") {
      toast(_("Acknowledge the incident before closing it."), "error");
      this.ui.ack.focus();
      return;
    }
    const chosen = this.ui.classification.value;
    if (!i.classification && !chosen) {
      toast(_("Closing needs a classification: choose one first."), "error");
      this.ui.classification.focus();
      return;
    }
    const body = { outcome: this.ui.outcome.value.trim() };
    if (chosen && chosen !== i.classification && CLASSIFIABLE.has(i.state)) body.classification = chosen;
    await this.run(async () => {
      try {
        const answer = await post(`/api/incidents/${i.id}/close`, body);
        this.applyAnswer(answer);
        toast(`${answer.ref} closed`, "success");
        this.options.onClosedHere(answer);
      } catch (error) {
        toastError(error, _("Could not close"));
      }
    });
  }

  async sendCommand(label, command, args) {
    const i = this.incident;
    if (this.readOnly || !i || !i.ref) return;
    const unitId = i.unit_id;
    try {
      // Sent about this incident: recorded on it, and the unit's confirmation shows on it.
      const answer = await post(`/api/incidents/${i.id}/unit-commands`, { command, args });
      const entry = { unitId, label, at: new Date().toISOString(), result: null };
      this.commandLog.set(answer.id, entry);
      if (this.earlyResults.has(answer.id)) {
        entry.result = this.earlyResults.get(answer.id);
        this.earlyResults.delete(answer.id);
      }
      this.renderCommandLog();
    } catch (error) {
      toastError(error, _("%(command)s: not sent", { command: label }));
    }
  }

  /** A unit reported how a command went. */
  commandResult(result) {
    const entry = this.commandLog.get(result.id);
    if (entry) {
      entry.result = result;
    } else if (this.incident && result.unit_id === this.incident.unit_id) {
      // Sent from another console, or answered before our POST returned.
      this.earlyResults.set(result.id, result);
      this.commandLog.set(result.id, { unitId: result.unit_id, label: _("Command"), at: new Date().toISOString(), result, foreign: true });
    } else {
      this.earlyResults.set(result.id, result);
      return;
    }
    this.renderCommandLog();
    if (!result.ok) toast(result.detail || _("the unit could not carry out the command"), "error", _("%(unit)s: command failed", { unit: result.unit_id }));
  }

  renderCommandLog() {
    if (!this.ui || !this.ui.commandsLog || !this.incident) return;
    const unitId = this.incident.unit_id;
    const items = [...this.commandLog.entries()]
      .filter(([, e]) => e.unitId === unitId)
      .slice(-6)
      .map(([id, e]) => {
        const r = e.result;
        const status = !r ? "pending" : r.ok ? "ok" : "failed";
        const text = !r
          ? _("sent, waiting for the unit…")
          : r.detail
            ? (r.ok ? _("done: %(detail)s", { detail: r.detail }) : _("failed: %(detail)s", { detail: r.detail }))
            : r.ok ? _("done") : _("failed");
        return h("li", { class: status, dataset: { command: id, status } },
          h("span", { "aria-hidden": "true" }, status === "ok" ? "✓ " : status === "failed" ? "✗ " : "… "),
          `${timeOfDay(e.at)} ${e.label}: ${text}`);
      });
    replaceChildren(this.ui.commandsLog, items);
  }

  // ---------- keyboard entry points ----------

  focusClassification() {
    if (this.ui && this.ui.classification && !this.ui.classification.disabled) {
      this.ui.classification.focus();
    } else if (this.ui && this.ui.classification) {
      toast(this.incident && this.incident.state === "new" ? _("Acknowledge first, then classify.") : _("This incident cannot be classified now."), "info");
    }
  }

  focusNote() {
    if (this.ui && this.ui.noteText) this.ui.noteText.focus();
  }
}

/** The voice indicator: what the server heard at the unit when it was pressed. */
export function renderVoice(el, incident) {
  const voice = incident.voice || null;
  el.hidden = !voice;
  el.className = `voice voice-${voice || "unknown"}`;
  el.dataset.voice = voice || "";
  const level = typeof incident.voice_level === "number" ? ` ${Math.round(incident.voice_level * 100)}%` : "";
  el.textContent = voice ? `${VOICE_LABELS[voice] ? _(VOICE_LABELS[voice]) : voice}${level}` : "";
}

function describeAudit(entry, classifications) {
  const label = actionLabel(entry.action);
  const detail = entry.detail || {};
  if (detail.classification) {
    const known = classifications.find((c) => c.value === detail.classification);
    return `${label}: ${known ? known.label : detail.classification}`;
  }
  if (entry.action === "incident.closed" && detail.outcome) return `${label}: ${detail.outcome}`;
  if (detail.command) return `${label}: ${detail.command}`;
  return label;
}
