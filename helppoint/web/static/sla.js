// The supervisor's SLA dashboard: refreshed whenever an incident changes (console feed).

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clock } from "./format.js";
import { LiveLink } from "./live.js";
import { toastError } from "./toast.js";
import { N_, _, ngettext } from "./i18n.js";

const overall = document.getElementById("sla-overall");
const queue = document.getElementById("sla-queue");
const operators = document.getElementById("sla-operators");
const shifts = document.getElementById("sla-shifts");
const hours = document.getElementById("sla-hours");
const link = document.getElementById("sla-link");
let report = null;
let pending = null;

const percent = (share) => (share === null ? "—" : `${(share * 100).toFixed(1)}%`);

function verdict(meets) {
  return meets === null ? "" : meets ? "meets" : "below";
}

/** A share that is too small a sample to judge says so, in words, not in colour. */
function shareCell(share, meets, tooFew) {
  return h("td", { class: `share ${verdict(meets)}` }, percent(share),
    tooFew ? h("span", { class: "sub too-few" }, ` ${_("(too few to judge)")}`) : null);
}

/** "n = 1 alarm: too few to judge against the targets (fewer than 10)". */
function sampleNote(alarms) {
  return ngettext(
    "n = %(num)s alarm: too few to judge against the targets (fewer than %(min)s; setting sla_min_alarms)",
    "n = %(num)s alarms: too few to judge against the targets (fewer than %(min)s; setting sla_min_alarms)",
    alarms, { min: report.min_alarms });
}

/** label: the table's first column ("Operator", "Shift"); caption: what the table shows. */
function table(el, key, label, caption, rows) {
  // One column per target of the scheme (setting sla_targets), as the server sends them.
  const limits = (report.targets || []).map((t) => _("Within %(seconds)s s", { seconds: t.seconds }));
  replaceChildren(el,
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {},
      [label, _("Alarms"), ...limits, _("Waiting")].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", { dataset: { key: r[key] } },
      h("td", {}, r[key]),
      h("td", {}, String(r.alarms)),
      ...r.targets.map((t) => shareCell(t.share, t.meets, r.too_few)),
      h("td", {}, String(r.waiting))))
      : h("tr", { class: "none-yet" },
        h("td", { colspan: String(3 + limits.length) }, _("No alarms in this period yet.")))));
}

const loadOverall = document.getElementById("load-overall");
const loadOperators = document.getElementById("load-operators");
const loadTimes = document.getElementById("load-times");
const STEPS = {
  press_to_received: N_("Press (unit's clock) to received"),
  received_to_stored: N_("Received to stored (acknowledged to the unit)"),
  received_to_accepted: N_("Received to accepted by an operator"),
};
const secs = (value) => (value === null ? "—" : `${value.toFixed(1)} s`);

function renderLoad(load) {
  replaceChildren(loadOverall,
    h("div", { class: "sla-figure", id: "load-per-hour" }, h("span", { class: "value" }, load.alarms_per_hour.toFixed(1)), h("span", { class: "label" }, _("alarms per hour"))),
    h("div", { class: "sla-figure", id: "load-standing" }, h("span", { class: "value" }, String(load.standing)), h("span", { class: "label" }, _("standing now (%(count)s waiting)", { count: load.waiting }))),
    h("div", { class: `sla-figure ${load.flood_share > 0 ? "below" : ""}`, id: "load-flood" },
      h("span", { class: "value" }, percent(load.flood_share)), h("span", { class: "label" },
        _("of the time in flood (%(count)s+ waiting; peak %(peak)s)", { count: load.flood_waiting, peak: load.peak_waiting }))));
  replaceChildren(loadOperators,
    h("caption", { class: "visually-hidden" }, _("Alarms accepted per operator")),
    h("thead", {}, h("tr", {}, [_("Operator"), _("Accepted"), _("Per hour")].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, load.operators.length
      ? load.operators.map((o) => h("tr", { dataset: { key: o.operator } },
        h("td", {}, o.operator), h("td", {}, String(o.accepted)), h("td", {}, o.per_hour.toFixed(2))))
      : h("tr", { class: "none-yet" }, h("td", { colspan: "3" }, _("No alarms accepted in this period yet.")))));
  replaceChildren(loadTimes,
    h("caption", { class: "visually-hidden" }, _("Each step of the alarms' times")),
    h("thead", {}, h("tr", {}, [_("Step"), _("Alarms"), _("Median"), "95%", _("Longest")].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, Object.entries(STEPS).map(([key, label]) => {
      const s = load.times[key];
      return h("tr", { dataset: { key } }, h("td", {}, _(label)), h("td", {}, String(s.count)), h("td", {}, secs(s.median)), h("td", {}, secs(s.p95)), h("td", {}, secs(s.max)));
    })));
}

function render() {
  if (!report) return;
  const o = report.overall;
  // The scheme's answer-time targets, as the server has them (not hard-coded here).
  const label = (t) => _("within %(seconds)s s (scheme's target %(target)s%%)", { seconds: t.seconds, target: +(t.target * 100).toFixed(1) });
  replaceChildren(overall,
    ...o.targets.map((t) => h("div", { class: `sla-figure ${verdict(t.meets)}`.trim(), id: `share-${t.seconds}` },
      h("span", { class: "value" }, percent(t.share)), h("span", { class: "label" }, label(t)))),
    h("div", { class: "sla-figure", id: "alarm-count" },
      h("span", { class: "value" }, String(o.alarms)), h("span", { class: "label" }, _("alarms"))),
    o.too_few ? h("p", { class: "sla-sample", id: "sla-sample" }, sampleNote(o.alarms)) : null);
  const started = Date.now();
  replaceChildren(queue, report.queue.length
    ? report.queue.map((i) => h("li", { class: i.waiting_seconds >= report.limit_seconds ? "late" : "", dataset: { id: String(i.id), opened: i.opened_at } },
        `${i.ref} · ${i.unit_name} · ${_("waiting")} `, h("span", { class: "timer" }, clock(i.waiting_seconds))))
    : [h("li", { class: "readonly-note" }, _("No alarm is waiting."))]);
  queue.dataset.rendered = String(started);
  table(operators, "operator", _("Operator"), _("Answer times per operator"), report.operators);
  table(shifts, "shift", _("Shift"), _("Answer times per shift"), report.shifts);
}

async function load() {
  try {
    const [answers, loadFigures] = await Promise.all([
      get(`/api/sla?hours=${hours.value}`),
      get(`/api/sla/load?hours=${hours.value}`),
    ]);
    report = answers;
    render();
    renderLoad(loadFigures);
  } catch (error) {
    toastError(error, _("Could not load the answer times"));
  }
}

function soon() {
  clearTimeout(pending);
  pending = setTimeout(load, 200);
}

function onMessage(message) {
  const type = message.type;
  if (type === "snapshot" || type === "incident" || type === "sla_alert" || type === "resync") soon();
}

function onState(state) {
  link.textContent = state === "online" ? _("Live") : state === "connecting" ? _("Connecting…") : _("Disconnected");
  link.dataset.state = state;
}

// Waiting times tick every second between updates.
setInterval(() => {
  for (const item of queue.querySelectorAll("li[data-opened]")) {
    const seconds = (Date.now() - Date.parse(item.dataset.opened)) / 1000;
    item.querySelector(".timer").textContent = clock(seconds);
    if (report && seconds >= report.limit_seconds) item.classList.add("late");
  }
}, 1000);

hours.addEventListener("change", load);
new LiveLink("/console/ws", { onMessage, onState }).start();
