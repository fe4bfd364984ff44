// The health board: every unit's supervision state, and the maintenance queue.

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toast, toastError } from "./toast.js";
import { N_, _, ngettext } from "./i18n.js";

const REFRESH_MS = 5000;
const rows = document.getElementById("health-rows");
const summary = document.getElementById("health-summary");
const ticketRows = document.getElementById("ticket-rows");
const STATE_LABELS = { up: N_("Up"), late: N_("Late"), down: N_("Down"), unknown: N_("Not yet in service") };

const SELF_TEST_LABELS = {
  requested: N_("requested"),
  sent: N_("running…"),
  passed: N_("passed"),
  failed: N_("failed"),
  unreachable: N_("not reachable"),
};

function powerText(unit) {
  if (unit.battery === null && unit.mains === null) return "—";
  const parts = [];
  if (unit.battery !== null) parts.push(_("battery %(percent)s %%", { percent: Math.round(unit.battery * 100) }));
  if (unit.mains === false) parts.push(_("mains lost"));
  else if (unit.mains === true) parts.push(_("mains"));
  return parts.join(", ");
}

function selfTestText(run) {
  if (!run) return "—";
  const label = SELF_TEST_LABELS[run.status] ? _(SELF_TEST_LABELS[run.status]) : run.status;
  const failed = run.checks
    ? Object.entries(run.checks).filter(([, ok]) => ok === false).map(([part]) => part)
    : [];
  const when = dateTime(run.finished_at || run.requested_at);
  return failed.length ? `${label} (${failed.join(", ")}), ${when}` : `${label}, ${when}`;
}

async function startSelfTest(unit) {
  try {
    await post(`/api/units/${encodeURIComponent(unit.id)}/self-test`);
    toast(_("Self-test of %(unit)s started", { unit: unit.id }));
    await refresh();
  } catch (error) {
    toastError(error);
  }
}

// A unit never heard from has no uptime yet: "n/a", not 100 %.
function uptimeText(fraction) {
  return fraction === null ? _("n/a") : `${(fraction * 100).toFixed(2)} %`;
}

function noneYet(columns, text) {
  return h("tr", { class: "none-yet" }, h("td", { colspan: String(columns) }, text));
}

function unitRow(unit) {
  const lowPower = unit.battery_low || unit.mains === false;
  return h(
    "tr",
    { dataset: { unit: unit.id, status: unit.status }, class: `unit-${unit.status}` },
    h("td", { class: "unit-id" }, unit.id),
    h("td", {}, unit.name),
    h("td", { class: "unit-state" }, STATE_LABELS[unit.status] ? _(STATE_LABELS[unit.status]) : unit.status),
    h("td", {}, unit.last_seen_at ? dateTime(unit.last_seen_at) : "—"),
    h("td", {}, `${unit.heartbeat_period} s + ${unit.heartbeat_grace} s`),
    h("td", { class: lowPower ? "unit-power power-low" : "unit-power" }, powerText(unit)),
    h("td", {}, String(unit.open_faults)),
    h("td", { class: "unit-uptime" }, uptimeText(unit.uptime)),
    h("td", { class: "unit-uptime-7d" }, uptimeText(unit.uptime_7d)),
    h("td", { class: "unit-self-test" }, selfTestText(unit.self_test)),
    h("td", {}, unit.next_self_test_at ? dateTime(unit.next_self_test_at) : "—"),
    h("td", {}, unit.connected ? _("connected") : "—"),
    h(
      "td",
      {},
      h(
        "button",
        {
          type: "button",
          class: "self-test-button",
          disabled: !unit.connected,
          onclick: () => startSelfTest(unit),
        },
        _("Self-test"),
      ),
      " ",
      h("a", { href: `/units/${encodeURIComponent(unit.id)}/config` }, _("Configure")),
    ),
  );
}

async function act(path, body) {
  try {
    await post(path, body);
    await refresh();
  } catch (error) {
    toastError(error);
  }
}

function ticketActions(ticket) {
  const base = `/api/maintenance/tickets/${ticket.id}`;
  const actions = [];
  if (ticket.state === "open" || ticket.state === "assigned" || ticket.state === "fixed") {
    actions.push(
      h("button", {
        type: "button",
        onclick: () => {
          const engineer = window.prompt(_("Assign to engineer:"), ticket.assigned_to || "");
          if (engineer) act(`${base}/assign`, { engineer });
        },
      }, _("Assign")),
    );
  }
  if (ticket.state === "open" || ticket.state === "assigned") {
    actions.push(h("button", { type: "button", onclick: () => act(`${base}/fixed`) }, _("Fixed")));
  }
  if (ticket.state === "fixed") {
    actions.push(h("button", { type: "button", onclick: () => act(`${base}/verify`) }, _("Verify")));
  }
  return actions;
}

function ticketRow(ticket) {
  return h(
    "tr",
    { dataset: { ticket: ticket.id, unit: ticket.unit_id } },
    h("td", {}, ticket.ref),
    h("td", {}, ticket.unit_id),
    h("td", {}, ticket.fault),
    h("td", {}, ticket.occurrences > 1 ? `${ticket.detail} (×${ticket.occurrences})` : ticket.detail),
    h("td", { class: "ticket-state" }, ticket.state),
    h("td", {}, dateTime(ticket.opened_at)),
    h("td", {}, ticket.assigned_to || "—"),
    h("td", {}, ticketActions(ticket)),
  );
}

async function refresh() {
  try {
    const [units, tickets] = await Promise.all([
      get("/api/health/units"),
      get("/api/maintenance/tickets"),
    ]);
    replaceChildren(rows, units.length ? units.map(unitRow) : [noneYet(13, _("No units yet."))]);
    replaceChildren(
      ticketRows,
      tickets.length ? tickets.map(ticketRow) : [noneYet(8, _("No open tickets."))],
    );
    const count = (status) => units.filter((u) => u.status === status).length;
    const waiting = count("unknown");
    const notYet = waiting ? `, ${_("%(count)s not yet in service", { count: waiting })}` : "";
    const states = _("%(up)s up, %(down)s down, %(late)s late", { up: count("up"), down: count("down"), late: count("late") });
    summary.textContent =
      `${ngettext("%(num)s unit", "%(num)s units", units.length)}: ${states}${notYet}; ` +
      ngettext("%(num)s open ticket", "%(num)s open tickets", tickets.length);
  } catch (error) {
    summary.textContent = _("Could not load the health board.");
    toastError(error);
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
