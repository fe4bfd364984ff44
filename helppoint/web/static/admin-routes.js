// Admin page for safer routes: click the map to draw a line, or paste GeoJSON (drawn as it is
// typed), name it, save it. The map shows the help points and fits them; a route the server
// finds far from every unit (or drawn as [lat, lon]) is refused until confirmed.
import { api } from "/static/api.js";
import { tileOptions } from "/static/tiles.js";
import { _, ngettext } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const status = $("routes-status");
const result = $("route-result");
const textarea = $("route-geojson");
const confirmBox = $("route-confirm");
const confirmField = $("route-confirm-field");
const note = $("routes-map-note");
let points = []; // [lat, lng]
let map = null;
let drawing = null; // the route being edited, as drawn
let saved = null; // every saved route
let unitBounds = null;

function lines(geometry) {
  if (!geometry || typeof geometry !== "object") return [];
  const g = geometry.type === "Feature" ? geometry.geometry : geometry;
  if (!g) return [];
  if (g.type === "LineString") return [g.coordinates];
  if (g.type === "MultiLineString") return g.coordinates;
  return [];
}

// What the textarea holds, drawn on the map ([lon, lat] pairs as GeoJSON has them).
function drawText() {
  if (!drawing) return;
  let geometry = null;
  try {
    geometry = JSON.parse(textarea.value || "null");
  } catch {
    geometry = null;
  }
  const latLngs = lines(geometry).map((line) =>
    Array.isArray(line)
      ? line.filter((p) => Array.isArray(p) && p.length >= 2).map(([lng, lat]) => [lat, lng])
      : [],
  );
  drawing.setLatLngs(latLngs);
}

function syncFromPoints() {
  textarea.value = points.length
    ? JSON.stringify({ type: "LineString", coordinates: points.map(([lat, lng]) => [lng, lat]) })
    : "";
  drawText();
}

function needConfirmation(show) {
  confirmField.hidden = !show;
  if (!show) confirmBox.checked = false;
}

function edit(route) {
  $("route-id").value = route ? route.id : "";
  $("route-name").value = route ? route.properties.name : "";
  $("route-description").value = route ? route.properties.description : "";
  points = route && route.geometry.type === "LineString"
    ? route.geometry.coordinates.map(([lng, lat]) => [lat, lng]) : [];
  syncFromPoints();
  if (route && route.geometry.type !== "LineString") {
    textarea.value = JSON.stringify(route.geometry);
    drawText();
  }
  needConfirmation(false);
}

function fit(layer) {
  if (!map) return;
  const bounds = layer && layer.getBounds ? layer.getBounds() : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds.pad(0.2), { maxZoom: 17 });
  else if (unitBounds && unitBounds.isValid()) map.fitBounds(unitBounds.pad(0.2), { maxZoom: 16 });
}

function showDrawing() {
  if (!map || !drawing) return;
  const bounds = drawing.getBounds();
  if (!bounds.isValid()) return;
  const all = unitBounds && unitBounds.isValid() ? bounds.extend(unitBounds) : bounds;
  map.fitBounds(all.pad(0.2), { maxZoom: 17 });
}

async function load(show = null) {
  const routes = await api("/api/routes");
  const list = $("routes-list");
  list.replaceChildren();
  for (const route of routes) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = route.properties.name;
    const change = document.createElement("button");
    change.type = "button";
    change.textContent = _("Edit");
    change.setAttribute("aria-label", _("Edit %(name)s", { name: route.properties.name }));
    change.addEventListener("click", () => {
      edit(route);
      fit(drawing);
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = _("Delete");
    remove.setAttribute("aria-label", _("Delete %(name)s", { name: route.properties.name }));
    remove.addEventListener("click", async () => {
      await api(`/api/routes/${route.id}`, { method: "DELETE" });
      await load();
    });
    item.append(name, " ", change, " ", remove);
    list.append(item);
  }
  if (!routes.length) {
    const none = document.createElement("li");
    none.className = "none-yet";
    none.textContent = _("None yet: draw the first one on the map.");
    list.append(none);
  }
  status.textContent = ngettext("%(num)s safer route", "%(num)s safer routes", routes.length);
  if (map) {
    if (saved) saved.remove();
    saved = window.L.geoJSON({ type: "FeatureCollection", features: routes },
      { style: { color: "#0b7a3b", weight: 5 } }).addTo(map);
    if (show) {
      const shown = saved.getLayers().find((layer) => layer.feature && layer.feature.id === show);
      fit(shown);
    }
  }
}

async function showUnits(L) {
  // Every unit in the scheme (retired ones are not listed), so a route is drawn among them.
  const units = await api("/api/units");
  const markers = units.map((unit) =>
    L.circleMarker([unit.latitude, unit.longitude], {
      radius: 7, color: "#ffffff", weight: 2, fillColor: "#0b4fa8", fillOpacity: 1,
    }).bindTooltip(`${unit.id} ${unit.name}`),
  );
  const group = L.featureGroup(markers).addTo(map);
  unitBounds = markers.length ? group.getBounds() : null;
  map.getContainer().dataset.units = String(markers.length);
  fit(null);
}

function setUpMap() {
  const el = $("routes-map");
  if (!window.L) return;
  const L = window.L;
  map = L.map(el).setView([52.243, -0.893], 14);
  if (el.dataset.tilesUrl) {
    const tiles = L.tileLayer(el.dataset.tilesUrl, tileOptions(el.dataset));
    tiles.on("tileerror", () => {
      note.hidden = false;
      note.textContent = _("Map background unavailable (tiles cannot be loaded). Help points and routes are still shown.");
    });
    tiles.on("tileload", () => { note.hidden = true; });
    tiles.addTo(map);
  }
  drawing = L.polyline([], { color: "#e5484d", weight: 4 }).addTo(map);
  map.on("click", (event) => {
    points.push([event.latlng.lat, event.latlng.lng]);
    syncFromPoints();
  });
  showUnits(L).catch((error) => { note.hidden = false; note.textContent = _("Help points not shown: %(error)s", { error: error.message }); });
}

textarea.addEventListener("input", () => {
  // Typed or pasted GeoJSON is drawn as it stands, and brought into view with the units (a
  // line in the wrong place shows as far away); clicks then go on from a LineString.
  drawText();
  showDrawing();
  try {
    const g = JSON.parse(textarea.value);
    const [line] = lines(g);
    points = line && lines(g).length === 1 ? line.map(([lng, lat]) => [lat, lng]) : [];
  } catch {
    points = [];
  }
});
$("route-undo").addEventListener("click", () => { points.pop(); syncFromPoints(); });
$("route-clear").addEventListener("click", () => { edit(null); result.textContent = ""; });
$("route-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let geometry;
  try {
    geometry = JSON.parse(textarea.value);
  } catch {
    result.textContent = _("The GeoJSON is not valid JSON.");
    return;
  }
  const id = $("route-id").value;
  const body = {
    name: $("route-name").value,
    description: $("route-description").value,
    geometry,
    confirm_place: confirmBox.checked,
  };
  try {
    const route = await api(id ? `/api/routes/${id}` : "/api/routes", { method: id ? "PUT" : "POST", body });
    result.textContent = _("Saved \"%(name)s\".", { name: route.properties.name });
    edit(null);
    await load(route.id);
  } catch (error) {
    result.textContent = _("Not saved: %(error)s", { error: error.message });
    needConfirmation(/confirm the place/.test(error.message));
  }
});

setUpMap();
load().catch((error) => { status.textContent = _("Could not load routes: %(error)s", { error: error.message }); });
