// Trigger plans: list the active plans, edit a plan file, check it, save it, export it.

import { ApiError, api, csrfHeaders, get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toast, toastError } from "./toast.js";
import { _, ngettext } from "./i18n.js";

const rows = document.getElementById("plans-rows");
const summary = document.getElementById("plans-summary");
const source = document.getElementById("plan-source");
const result = document.getElementById("plan-result");
const problems = document.getElementById("plan-problems");

function showLine(line) {
  const lines = source.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, text) => n + text.length + 1, 0);
  source.focus();
  source.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const lineHeight = source.scrollHeight / Math.max(lines.length, 1);
  source.scrollTop = Math.max(0, (line - 5) * lineHeight);
}

function showProblems(error) {
  const list = (error && error.problems) || [];
  result.textContent = list.length
    ? ngettext("Not activated: %(num)s problem.", "Not activated: %(num)s problems.", list.length)
    : "";
  result.className = list.length ? "invalid" : "";
  replaceChildren(
    problems,
    ...list.map((p) =>
      h(
        "li",
        {},
        p.line
          ? h("button", { type: "button", class: "link", onclick: () => showLine(p.line) }, _("Line %(line)s", { line: p.line }))
          : _("Plan"),
        p.where ? ` (${p.where}): ` : ": ",
        p.message,
      ),
    ),
  );
}

/** Send the editor's text; resolves with the JSON answer or the 422's problem list. */
async function send(path, method) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...csrfHeaders(method) },
    body: JSON.stringify({ source: source.value }),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 422 && data.problems) return { ok: false, problems: data.problems };
  if (!response.ok) throw new ApiError(response.status, data.detail || `HTTP ${response.status}`);
  return { ok: true, data };
}

async function load() {
  try {
    const plans = await get("/api/plans");
    summary.textContent = plans.length ? _("%(count)s active", { count: plans.length }) : _("No plans yet: start from the example.");
    if (!plans.length) {
      replaceChildren(rows, h("tr", { class: "none-yet" }, h("td", { colspan: "5" }, _("None yet."))));
      return;
    }
    replaceChildren(
      rows,
      ...plans.map((p) =>
        h(
          "tr",
          { "data-plan": `${p.scope}/${p.target_id}` },
          h("td", {}, `${p.scope} ${p.target_id}`),
          h("td", {}, p.name),
          h("td", {}, String(p.version)),
          h("td", {}, _("%(time)s by %(user)s", { time: dateTime(p.updated_at), user: p.updated_by })),
          h(
            "td",
            {},
            h("button", { type: "button", onclick: () => edit(p) }, _("Edit")),
            " ",
            h("a", { class: "button", href: `/api/plans/${p.scope}/${encodeURIComponent(p.target_id)}/export`, download: "" }, _("Export")),
          ),
        ),
      ),
    );
  } catch (error) {
    summary.textContent = _("Could not load the plans.");
    toastError(error);
  }
}

async function edit(plan) {
  try {
    const full = await get(`/api/plans/${plan.scope}/${encodeURIComponent(plan.target_id)}`);
    source.value = full.source;
    showProblems(null);
    result.textContent = _("Editing %(scope)s %(target)s, version %(version)s.", { scope: plan.scope, target: plan.target_id, version: plan.version });
  } catch (error) {
    toastError(error);
  }
}

document.getElementById("plan-new").addEventListener("click", async () => {
  const response = await fetch("/api/plans/example", { credentials: "same-origin" });
  source.value = await response.text();
  showProblems(null);
});

document.getElementById("plan-file").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  source.value = await file.text();
  event.target.value = "";
  showProblems(null);
  result.textContent = _("Loaded %(file)s: check it, then save to activate.", { file: file.name });
});

document.getElementById("plan-check").addEventListener("click", async () => {
  try {
    const answer = await send("/api/plans/check", "POST");
    if (!answer.ok) return showProblems(answer);
    showProblems(null);
    result.textContent = _("Valid: %(name)s for %(scope)s %(target)s. Not yet active.",
      { name: answer.data.name, scope: answer.data.scope, target: answer.data.target_id });
    result.className = "valid";
  } catch (error) {
    toastError(error);
  }
});

document.getElementById("plan-save").addEventListener("click", async () => {
  try {
    const answer = await send("/api/plans", "PUT");
    if (!answer.ok) return showProblems(answer);
    showProblems(null);
    const plan = answer.data;
    result.textContent = _("Active: %(name)s for %(scope)s %(target)s, version %(version)s.",
      { name: plan.name, scope: plan.scope, target: plan.target_id, version: plan.version });
    result.className = "valid";
    toast(_("Plan for %(scope)s %(target)s is active (version %(version)s).", { scope: plan.scope, target: plan.target_id, version: plan.version }),
      "info", _("Saved"));
    load();
  } catch (error) {
    toastError(error);
  }
});

// The editor's buttons come disabled (plans.html): they work from here on.
for (const id of ["plan-new", "plan-check", "plan-save"]) document.getElementById(id).disabled = false;
load();
