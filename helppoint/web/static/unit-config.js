// Remote configuration of one unit: what it confirmed applying, a form to change it, history.

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toast, toastError } from "./toast.js";
import { N_, _ } from "./i18n.js";

const REFRESH_MS = 2000;
const page = JSON.parse(document.getElementById("unit-config-data").textContent);
const unitPath = `/api/units/${encodeURIComponent(page.unit_id)}`;
const statusLine = document.getElementById("config-status");
const appliedRows = document.getElementById("applied-rows");
const historyRows = document.getElementById("history-rows");
const form = document.getElementById("config-form");
const LABELS = {
  heartbeat_period: [N_("Heartbeat period"), (v) => `${v} s`],
  hold_ms: [N_("Press-and-hold"), (v) => `${v} ms`],
  volume: [N_("Volume"), (v) => `${v} %`],
};

function describe(settings) {
  if (!settings) return "—";
  return Object.entries(settings)
    .map(([name, value]) => {
      if (name === "prompts") {
        return Object.entries(value).map(([m, text]) => _("prompt %(message)s: “%(text)s”", { message: m, text })).join("; ");
      }
      const [label, unit] = LABELS[name] || [name, String];
      return `${_(label)} ${unit(value)}`;
    })
    .join("; ");
}

function appliedRowsFor(current) {
  const rows = [];
  for (const [name, value] of Object.entries(current.applied)) {
    if (name === "prompts") {
      for (const [message, text] of Object.entries(value)) {
        rows.push(
          h("tr", { dataset: { setting: `prompt-${message}` } },
            h("td", {}, _("Prompt “%(message)s”", { message })), h("td", { class: "value" }, text),
            h("td", {}, dateTime(current.applied_at.prompts))),
        );
      }
    } else {
      const [label, unit] = LABELS[name] || [name, String];
      rows.push(
        h("tr", { dataset: { setting: name } },
          h("td", {}, _(label)), h("td", { class: "value" }, unit(value)),
          h("td", {}, dateTime(current.applied_at[name]))),
      );
    }
  }
  if (!rows.length) {
    rows.push(h("tr", {}, h("td", { colspan: 3 }, _("The unit has not confirmed any remote setting yet: it uses its own defaults."))));
  }
  return rows;
}

function answer(entry) {
  if (!entry.confirmed_at) return _("waiting for the unit…");
  const verdict = entry.ok ? _("applied") : _("not all applied");
  return `${verdict} (${entry.detail}) ${dateTime(entry.confirmed_at)}`;
}

function historyRow(entry) {
  return h(
    "tr",
    { dataset: { command: entry.command_id, confirmed: entry.confirmed_at ? "yes" : "no" } },
    h("td", {}, dateTime(entry.requested_at)),
    h("td", {}, entry.requested_by),
    h("td", {}, describe(entry.requested)),
    h("td", { class: "applied" }, describe(entry.applied)),
    h("td", { class: "answer" }, answer(entry)),
  );
}

async function refresh() {
  try {
    const [current, history] = await Promise.all([
      get(`${unitPath}/settings`),
      get(`${unitPath}/config`),
    ]);
    const state = current.connected
      ? _("%(unit)s is connected; supervised every %(seconds)s s", { unit: page.unit_id, seconds: current.supervised_period })
      : _("%(unit)s is not connected (settings can be sent once it is); supervised every %(seconds)s s",
        { unit: page.unit_id, seconds: current.supervised_period });
    const waiting = current.pending ? `; ${_("%(count)s request(s) waiting for an answer", { count: current.pending })}` : "";
    statusLine.textContent = `${state}${waiting}`;
    replaceChildren(appliedRows, appliedRowsFor(current));
    replaceChildren(historyRows, history.map(historyRow));
    document.getElementById("config-send").disabled = !current.connected;
  } catch (error) {
    statusLine.textContent = _("Could not load the unit's settings.");
    toastError(error);
  }
}

function readForm() {
  const settings = {};
  for (const name of Object.keys(page.ranges)) {
    const raw = form.elements[name].value.trim();
    if (!raw) continue;
    const value = Number(raw);
    const { min, max } = page.ranges[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(_("%(setting)s must be a whole number from %(min)s to %(max)s", { setting: _(LABELS[name][0]), min, max }));
    }
    settings[name] = value;
  }
  const prompts = {};
  for (const input of form.querySelectorAll("[data-prompt]")) {
    const text = input.value.trim();
    if (text) prompts[input.dataset.prompt] = text;
  }
  if (Object.keys(prompts).length) settings.prompts = prompts;
  if (!Object.keys(settings).length) throw new Error(_("Fill in at least one setting to change"));
  return settings;
}

async function send(event) {
  event.preventDefault();
  let settings;
  try {
    settings = readForm();
  } catch (error) {
    toastError(error);
    return;
  }
  try {
    await post(`${unitPath}/configure`, settings);
    toast(_("Settings sent to %(unit)s; waiting for its answer", { unit: page.unit_id }));
    form.reset();
    await refresh();
  } catch (error) {
    toastError(error);
  }
}

if (page.can_configure) {
  document.getElementById("change-section").hidden = false;
  form.addEventListener("submit", send);
}
refresh();
setInterval(refresh, REFRESH_MS);
