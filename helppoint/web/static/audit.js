// The auditor's page: read the hash-chained trail, verify it, export it.

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toastError } from "./toast.js";
import { _, ngettext } from "./i18n.js";

const PAGE_SIZE = 100;
const form = document.getElementById("audit-filters");
const rows = document.getElementById("audit-rows");
const summary = document.getElementById("audit-summary");
const pageInfo = document.getElementById("audit-page");
const prev = document.getElementById("audit-prev");
const next = document.getElementById("audit-next");
const verifyResult = document.getElementById("verify-result");
let offset = 0;
let total = 0;

/** Local calendar date (yyyy-mm-dd) to the UTC instant of its local midnight. */
function localMidnight(dateText, addDays = 0) {
  const [y, m, d] = dateText.split("-").map(Number);
  return new Date(y, m - 1, d + addDays).toISOString();
}

function filters() {
  const query = new URLSearchParams();
  const actor = form.elements.actor.value.trim();
  const action = form.elements.action.value.trim();
  if (actor) query.set("actor", actor);
  if (action) query.set("action", action);
  if (form.elements.since.value) query.set("since", localMidnight(form.elements.since.value));
  if (form.elements.until.value) query.set("until", localMidnight(form.elements.until.value, 1));
  return query;
}

function updateExportLinks() {
  for (const format of ["csv", "json"]) {
    const query = filters();
    query.set("format", format);
    document.getElementById(`export-${format}`).href = `/api/audit/export?${query}`;
  }
}

function row(entry) {
  return h(
    "tr",
    { "data-seq": String(entry.seq) },
    h("td", {}, String(entry.seq)),
    h("td", {}, dateTime(entry.at)),
    h("td", {}, entry.actor),
    h("td", {}, entry.action),
    h("td", {}, entry.incident_id ? `INC-${String(entry.incident_id).padStart(6, "0")}` : ""),
    h("td", {}, entry.address || ""),
    h("td", { class: "detail" }, Object.keys(entry.detail || {}).length ? JSON.stringify(entry.detail) : ""),
    h("td", { class: "hash", title: entry.hash }, entry.hash.slice(0, 12) + "…"),
  );
}

async function load() {
  const query = filters();
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  updateExportLinks();
  try {
    const data = await get(`/api/audit?${query}`);
    total = data.total;
    replaceChildren(rows, ...data.entries.map(row));
    summary.textContent = total ? ngettext("%(num)s entry", "%(num)s entries", total) : _("No entries match.");
    pageInfo.textContent = total
      ? _("%(first)s–%(last)s of %(total)s", { first: offset + 1, last: offset + data.entries.length, total })
      : "";
    prev.disabled = offset === 0;
    next.disabled = offset + PAGE_SIZE >= total;
  } catch (error) {
    summary.textContent = _("Could not load the audit trail.");
    toastError(error);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  load();
});
form.addEventListener("input", updateExportLinks);
prev.addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE_SIZE);
  load();
});
next.addEventListener("click", () => {
  offset += PAGE_SIZE;
  load();
});
document.getElementById("verify-chain").addEventListener("click", async () => {
  verifyResult.textContent = _("Verifying…");
  try {
    const report = await get("/api/audit/verify");
    verifyResult.textContent = report.ok
      ? _("Chain intact: %(count)s entries verified.", { count: report.checked })
      : report.problem.entry_id
        ? _("Chain BROKEN at entry %(entry)s (#%(seq)s): %(reason)s",
          { entry: report.problem.entry_id, seq: report.problem.seq, reason: report.problem.reason })
        : _("Chain BROKEN at the end: %(reason)s", { reason: report.problem.reason });
    verifyResult.classList.toggle("broken", !report.ok);
  } catch (error) {
    verifyResult.textContent = "";
    toastError(error);
  }
});

load();
