// Incident history: search, filters, paging, and a read-only detail panel.

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, kindLabel, stateLabel } from "./format.js";
import { IncidentPanel } from "./incident-panel.js";
import { toastError } from "./toast.js";
import { _, ngettext } from "./i18n.js";

const PAGE_SIZE = 25;
const FILTERS = ["text", "unit_id", "zone_id", "priority", "state", "classification", "since", "until"];

const form = document.getElementById("filters");
const results = document.getElementById("results");
const summary = document.getElementById("results-summary");
const pageInfo = document.getElementById("page-info");
const prev = document.getElementById("prev-page");
const next = document.getElementById("next-page");
const classifications = JSON.parse(document.getElementById("classifications-data").textContent || "[]");

const zones = new Map();
let offset = 0;
let total = 0;
let selectedId = null;
let searchToken = 0;

const zoneName = (id) => (zones.get(id) ? zones.get(id).name : id || "");

const panel = new IncidentPanel(document.getElementById("incident-panel"), {
  classifications,
  readOnly: true,
  zoneName,
  unitConnected: () => false,
  onIncident: () => {},
  onClosedHere: () => {},
});
panel.renderEmpty(_("Choose an incident in the table to see its full record."));

/** Local calendar date (yyyy-mm-dd) to the UTC instant of its local midnight. */
function localMidnight(dateText, addDays = 0) {
  const [y, m, d] = dateText.split("-").map(Number);
  return new Date(y, m - 1, d + addDays).toISOString();
}

function filtersFromForm() {
  const values = {};
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) values[name] = value;
  }
  return values;
}

function fillForm(params) {
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  offset = Math.max(0, Number(params.get("offset")) || 0);
}

function apiQuery(values) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    // Dates are local calendar days; "to" includes the whole of its day.
    if (name === "since") query.set(name, localMidnight(value));
    else if (name === "until") query.set(name, localMidnight(value, 1));
    else query.set(name, value);
  }
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  return query;
}

async function search({ push = false } = {}) {
  const values = filtersFromForm();
  const pageQuery = new URLSearchParams(values);
  if (offset) pageQuery.set("offset", String(offset));
  const url = `${location.pathname}${pageQuery.toString() ? `?${pageQuery}` : ""}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);

  const token = ++searchToken;
  summary.textContent = "Searching…";
  try {
    const answer = await get(`/api/incidents?${apiQuery(values)}`);
    if (token !== searchToken) return;
    total = answer.total;
    renderRows(answer.items);
  } catch (error) {
    if (token !== searchToken) return;
    summary.textContent = _("Search failed: %(error)s", { error: error.message });
    toastError(error, _("Search failed"));
  }
}

function renderRows(items) {
  if (!items.length) {
    replaceChildren(results, h("tr", {}, h("td", { colspan: "9", class: "readonly-note" }, _("No incidents match."))));
  } else {
    replaceChildren(results, items.map((i) => {
      const open = () => showIncident(i.id);
      return h("tr", { dataset: { id: String(i.id) }, class: i.id === selectedId ? "selected" : null, onclick: open },
        h("td", {}, h("button", { type: "button", class: "link", "aria-label": `Open ${i.ref}` }, i.ref)),
        h("td", { class: "when" }, dateTime(i.opened_at)),
        h("td", {}, i.unit_name, h("div", { class: "sub" }, zoneName(i.zone_id))),
        h("td", {}, h("span", { class: `badge kind-${i.kind}` }, kindLabel(i.kind))),
        h("td", {}, h("span", { class: `state state-${i.state}` }, stateLabel(i.state))),
        h("td", {}, i.classification_label || "—"),
        h("td", {}, i.acknowledged_by || "—"),
        h("td", {}, i.closed_by || "—"),
        h("td", { class: "outcome", title: i.outcome || "" }, i.outcome || ""));
    }));
  }
  const first = total ? offset + 1 : 0;
  const last = Math.min(offset + items.length, total);
  summary.textContent = ngettext("%(num)s incident found.", "%(num)s incidents found.", total);
  pageInfo.textContent = total ? _("%(first)s–%(last)s of %(total)s", { first, last, total }) : "";
  prev.disabled = offset === 0;
  next.disabled = offset + PAGE_SIZE >= total;
}

function showIncident(id) {
  selectedId = id;
  for (const row of results.querySelectorAll("tr[data-id]")) {
    row.classList.toggle("selected", Number(row.dataset.id) === id);
  }
  panel.show(id);
}

async function loadFilterChoices() {
  try {
    const [unitList, zoneList] = await Promise.all([get("/api/units"), get("/api/zones")]);
    const params = new URLSearchParams(location.search);
    const unitSelect = form.elements.unit_id;
    for (const unit of [...unitList].sort((a, b) => a.name.localeCompare(b.name))) {
      unitSelect.append(h("option", { value: unit.id }, `${unit.name} (${unit.id})`));
    }
    const zoneSelect = form.elements.zone_id;
    for (const zone of zoneList) {
      zones.set(zone.id, zone);
      zoneSelect.append(h("option", { value: zone.id }, zone.name));
    }
    unitSelect.value = params.get("unit_id") || "";
    zoneSelect.value = params.get("zone_id") || "";
  } catch (error) {
    toastError(error, _("Could not load the units and zones"));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  search({ push: true });
});
form.addEventListener("reset", () => {
  // After the browser has cleared the fields.
  setTimeout(() => {
    offset = 0;
    search({ push: true });
  }, 0);
});
prev.addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE_SIZE);
  search({ push: true });
});
next.addEventListener("click", () => {
  offset += PAGE_SIZE;
  search({ push: true });
});
window.addEventListener("popstate", () => {
  fillForm(new URLSearchParams(location.search));
  search();
});

fillForm(new URLSearchParams(location.search));
await loadFilterChoices();
search();
