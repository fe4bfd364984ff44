// Admin page for safer routes: click the map to draw a line, name it, save it as GeoJSON.
import { api } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const status = $("routes-status");
const textarea = $("route-geojson");
let points = []; // [lat, lng]
let map = null;
let drawing = null;
let saved = null;

function syncFromPoints() {
  textarea.value = points.length
    ? JSON.stringify({ type: "LineString", coordinates: points.map(([lat, lng]) => [lng, lat]) })
    : "";
  if (drawing) drawing.setLatLngs(points);
}

function edit(route) {
  $("route-id").value = route ? route.id : "";
  $("route-name").value = route ? route.properties.name : "";
  $("route-description").value = route ? route.properties.description : "";
  points = route && route.geometry.type === "LineString"
    ? route.geometry.coordinates.map(([lng, lat]) => [lat, lng]) : [];
  syncFromPoints();
  if (route && route.geometry.type !== "LineString") textarea.value = JSON.stringify(route.geometry);
}

async function load() {
  const routes = await api("/api/routes");
  const list = $("routes-list");
  list.replaceChildren();
  for (const route of routes) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = route.properties.name;
    const change = document.createElement("button");
    change.type = "button";
    change.textContent = "Edit";
    change.addEventListener("click", () => edit(route));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.addEventListener("click", async () => {
      await api(`/api/routes/${route.id}`, { method: "DELETE" });
      await load();
    });
    item.append(name, " ", change, " ", remove);
    list.append(item);
  }
  status.textContent = `${routes.length} safer route${routes.length === 1 ? "" : "s"}`;
  if (map) {
    if (saved) saved.remove();
    saved = window.L.geoJSON({ type: "FeatureCollection", features: routes },
      { style: { color: "#0b7a3b", weight: 5 } }).addTo(map);
  }
}

function setUpMap() {
  const el = $("routes-map");
  if (!window.L) return;
  const L = window.L;
  map = L.map(el).setView([52.243, -0.893], 14);
  if (el.dataset.tilesUrl) {
    L.tileLayer(el.dataset.tilesUrl, { attribution: el.dataset.attribution, maxZoom: 19 }).addTo(map);
  }
  drawing = L.polyline([], { color: "#e5484d", weight: 4 }).addTo(map);
  map.on("click", (event) => {
    points.push([event.latlng.lat, event.latlng.lng]);
    syncFromPoints();
  });
}

$("route-undo").addEventListener("click", () => { points.pop(); syncFromPoints(); });
$("route-clear").addEventListener("click", () => edit(null));
$("route-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let geometry;
  try {
    geometry = JSON.parse(textarea.value);
  } catch {
    status.textContent = "The GeoJSON is not valid JSON.";
    return;
  }
  const id = $("route-id").value;
  const body = { name: $("route-name").value, description: $("route-description").value, geometry };
  try {
    await api(id ? `/api/routes/${id}` : "/api/routes", { method: id ? "PUT" : "POST", body });
    edit(null);
    await load();
  } catch (error) {
    status.textContent = `Not saved: ${error.message}`;
  }
});

setUpMap();
load().catch((error) => { status.textContent = `Could not load routes: ${error.message}`; });
