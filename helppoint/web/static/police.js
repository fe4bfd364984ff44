// The police control room's view: escalated incidents live on a map and as cards with the
// unit's camera still; acknowledge with the CAD reference.

import { post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";
import { IncidentMap } from "./police-map.js";
import { LiveLink } from "./live.js";
import { tileOptions } from "./tiles.js";
import { _ } from "./i18n.js";

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
      h("img", { src: still.url, alt: _("Camera still from help point %(unit)s at %(time)s", { unit: i.unit_id, time: taken }), width: String(still.width), height: String(still.height) }),
      h("figcaption", {}, _("Camera still · taken %(time)s · SHA-256 %(hash)s…", { time: taken, hash: still.sha256.slice(0, 12) })));
    stillFigures.set(still.id, figure);
  }
  return figure;
}

function card(i) {
  const r = i.police_response || {};
  const facts = [
    [_("Help point"), `${i.unit_name} (${i.unit_id})${i.unit_description ? `, ${i.unit_description}` : ""}`],
    [_("Location"), i.latitude != null ? `${i.latitude.toFixed(5)}, ${i.longitude.toFixed(5)}` : _("unknown")],
    [_("Classification"), i.classification_label || ""],
    [_("Activated"), dateTime(i.opened_at)],
    [_("Police called"), r.called_at ? _("%(time)s by %(name)s", { time: timeOfDay(r.called_at), name: r.called_by }) : ""],
    [_("Acknowledged"), r.acknowledged_at ? _("%(time)s by %(name)s", { time: timeOfDay(r.acknowledged_at), name: r.acknowledged_by }) : _("not yet")],
    [_("Your reference"), r.cad_reference || ""],
    [_("On scene"), r.on_scene_at ? timeOfDay(r.on_scene_at) : ""],
  ];
  const notes = (i.notes || []).map((n) => h("li", {}, h("span", { class: "who" }, `${timeOfDay(n.at)} ${n.author}: `), n.text));
  let form = null;
  if (!r.acknowledged_at) {
    const input = h("input", { id: `ref-${i.id}`, name: "reference", maxlength: "64", required: true, placeholder: "e.g. NP-20261125-0421", value: drafts.get(i.id) || "" });
    input.addEventListener("input", () => drafts.set(i.id, input.value));
    form = h("form", { class: "row police-ack", onsubmit: (event) => acknowledge(event, i.id, input) },
      h("label", { for: `ref-${i.id}` }, _("Log / CAD reference")),
      input,
      h("button", { type: "submit", class: "primary" }, _("Acknowledge")));
  }
  return h("li", { class: `police-incident${r.acknowledged_at ? " acknowledged" : ""}`, dataset: { id: String(i.id) } },
    h("h2", {}, `${i.on_test ? "TEST, NO ACTION NEEDED · " : ""}${i.ref} · ${i.classification_label || ""} · ${i.unit_name}`),
    h("dl", { class: "facts" }, facts.filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    notes.length ? h("div", {}, h("h3", {}, _("Operator notes")), h("ul", { class: "notes" }, notes)) : null,
    stillFigure(i),
    form);
}

function render() {
  const items = [...incidents.values()].sort((a, b) => (b.escalated_at || "").localeCompare(a.escalated_at || ""));
  summary.textContent = items.length ? _("%(count)s open", { count: items.length }) : _("No incidents escalated to you.");
  replaceChildren(list, items.map(card));
  incidentMap.render(items);
}

async function acknowledge(event, id, input) {
  event.preventDefault();
  try {
    await post(`/api/police/incidents/${id}/acknowledge`, { reference: input.value });
    drafts.delete(id);
    toast(_("Acknowledged: the control room can see it."), "info", _("Acknowledged"));
  } catch (error) {
    toastError(error, _("Could not acknowledge"));
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
  link.textContent = state === "online" ? _("Live") : state === "connecting" ? _("Connecting…") : _("Disconnected");
  link.dataset.state = state;
}

new LiveLink("/police/ws", { onMessage, onState }).start();
