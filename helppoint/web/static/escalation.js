// Escalation under the trigger plan, and the delivery status of the incident's notifications.

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";
import { N_, _, ngettext } from "./i18n.js";

const CHANNEL_LABELS = { webhook: N_("Webhook (EIDO)"), cap: N_("CAP alert"), email: N_("Email"), console: N_("Supervisor console") };

function channelLabel(channel) {
  return CHANNEL_LABELS[channel] ? _(CHANNEL_LABELS[channel]) : channel;
}

function statusText(n) {
  if (n.status === "delivered") return _("Delivered %(time)s", { time: timeOfDay(n.delivered_at) });
  if (n.status === "failed") return ngettext("Failed after %(num)s attempt: %(error)s", "Failed after %(num)s attempts: %(error)s", n.attempts, { error: n.last_error });
  if (n.attempts === 0) return _("Queued");
  return _("Retrying (attempt %(num)s failed: %(error)s); next %(time)s",
    { num: n.attempts, error: n.last_error, time: timeOfDay(n.next_attempt_at) });
}

/** What an action of the plan does: a channel it is sent on at escalation, or a call to make. */
function actionText(a) {
  if (!a.automatic) return _("telephone %(number)s", { number: a.to });
  return a.to
    ? _("%(channel)s to %(to)s (sent on escalation)", { channel: channelLabel(a.channel), to: a.to })
    : _("%(channel)s (sent on escalation)", { channel: channelLabel(a.channel) });
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
    /** Checklist requests made so far: only the latest one's answer is drawn. */
    this.loads = 0;
    this.plan = h("p", { class: "plan-summary", id: "plan-summary" });
    this.actions = h("ul", { class: "checklist", id: "checklist" });
    this.police = h("div", { class: "police-response", id: "police-response", "aria-live": "polite" });
    this.list = h("ul", { class: "notifications", id: "notifications", "aria-live": "polite" });
    this.button = readOnly
      ? null
      : h("button", { type: "button", class: "danger", id: "escalate-button", onclick: () => this.escalate() }, _("Escalate under the trigger plan"));
    this.root = h("div", { class: "block", id: "escalation" },
      h("h3", {}, _("Trigger plan and escalation")),
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
    const load = ++this.loads;
    try {
      const checklist = await get(`/api/incidents/${id}/checklist${query}`);
      // An older request's answer that arrives late (a busy server) must not draw over a
      // newer one: the plan's actions for the classification just chosen went back to
      // "Choose a classification" in a loaded run.
      if (id !== this.incidentId || load !== this.loads) return;
      this.checklist = checklist;
      this.notifications = new Map(checklist.notifications.map((n) => [n.id, n]));
      this.render();
    } catch (error) {
      toastError(error, _("Could not load the trigger plan checklist"));
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
      this.plan.textContent = _("No trigger plan for this unit or its zone.");
      replaceChildren(this.actions);
    } else {
      const police = c.police ? ` · ${_("Police URN %(urn)s · phone %(phone)s", { urn: c.police.urn, phone: c.police.phone })}` : "";
      this.plan.textContent = `${c.plan.name} (v${c.plan.version})${police}`;
      const escalated = this.state === "escalated";
      replaceChildren(this.actions, c.classification
        ? (c.actions.length
          ? c.actions.map((a) => h("li", { dataset: { notify: a.notify, channel: a.channel } },
              `${a.notify_label}: ${actionText(a)}`,
              // ack_within is a deadline for delivery (docs/trigger-plans.md), not for a person.
              a.ack_within ? ` · ${_("to be delivered within %(seconds)s s", { seconds: a.ack_within })}` : "",
              !a.automatic && a.notify === "police" && escalated && !(c.police_response)
                ? h("button", { type: "button", id: "police-called-button", onclick: () => this.policeAction("police-called", _("Police call recorded.")) }, _("Police called"))
                : null))
          : [h("li", { class: "readonly-note" }, _("The plan asks for no action for this classification."))])
        : [h("li", { class: "readonly-note" }, _("Choose a classification to see the plan's actions."))]);
    }
    const r = c.police_response;
    if (!r) {
      replaceChildren(this.police);
      return;
    }
    const facts = [
      // [key (data-fact, stays English), label, value]
      ["Police called", _("Police called"), _("%(time)s by %(user)s", { time: timeOfDay(r.called_at), user: r.called_by })],
      ["Police acknowledged", _("Police acknowledged"), r.acknowledged_at
        ? _("%(time)s by %(user)s", { time: timeOfDay(r.acknowledged_at), user: r.acknowledged_by })
        : _("waiting…")],
      ["Police reference", _("Police reference"), r.cad_reference || "—"],
      ["On scene", _("On scene"), r.on_scene_at ? timeOfDay(r.on_scene_at) : _("not yet")],
    ];
    replaceChildren(this.police,
      h("dl", { class: "facts" }, facts.map(([k, label, v]) => [h("dt", {}, label), h("dd", { dataset: { fact: k } }, v)])),
      !this.readOnly && !r.on_scene_at && this.state === "escalated"
        ? h("button", { type: "button", id: "on-scene-button", onclick: () => this.policeAction("police-on-scene", _("Officers on scene recorded.")) }, _("Police on scene"))
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
      toast(_("%(ref)s escalated: %(count)s notification(s) queued.", { ref: answer.ref, count: (notifications || []).length }),
        "info", _("Escalated"));
    } catch (error) {
      toastError(error, _("Could not escalate"));
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
        this.state === "assessed" ? _("Not escalated. Escalating sends the plan's actions for this classification.") : _("No notifications.")));
      return;
    }
    replaceChildren(this.list, items.map((n) =>
      h("li", { class: `notification status-${n.status}${n.overdue ? " overdue" : ""}`, dataset: { channel: n.channel, status: n.status } },
        h("div", { class: "who" },
          `${n.kind_label} · ${channelLabel(n.channel)}${n.target ? ` · ${n.target}` : ""}`,
          n.overdue ? h("strong", { class: "overdue-flag" }, ` · ${_("OVERDUE")}`) : null),
        h("div", { class: "text" }, statusText(n)))));
  }
}
