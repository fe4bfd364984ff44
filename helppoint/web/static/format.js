// Formatting of times, durations and domain words for display.

import { N_, _, ngettext } from "./i18n.js";

export const KIND_LABELS = { activation: N_("Alarm"), tamper: N_("Tamper"), fault: N_("Fault") };

export const STATE_LABELS = {
  new: N_("New"),
  acknowledged: N_("Acknowledged"),
  in_call: N_("In call"),
  assessed: N_("Assessed"),
  escalated: N_("Escalated"),
  closed: N_("Closed"),
};

export const ACTION_LABELS = {
  "incident.opened": N_("incident opened"),
  "incident.acknowledged": N_("acknowledged"),
  "incident.call_started": N_("call started"),
  "incident.call_ended": N_("call ended"),
  "incident.classified": N_("classified"),
  "incident.note_added": N_("note added"),
  "incident.escalated": N_("escalated"),
  "incident.closed": N_("closed"),
  "incident.sla_breached": N_("SLA target missed"),
  "unit.command": N_("command sent"),
};

/** "mm:ss" (or "h:mm:ss" past an hour) for a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

const pad = (n) => String(n).padStart(2, "0");
const hms = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

/** Local wall-clock time, HH:MM:SS (24-hour, whatever the browser's locale). */
export function timeOfDay(iso) {
  return iso ? hms(new Date(iso)) : "";
}

/**
 * Local date and time, "2026-11-25 21:14:05": year first whatever the browser's locale, so
 * no log, timeline or history reads 02/12 as the 12th of February on one desk and the 2nd
 * of December on the next.
 */
export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms(d)}`;
}

export function kindLabel(kind) {
  return KIND_LABELS[kind] ? _(KIND_LABELS[kind]) : kind;
}

export function stateLabel(state) {
  return STATE_LABELS[state] ? _(STATE_LABELS[state]) : state;
}

/** What an audit entry's action is about, where its prefix alone does not say it. */
const ACTION_NOUNS = { still: N_("camera still"), self_test: N_("self-test"), sia: N_("SIA account") };

/**
 * An audit entry's action in words: "acknowledged" (an incident's own, named above),
 * "camera still received", "police on scene", "notification delivered".
 */
export function actionLabel(action) {
  if (ACTION_LABELS[action]) return _(ACTION_LABELS[action]);
  const dot = action.indexOf(".");
  const noun = dot < 0 ? "" : action.slice(0, dot);
  const verb = action.slice(dot + 1).replaceAll("_", " ");
  if (noun === "" || noun === "incident") return verb;
  return `${ACTION_NOUNS[noun] ? _(ACTION_NOUNS[noun]) : noun.replaceAll("_", " ")} ${verb}`;
}

/** "3 presses" / "1 press" (activations) or "2 events" for other kinds. */
export function countLabel(incident) {
  const n = incident.event_count || 1;
  if (incident.kind === "activation") return ngettext("%(num)s press", "%(num)s presses", n);
  return ngettext("%(num)s event", "%(num)s events", n);
}
