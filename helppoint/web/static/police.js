// The police control room's view: escalated incidents live on a map and as cards with the
// unit's camera still; acknowledge with the CAD reference.

import { post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";
import { IncidentMap } from "./police-map.js";
import { LiveLink } from "./live.js";
import { tileOptions } from "./tiles.js";

const list = document.getElementById("police-incidents");
const summary = document.getElementById("police-summary");
const link = document.getElementById("police-link");
const incidents = new Map();
const drafts = new Map(); // incident id -> reference being typed, kept across live updates
// Still id -> its <figure>: reused across renders so a live update never fetches (and audits)
// the same picture again.
const stillFigures = new Map();
const root = document.getElementById("police");
const incidentMap = new IncidentMap(document.getElementById("police-map"), document.getElementById("police-map-note"), {
  tilesUrl: root.dataset.tilesUrl,
  tileOptions: tileOptions(root.dataset),
});

function stillFigure(i) {
  const still = i.latest_still;
  if (!still) return null;
  let figure = stillFigures.get(still.id);
  if (!figure) {
    const taken = timeOfDay(still.taken_at);
    figure = h("figure", { class: "still", dataset: { still: String(still.id) } },
      h("img", { src: still.url, alt: `Camera still from help point ${i.unit_id} at ${taken}`, width: String(still.width), height: String(still.height) }),
      h("figcaption", {}, `Camera still · taken ${taken} · SHA-256 ${still.sha256.slice(0, 12)}…`));
    stillFigures.set(still.id, figure);
  }
  return figure;
}

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
    h("h2", {}, `${i.on_test ? "TEST, NO ACTION NEEDED · " : ""}${i.ref} · ${i.classification_label || ""} · ${i.unit_name}`),
    h("dl", { class: "facts" }, facts.filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    notes.length ? h("div", {}, h("h3", {}, "Operator notes"), h("ul", { class: "notes" }, notes)) : null,
    stillFigure(i),
    form);
}

function render() {
  const items = [...incidents.values()].sort((a, b) => (b.escalated_at || "").localeCompare(a.escalated_at || ""));
  summary.textContent = items.length ? `${items.length} open` : "No incidents escalated to you.";
  replaceChildren(list, items.map(card));
  incidentMap.render(items);
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

function onMessage(message) {
  if (message.type === "snapshot") {
    incidents.clear();
    for (const i of message.incidents) incidents.set(i.id, i);
  } else if (message.type === "incident") {
    const previous = incidents.get(message.incident.id);
    const incident = message.incident;
    if (previous && incident.latest_still === undefined) incident.latest_still = previous.latest_still;
    incidents.set(incident.id, incident);
  } else if (message.type === "closed") {
    incidents.delete(message.id);
  }
  render();
}

function onState(state) {
  link.textContent = state === "online" ? "Live" : state === "connecting" ? "Connecting…" : "Disconnected";
  link.dataset.state = state;
}

new LiveLink("/police/ws", { onMessage, onState }).start();
