// The supervisor's "who holds what": every open alarm with who holds it, how many each
// operator holds, and moving an alarm to another operator (audited on the server).

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { stateLabel } from "./format.js";
import { LiveLink } from "./live.js";
import { holderOf } from "./triage.js";
import { toast, toastError } from "./toast.js";
import { _ } from "./i18n.js";

const summary = document.getElementById("holders-summary");
const table = document.getElementById("holders-table");
/** States in which an alarm can be moved: held, and not in a call (domain Incident.move_to). */
const MOVABLE = new Set(["acknowledged", "assessed", "escalated"]);
let pending = null;

async function load() {
  try {
    const [operators, incidents] = await Promise.all([get("/api/triage/holders"), get("/api/incidents/queue")]);
    render(operators, incidents);
  } catch (error) {
    toastError(error, _("Could not load who holds what"));
  }
}

function render(operators, incidents) {
  const waiting = incidents.filter((i) => !holderOf(i)).length;
  summary.textContent = [
    ...operators.filter((o) => o.holds).map((o) => _("%(user)s holds %(count)s", { user: o.username, count: o.holds })),
    _("%(count)s held by nobody", { count: waiting }),
  ].join(" · ");
  replaceChildren(table,
    h("caption", { class: "visually-hidden" }, _("Open alarms and who holds them; move one to another operator")),
    h("thead", {}, h("tr", {}, [_("Incident"), _("Unit"), _("State"), _("Held by"), _("Move to")].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, incidents.length
      ? incidents.map((i) => row(i, operators))
      : h("tr", { class: "none-yet" }, h("td", { colspan: "5" }, _("No open alarms: nobody holds anything.")))));
}

function row(incident, operators) {
  const holder = holderOf(incident);
  let move = "—";
  if (holder && MOVABLE.has(incident.state)) {
    const others = operators.filter((o) => o.username !== holder);
    const select = h("select", { "aria-label": _("Move %(ref)s to", { ref: incident.ref }) },
      others.map((o) => h("option", { value: o.username }, `${o.display_name || o.username} (${o.holds})`)));
    const button = h("button", { type: "button", class: "move-button", disabled: !others.length,
      onclick: () => moveTo(incident, select.value) }, _("Move"));
    move = h("span", { class: "row" }, select, button);
  } else if (incident.state === "in_call") {
    move = _("in a call");
  }
  return h("tr", { dataset: { id: String(incident.id), unit: incident.unit_id, holder: holder || "" } },
    h("td", {}, incident.ref),
    h("td", {}, `${incident.unit_id} ${incident.unit_name}`),
    h("td", {}, stateLabel(incident.state)),
    h("td", { class: "holder" }, holder || _("nobody yet")),
    h("td", {}, move));
}

async function moveTo(incident, operator) {
  try {
    const moved = await post(`/api/incidents/${incident.id}/move`, { operator });
    toast(_("%(ref)s moved to %(holder)s", { ref: moved.ref, holder: moved.held_by }), "success", null, { key: "moved" });
    load();
  } catch (error) {
    toastError(error, _("Could not move %(ref)s", { ref: incident.ref }));
  }
}

function soon() {
  clearTimeout(pending);
  pending = setTimeout(load, 200);
}

new LiveLink("/console/ws", {
  onMessage: (message) => {
    if (["snapshot", "incident", "resync"].includes(message.type)) soon();
  },
  onState: () => {},
}).start();
