// The supervisor's "who holds what": every open alarm with who holds it, how many each
// operator holds, and moving an alarm to another operator (audited on the server).

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { stateLabel } from "./format.js";
import { LiveLink } from "./live.js";
import { holderOf } from "./triage.js";
import { toast, toastError } from "./toast.js";

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
    toastError(error, "Could not load who holds what");
  }
}

function render(operators, incidents) {
  const waiting = incidents.filter((i) => !holderOf(i)).length;
  summary.textContent = [
    ...operators.filter((o) => o.holds).map((o) => `${o.username} holds ${o.holds}`),
    `${waiting} held by nobody`,
  ].join(" · ");
  replaceChildren(table,
    h("caption", { class: "visually-hidden" }, "Open alarms and who holds them; move one to another operator"),
    h("thead", {}, h("tr", {}, ["Incident", "Unit", "State", "Held by", "Move to"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, incidents.length
      ? incidents.map((i) => row(i, operators))
      : h("tr", { class: "none-yet" }, h("td", { colspan: "5" }, "No open alarms: nobody holds anything."))));
}

function row(incident, operators) {
  const holder = holderOf(incident);
  let move = "—";
  if (holder && MOVABLE.has(incident.state)) {
    const others = operators.filter((o) => o.username !== holder);
    const select = h("select", { "aria-label": `Move ${incident.ref} to` },
      others.map((o) => h("option", { value: o.username }, `${o.display_name || o.username} (${o.holds})`)));
    const button = h("button", { type: "button", class: "move-button", disabled: !others.length,
      onclick: () => moveTo(incident, select.value) }, "Move");
    move = h("span", { class: "row" }, select, button);
  } else if (incident.state === "in_call") {
    move = "in a call";
  }
  return h("tr", { dataset: { id: String(incident.id), unit: incident.unit_id, holder: holder || "" } },
    h("td", {}, incident.ref),
    h("td", {}, `${incident.unit_id} ${incident.unit_name}`),
    h("td", {}, stateLabel(incident.state)),
    h("td", { class: "holder" }, holder || "nobody yet"),
    h("td", {}, move));
}

async function moveTo(incident, operator) {
  try {
    const moved = await post(`/api/incidents/${incident.id}/move`, { operator });
    toast(`${moved.ref} moved to ${moved.held_by}`, "success", null, { key: "moved" });
    load();
  } catch (error) {
    toastError(error, `Could not move ${incident.ref}`);
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
