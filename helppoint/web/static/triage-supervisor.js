// The supervisor's triage: hyperactive units, per-unit patterns, units on test, suggestion rules
// and what they suggested against what operators decided (docs/triage.md).

import { api, get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { toast, toastError } from "./toast.js";

const hyperactive = document.getElementById("triage-hyperactive");
const patterns = document.getElementById("triage-patterns");
const onTest = document.getElementById("triage-on-test");
const rules = document.getElementById("triage-rules");
const onTestForm = document.getElementById("on-test-form");
const ruleForm = document.getElementById("rule-form");

const percent = (share) => (share === null ? "—" : `${Math.round(share * 100)}%`);
const hoursText = (hours) => (hours.length ? hours.map((x) => `${String(x).padStart(2, "0")}:00`).join(", ") : "—");

function unitTable(el, caption, units) {
  replaceChildren(el,
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Unit", "Alarms", "Presses", "Per hour", "False", "Pranks come at"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, units.length
      ? units.map((u) => h("tr", { dataset: { unit: u.unit_id } },
          h("td", {}, `${u.unit_id} ${u.unit_name}`),
          h("td", {}, String(u.alarms)),
          h("td", {}, String(u.presses)),
          h("td", {}, u.presses_per_hour === null ? "—" : u.presses_per_hour.toFixed(2)),
          h("td", {}, percent(u.false_share)),
          h("td", {}, hoursText(u.prank_hours))))
      : [h("tr", {}, h("td", { colspan: "6", class: "readonly-note" }, "None."))]));
}

function renderOnTest(units) {
  replaceChildren(onTest, units.length
    ? units.map((u) => h("li", { dataset: { unit: u.unit_id } },
        `${u.unit_id} ${u.unit_name} until ${new Date(u.until).toLocaleTimeString("en-GB")}: ${u.reason} `,
        h("button", { type: "button", onclick: () => endTest(u.unit_id) }, "End test")))
    : [h("li", { class: "readonly-note" }, "No unit is on test.")]);
}

function renderRules(list, outcomes) {
  const byRule = new Map(outcomes.map((o) => [o.rule, o]));
  const rows = list.map((r) => {
    const o = byRule.get(r.name) || { suggested: 0, agreed: 0, other: 0, genuine: 0, open: 0 };
    return h("tr", { dataset: { rule: String(r.id) } },
      h("td", {}, r.name), h("td", {}, r.mark), h("td", {}, r.suggest || "—"),
      h("td", {}, `${o.suggested} suggested: ${o.agreed} agreed, ${o.other} other, ${o.genuine} genuine, ${o.open} open`),
      h("td", {}, h("button", { type: "button", onclick: () => setActive(r, !r.active) }, r.active ? "Switch off" : "Switch on")));
  });
  const chatter = byRule.get("chattering");
  if (chatter) {
    rows.push(h("tr", { dataset: { rule: "chattering" } }, h("td", {}, "chattering (built in)"), h("td", {}, "chattering"), h("td", {}, "—"),
      h("td", {}, `${chatter.suggested} marked: ${chatter.agreed + chatter.other} false, ${chatter.genuine} genuine, ${chatter.open} open`), h("td", {})));
  }
  replaceChildren(rules,
    h("caption", { class: "visually-hidden" }, "Suggestion rules"),
    h("thead", {}, h("tr", {}, ["Rule", "Mark", "Suggests", "Last 7 days", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: "5", class: "readonly-note" }, "No rules yet."))]));
}

async function load() {
  try {
    const [hyper, week, testing, list, outcomes] = await Promise.all([
      get("/api/triage/hyperactive"),
      get("/api/triage/patterns?hours=168"),
      get("/api/units/on-test"),
      get("/api/triage/rules"),
      get("/api/triage/outcomes?hours=168"),
    ]);
    unitTable(hyperactive, "Hyperactive units today", hyper);
    unitTable(patterns, "Activations per unit, last 7 days", week);
    renderOnTest(testing);
    renderRules(list, outcomes);
  } catch (error) {
    toastError(error, "Could not load the triage figures");
  }
}

async function endTest(unitId) {
  try {
    await api(`/api/units/${encodeURIComponent(unitId)}/on-test`, { method: "DELETE" });
    toast(`${unitId} is no longer on test`, "success");
    await load();
  } catch (error) {
    toastError(error, "Could not end the test");
  }
}

async function setActive(rule, active) {
  try {
    await post(`/api/triage/rules/${rule.id}/active`, { active });
    await load();
  } catch (error) {
    toastError(error, "Could not change the rule");
  }
}

onTestForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(onTestForm);
  const unit = String(data.get("unit")).trim();
  try {
    await api(`/api/units/${encodeURIComponent(unit)}/on-test`, {
      method: "PUT",
      body: { minutes: Number(data.get("minutes")), reason: String(data.get("reason")) },
    });
    toast(`${unit} is on test`, "success");
    onTestForm.reset();
    await load();
  } catch (error) {
    toastError(error, "Could not put the unit on test");
  }
});

ruleForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(ruleForm);
  const text = (name) => String(data.get(name) || "").trim() || null;
  const number = (name) => (text(name) === null ? null : Number(text(name)));
  try {
    await post("/api/triage/rules", {
      name: text("name"), mark: text("mark"), suggest: text("suggest"), unit_id: text("unit_id"),
      zone_id: text("zone_id"), hour_from: number("hour_from"), hour_to: number("hour_to"),
      voice: text("voice"), min_alarms: number("min_alarms") || 1, within_minutes: number("within_minutes") || 60,
    });
    toast("Rule added", "success");
    ruleForm.reset();
    await load();
  } catch (error) {
    toastError(error, "Could not add the rule");
  }
});

load();
setInterval(load, 60_000);
