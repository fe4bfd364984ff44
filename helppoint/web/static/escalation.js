// Escalation under the trigger plan, and the delivery status of the incident's notifications.

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";

const CHANNEL_LABELS = { webhook: "Webhook (EIDO)", cap: "CAP alert", email: "Email", console: "Supervisor console" };

function statusText(n) {
  if (n.status === "delivered") return `Delivered ${timeOfDay(n.delivered_at)}`;
  if (n.status === "failed") return `Failed after ${n.attempts} attempt${n.attempts === 1 ? "" : "s"}: ${n.last_error}`;
  if (n.attempts === 0) return "Queued";
  return `Retrying (attempt ${n.attempts} failed: ${n.last_error}); next ${timeOfDay(n.next_attempt_at)}`;
}

export class EscalationBlock {
  /** readOnly: no escalate button (history). onIncident(incident): the server changed it. */
  constructor({ readOnly = false, onIncident = () => {} } = {}) {
    this.readOnly = readOnly;
    this.onIncident = onIncident;
    this.incidentId = null;
    this.state = null;
    this.notifications = new Map();
    this.busy = false;
    this.checklist = null;
    this.previewClassification = null;
    this.plan = h("p", { class: "plan-summary", id: "plan-summary" });
    this.actions = h("ul", { class: "checklist", id: "checklist" });
    this.police = h("div", { class: "police-response", id: "police-response", "aria-live": "polite" });
    this.list = h("ul", { class: "notifications", id: "notifications", "aria-live": "polite" });
    this.button = readOnly
      ? null
      : h("button", { type: "button", class: "danger", id: "escalate-button", onclick: () => this.escalate() }, "Escalate under the trigger plan");
    this.root = h("div", { class: "block", id: "escalation" },
      h("h3", {}, "Trigger plan and escalation"),
      this.plan,
      this.actions,
      this.button ? h("div", { class: "row" }, this.button) : null,
      this.police,
      this.list);
    this.render();
  }

  /** The incident shown changed (or its state did). */
  setIncident(incident) {
    if (incident.id !== this.incidentId) {
      this.incidentId = incident.id;
      this.notifications.clear();
      this.checklist = null;
      this.previewClassification = null;
    }
    this.state = incident.state;
    this.render();
  }

  async load() {
    const id = this.incidentId;
    if (id === null) return;
    const preview = this.state === "escalated" || this.state === "closed" ? null : this.previewClassification;
    const query = preview ? `?classification=${encodeURIComponent(preview)}` : "";
    try {
      const checklist = await get(`/api/incidents/${id}/checklist${query}`);
      if (id !== this.incidentId) return;
      this.checklist = checklist;
      this.notifications = new Map(checklist.notifications.map((n) => [n.id, n]));
      this.render();
    } catch (error) {
      toastError(error, "Could not load the trigger plan checklist");
    }
  }

  /** The operator is choosing a classification: show what the plan would do for it. */
  preview(classification) {
    this.previewClassification = classification || null;
    this.load();
  }

  async policeAction(path, done) {
    try {
      const incident = await post(`/api/incidents/${this.incidentId}/${path}`);
      this.onIncident(incident);
      toast(done, "info");
      this.load();
    } catch (error) {
      toastError(error);
    }
  }

  renderChecklist() {
    const c = this.checklist;
    if (!c) return;
    if (!c.plan) {
      this.plan.textContent = "No trigger plan for this unit or its zone.";
      replaceChildren(this.actions);
    } else {
      const police = c.police ? ` · Police URN ${c.police.urn} · phone ${c.police.phone}` : "";
      this.plan.textContent = `${c.plan.name} (v${c.plan.version})${police}`;
      const escalated = this.state === "escalated";
      replaceChildren(this.actions, c.classification
        ? (c.actions.length
          ? c.actions.map((a) => h("li", { dataset: { notify: a.notify, channel: a.channel } },
              `${a.notify_label}: ${a.automatic ? `${CHANNEL_LABELS[a.channel] || a.channel}${a.to ? ` to ${a.to}` : ""} (sent on escalation)` : `telephone ${a.to}`}`,
              // ack_within is a deadline for delivery (docs/trigger-plans.md), not for a person.
              a.ack_within ? ` · to be delivered within ${a.ack_within} s` : "",
              !a.automatic && a.notify === "police" && escalated && !(c.police_response)
                ? h("button", { type: "button", id: "police-called-button", onclick: () => this.policeAction("police-called", "Police call recorded.") }, "Police called")
                : null))
          : [h("li", { class: "readonly-note" }, "The plan asks for no action for this classification.")])
        : [h("li", { class: "readonly-note" }, "Choose a classification to see the plan's actions.")]);
    }
    const r = c.police_response;
    if (!r) {
      replaceChildren(this.police);
      return;
    }
    const facts = [
      ["Police called", `${timeOfDay(r.called_at)} by ${r.called_by}`],
      ["Police acknowledged", r.acknowledged_at ? `${timeOfDay(r.acknowledged_at)} by ${r.acknowledged_by}` : "waiting…"],
      ["Police reference", r.cad_reference || "—"],
      ["On scene", r.on_scene_at ? timeOfDay(r.on_scene_at) : "not yet"],
    ];
    replaceChildren(this.police,
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k } }, v)])),
      !this.readOnly && !r.on_scene_at && this.state === "escalated"
        ? h("button", { type: "button", id: "on-scene-button", onclick: () => this.policeAction("police-on-scene", "Officers on scene recorded.") }, "Police on scene")
        : null);
  }

  /** A live status change pushed by the server. */
  changed(notification) {
    if (notification.incident_id !== this.incidentId) return;
    this.notifications.set(notification.id, notification);
    this.render();
  }

  async escalate() {
    if (this.busy || this.incidentId === null) return;
    this.busy = true;
    this.render();
    try {
      const answer = await post(`/api/incidents/${this.incidentId}/escalate`);
      for (const n of answer.notifications || []) this.notifications.set(n.id, n);
      const { notifications, ...incident } = answer;
      this.state = incident.state;
      this.onIncident(incident);
      this.load();
      toast(`${answer.ref} escalated: ${(notifications || []).length} notification(s) queued.`, "info", "Escalated");
    } catch (error) {
      toastError(error, "Could not escalate");
    } finally {
      this.busy = false;
      this.render();
    }
  }

  render() {
    this.renderChecklist();
    if (this.button) {
      this.button.disabled = this.busy || this.state !== "assessed";
      this.button.hidden = this.state === "escalated" || this.state === "closed";
    }
    const items = [...this.notifications.values()].sort((a, b) => a.id - b.id);
    if (!items.length) {
      replaceChildren(this.list, h("li", { class: "readonly-note" },
        this.state === "assessed" ? "Not escalated. Escalating sends the plan's actions for this classification." : "No notifications."));
      return;
    }
    replaceChildren(this.list, items.map((n) =>
      h("li", { class: `notification status-${n.status}${n.overdue ? " overdue" : ""}`, dataset: { channel: n.channel, status: n.status } },
        h("div", { class: "who" },
          `${n.kind_label} · ${CHANNEL_LABELS[n.channel] || n.channel}${n.target ? ` · ${n.target}` : ""}`,
          n.overdue ? h("strong", { class: "overdue-flag" }, " · OVERDUE") : null),
        h("div", { class: "text" }, statusText(n)))));
  }
}
