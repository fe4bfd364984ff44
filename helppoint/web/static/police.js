// The police control room's view: escalated incidents live; acknowledge with the CAD reference.

import { post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";

const list = document.getElementById("police-incidents");
const summary = document.getElementById("police-summary");
const link = document.getElementById("police-link");
const incidents = new Map();
const drafts = new Map(); // incident id -> reference being typed, kept across live updates

function card(i) {
  const r = i.police_response || {};
  const facts = [
    ["Help point", `${i.unit_name} (${i.unit_id})${i.unit_description ? `, ${i.unit_description}` : ""}`],
    ["Location", i.latitude != null ? `${i.latitude.toFixed(5)}, ${i.longitude.toFixed(5)}` : "unknown"],
    ["Classification", i.classification_label || ""],
    ["Activated", dateTime(i.opened_at)],
    ["Police called", r.called_at ? `${timeOfDay(r.called_at)} by ${r.called_by}` : ""],
    ["Acknowledged", r.acknowledged_at ? `${timeOfDay(r.acknowledged_at)} by ${r.acknowledged_by}` : "not yet"],
    ["Your reference", r.cad_reference || ""],
    ["On scene", r.on_scene_at ? timeOfDay(r.on_scene_at) : ""],
  ];
  const notes = (i.notes || []).map((n) => h("li", {}, h("span", { class: "who" }, `${timeOfDay(n.at)} ${n.author}: `), n.text));
  let form = null;
  if (!r.acknowledged_at) {
    const input = h("input", { id: `ref-${i.id}`, name: "reference", maxlength: "64", required: true, placeholder: "e.g. NP-20261125-0421", value: drafts.get(i.id) || "" });
    input.addEventListener("input", () => drafts.set(i.id, input.value));
    form = h("form", { class: "row police-ack", onsubmit: (event) => acknowledge(event, i.id, input) },
      h("label", { for: `ref-${i.id}` }, "Log / CAD reference"),
      input,
      h("button", { type: "submit", class: "primary" }, "Acknowledge"));
  }
  return h("li", { class: `police-incident${r.acknowledged_at ? " acknowledged" : ""}`, dataset: { id: String(i.id) } },
    h("h2", {}, `${i.ref} · ${i.classification_label || ""} · ${i.unit_name}`),
    h("dl", { class: "facts" }, facts.filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    notes.length ? h("div", {}, h("h3", {}, "Operator notes"), h("ul", { class: "notes" }, notes)) : null,
    form);
}

function render() {
  const items = [...incidents.values()].sort((a, b) => (b.escalated_at || "").localeCompare(a.escalated_at || ""));
  summary.textContent = items.length ? `${items.length} open` : "No incidents escalated to you.";
  replaceChildren(list, items.map(card));
}

async function acknowledge(event, id, input) {
  event.preventDefault();
  try {
    await post(`/api/police/incidents/${id}/acknowledge`, { reference: input.value });
    drafts.delete(id);
    toast("Acknowledged: the control room can see it.", "info", "Acknowledged");
  } catch (error) {
    toastError(error, "Could not acknowledge");
  }
}

function connect(delay = 500) {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/police/ws`);
  ws.addEventListener("open", () => {
    link.textContent = "Live";
    link.dataset.state = "online";
  });
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "snapshot") {
      incidents.clear();
      for (const i of message.incidents) incidents.set(i.id, i);
    } else if (message.type === "incident") {
      incidents.set(message.incident.id, message.incident);
    } else if (message.type === "closed") {
      incidents.delete(message.id);
    }
    render();
  });
  ws.addEventListener("close", (event) => {
    link.textContent = "Disconnected";
    link.dataset.state = "offline";
    if (event.code === 4401) location.assign("/login?next=/police");
    else if (event.code !== 4403) setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  });
}

connect();
