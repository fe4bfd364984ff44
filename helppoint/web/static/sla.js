// The supervisor's SLA dashboard: refreshed whenever an incident changes (console feed).

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clock } from "./format.js";
import { LiveLink } from "./live.js";
import { toastError } from "./toast.js";

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

function shareCell(share, meets) {
  return h("td", { class: `share ${verdict(meets)}` }, percent(share));
}

function table(el, key, label, rows) {
  replaceChildren(el,
    h("caption", { class: "visually-hidden" }, `Answer times per ${label.toLowerCase()}`),
    h("thead", {}, h("tr", {},
      ["" + label, "Alarms", "Within 30 s", "Within 60 s", "Waiting"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: { key: r[key] } },
      h("td", {}, r[key]),
      h("td", {}, String(r.alarms)),
      shareCell(r.share_30s, r.meets_30s),
      shareCell(r.share_60s, r.meets_60s),
      h("td", {}, String(r.waiting))))));
}

function render() {
  if (!report) return;
  const o = report.overall;
  // The scheme's answer-time targets, as the server has them (not hard-coded here).
  const [first, second] = report.targets || [];
  const target = (t) => (t ? `within ${t.seconds} s (scheme's target ${+(t.share * 100).toFixed(1)}%)` : "");
  replaceChildren(overall,
    h("div", { class: `sla-figure ${verdict(o.meets_30s)}`, id: "share-30" },
      h("span", { class: "value" }, percent(o.share_30s)), h("span", { class: "label" }, target(first))),
    h("div", { class: `sla-figure ${verdict(o.meets_60s)}`, id: "share-60" },
      h("span", { class: "value" }, percent(o.share_60s)), h("span", { class: "label" }, target(second))),
    h("div", { class: "sla-figure", id: "alarm-count" },
      h("span", { class: "value" }, String(o.alarms)), h("span", { class: "label" }, "alarms")));
  const started = Date.now();
  replaceChildren(queue, report.queue.length
    ? report.queue.map((i) => h("li", { class: i.waiting_seconds >= report.limit_seconds ? "late" : "", dataset: { id: String(i.id), opened: i.opened_at } },
        `${i.ref} · ${i.unit_name} · waiting `, h("span", { class: "timer" }, clock(i.waiting_seconds))))
    : [h("li", { class: "readonly-note" }, "No alarm is waiting.")]);
  queue.dataset.rendered = String(started);
  table(operators, "operator", "Operator", report.operators);
  table(shifts, "shift", "Shift", report.shifts);
}

async function load() {
  try {
    report = await get(`/api/sla?hours=${hours.value}`);
    render();
  } catch (error) {
    toastError(error, "Could not load the answer times");
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
  link.textContent = state === "online" ? "Live" : state === "connecting" ? "Connecting…" : "Disconnected";
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
