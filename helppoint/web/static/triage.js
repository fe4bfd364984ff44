// Weeding out false activations: one key (f) acknowledges, classifies as false and closes an
// incident as one change on the server; r picks another false reason. An incident whose
// press-time audio says a person may be there is closed only after an explicit confirm.

import { ApiError, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { toast, toastError } from "./toast.js";
import { N_, _ } from "./i18n.js";

/** What the server heard at the unit, in words (null: nothing known yet). */
export const VOICE_LABELS = { voice: N_("Voice heard"), noisy: N_("Noisy"), silent: N_("Silent") };

/** Whether the evidence says a person may be at the unit (the server's rule, domain/triage.py). */
export function personMayBeThere(incident) {
  return Boolean(incident) && (incident.voice === "voice" || incident.voice === "noisy");
}

/** Who works on an incident now: who acknowledged it, unless a supervisor moved it since. */
export function holderOf(incident) {
  return (incident && (incident.held_by || incident.acknowledged_by)) || null;
}

/** Whether this operator may weed the incident out (the server has the last word). */
export function canWeedOut(incident, me) {
  if (!incident || !incident.ref) return false;
  if (incident.state === "new") return true;
  return ["acknowledged", "assessed"].includes(incident.state) && holderOf(incident) === me;
}

export class Triage {
  /**
   * reasons: [{value, label}] (the false reasons, the default first); dialog: the confirm
   * <dialog>; onIncident(incident): an answer from the server; onReason(reason): r was pressed.
   */
  constructor({ reasons, dialog, onIncident, onReason = () => {} }) {
    this.reasons = reasons;
    this.index = 0;
    this.dialog = dialog;
    this.onIncident = onIncident;
    this.onReason = onReason;
    this.busy = new Set(); // incident ids with a request on its way
    this.closedCount = 0;
    this.answer = null; // resolves the question the dialog asks now
    dialog.addEventListener("close", () => this.settle());
  }

  /**
   * The dialog closed: answer its question with how it was closed. A close event is queued as a
   * task, and the browser may handle input first: after "Keep open" or Esc, a quick f opens the
   * dialog again before the last close event fires. That event belongs to the question already
   * answered, not to the one on the screen, so it is ignored while the dialog is open.
   */
  settle() {
    if (this.dialog.open || !this.answer) return;
    const answer = this.answer;
    this.answer = null;
    answer(this.dialog.returnValue === "confirm");
  }

  get reason() {
    return this.reasons[this.index];
  }

  /** The next false reason (r): kept for every weed-out until changed again. */
  nextReason() {
    this.index = (this.index + 1) % this.reasons.length;
    this.onReason(this.reason);
    return this.reason;
  }

  /** Weed out one incident; resolves to the closed incident, or null if it was not closed. */
  async weedOut(incident) {
    if (!incident || this.busy.has(incident.id)) return null;
    const reason = this.reason;
    let confirmed = false;
    if (personMayBeThere(incident)) {
      confirmed = await this.confirm([incident], reason);
      if (!confirmed) return null;
    }
    this.busy.add(incident.id);
    try {
      const answer = await post(`/api/incidents/${incident.id}/weed-out`, {
        reason: reason.value,
        seen_event_count: incident.event_count || 1,
        confirmed,
      });
      this.onIncident(answer);
      this.reportClosed(1, reason, answer.ref);
      return answer;
    } catch (error) {
      toastError(error, error instanceof ApiError && error.status === 409 ? _("Not closed") : _("Could not close"));
      return null;
    } finally {
      this.busy.delete(incident.id);
    }
  }

  /** Weed out several incidents with the current reason; resolves to the ids closed. */
  async weedOutMany(incidents) {
    const reason = this.reason;
    let chosen = incidents.filter((i) => !this.busy.has(i.id));
    const doubtful = chosen.filter(personMayBeThere);
    let confirmed = false;
    if (doubtful.length) {
      confirmed = await this.confirm(doubtful, reason, chosen.length);
      // Not confirmed: close the others and leave those where a person may be there.
      if (!confirmed) chosen = chosen.filter((i) => !personMayBeThere(i));
    }
    if (!chosen.length) return [];
    for (const i of chosen) this.busy.add(i.id);
    try {
      const answer = await post("/api/incidents/weed-out", {
        incidents: chosen.map((i) => ({ id: i.id, seen_event_count: i.event_count || 1 })),
        reason: reason.value,
        confirmed,
      });
      for (const r of answer.results) if (r.incident) this.onIncident(r.incident);
      const refused = answer.results.filter((r) => !r.ok);
      if (answer.closed) this.reportClosed(answer.closed, reason);
      if (refused.length) {
        toast(refused.map((r) => r.detail).join(" · "), "error",
          _("%(count)s not closed", { count: refused.length }), { key: "weed-refused" });
      }
      return answer.results.filter((r) => r.ok).map((r) => r.incident_id);
    } catch (error) {
      toastError(error, _("Could not close the selected alarms"));
      return [];
    } finally {
      for (const i of chosen) this.busy.delete(i.id);
    }
  }

  reportClosed(count, reason, ref = null) {
    // One line that counts up, not a message per alarm: a storm must not flood the screen.
    this.closedCount += count;
    const what = ref && count === 1 ? _("%(ref)s closed", { ref }) : _("%(count)s closed", { count });
    toast(_("%(what)s as %(reason)s · %(total)s weeded out so far", { what, reason: reason.label, total: this.closedCount }), "success",
      null, { key: "weeded" });
  }

  /** Ask before closing incidents where a person may be there; resolves to true if confirmed. */
  confirm(incidents, reason, total = incidents.length) {
    const dialog = this.dialog;
    // The last question, closed but its close event still on its way, has its answer now.
    this.settle();
    if (dialog.open) return Promise.resolve(false); // one question at a time
    const names = incidents.map((i) => `${i.ref} ${i.unit_name} (${i.unit_id}): ${i.voice === "voice" ? _("voice heard") : _("noisy audio")}`);
    replaceChildren(dialog.querySelector(".confirm-list"), names.map((n) => h("li", {}, n)));
    dialog.querySelector(".confirm-reason").textContent = reason.label;
    dialog.querySelector(".confirm-others").textContent = total > incidents.length
      ? _("Keeping them open still closes the other %(count)s.", { count: total - incidents.length })
      : "";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      this.answer = resolve;
      dialog.showModal();
      // The safe choice has the focus: closing anyway takes a deliberate Tab or click.
      dialog.querySelector("[value=cancel]").focus();
    });
  }
}
