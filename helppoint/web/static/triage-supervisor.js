// The supervisor's triage: hyperactive units, per-unit patterns, units on test, suggestion rules
// and what they suggested against what operators decided (docs/triage.md).

import { api, get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { toast, toastError } from "./toast.js";
import { _ } from "./i18n.js";

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
    h("thead", {}, h("tr", {}, [_("Unit"), _("Alarms"), _("Presses"), _("Per hour"), _("False"), _("Pranks come at")].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, units.length
      ? units.map((u) => h("tr", { dataset: { unit: u.unit_id } },
          h("td", {}, `${u.unit_id} ${u.unit_name}`),
          h("td", {}, String(u.alarms)),
          h("td", {}, String(u.presses)),
          h("td", {}, u.presses_per_hour === null ? "—" : u.presses_per_hour.toFixed(2)),
          h("td", {}, percent(u.false_share)),
          h("td", {}, hoursText(u.prank_hours))))
      : [h("tr", {}, h("td", { colspan: "6", class: "readonly-note" }, _("None.")))]));
}

function renderOnTest(units) {
  replaceChildren(onTest, units.length
    ? units.map((u) => h("li", { dataset: { unit: u.unit_id } },
        `${_("%(unit)s %(name)s until %(time)s: %(reason)s", { unit: u.unit_id, name: u.unit_name, time: new Date(u.until).toLocaleTimeString("en-GB"), reason: u.reason })} `,
        h("button", { type: "button", onclick: () => endTest(u.unit_id) }, _("End test"))))
    : [h("li", { class: "readonly-note" }, _("No unit is on test."))]);
}

function renderRules(list, outcomes) {
  const byRule = new Map(outcomes.map((o) => [o.rule, o]));
  const rows = list.map((r) => {
    const o = byRule.get(r.name) || { suggested: 0, agreed: 0, other: 0, genuine: 0, open: 0 };
    return h("tr", { dataset: { rule: String(r.id) } },
      h("td", {}, r.name), h("td", {}, r.mark), h("td", {}, r.suggest || "—"),
      h("td", {}, _("%(suggested)s suggested: %(agreed)s agreed, %(other)s other, %(genuine)s genuine, %(open)s open", o)),
      h("td", {}, h("button", { type: "button", onclick: () => setActive(r, !r.active) }, r.active ? _("Switch off") : _("Switch on"))));
  });
  const chatter = byRule.get("chattering");
  if (chatter) {
    rows.push(h("tr", { dataset: { rule: "chattering" } }, h("td", {}, _("chattering (built in)")), h("td", {}, "chattering"), h("td", {}, "—"),
      h("td", {}, _("%(marked)s marked: %(false)s false, %(genuine)s genuine, %(open)s open",
        { marked: chatter.suggested, false: chatter.agreed + chatter.other, genuine: chatter.genuine, open: chatter.open })), h("td", {})));
  }
  replaceChildren(rules,
    h("caption", { class: "visually-hidden" }, _("Suggestion rules")),
    h("thead", {}, h("tr", {}, [_("Rule"), _("Mark"), _("Suggests"), _("Last 7 days"), ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: "5", class: "readonly-note" }, _("No rules yet.")))]));
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
    unitTable(hyperactive, _("Hyperactive units today"), hyper);
    unitTable(patterns, _("Activations per unit, last 7 days"), week);
    renderOnTest(testing);
    renderRules(list, outcomes);
  } catch (error) {
    toastError(error, _("Could not load the triage figures"));
  }
}

async function endTest(unitId) {
  try {
    await api(`/api/units/${encodeURIComponent(unitId)}/on-test`, { method: "DELETE" });
    toast(_("%(unit)s is no longer on test", { unit: unitId }), "success");
    await load();
  } catch (error) {
    toastError(error, _("Could not end the test"));
  }
}

async function setActive(rule, active) {
  try {
    await post(`/api/triage/rules/${rule.id}/active`, { active });
    await load();
  } catch (error) {
    toastError(error, _("Could not change the rule"));
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
    toast(_("%(unit)s is on test", { unit }), "success");
    onTestForm.reset();
    await load();
  } catch (error) {
    toastError(error, _("Could not put the unit on test"));
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
    toast(_("Rule added"), "success");
    ruleForm.reset();
    await load();
  } catch (error) {
    toastError(error, _("Could not add the rule"));
  }
});

load();
setInterval(load, 60_000);
