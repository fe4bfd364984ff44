// Public map of help points and safer routes (Leaflet as the global L). Units are vector
// circle markers, so the map is useful even when no tile can be fetched; the page also lists
// every unit and route as plain text, so nothing depends on the map.

import { tileOptions } from "./tiles.js";

const el = document.getElementById("public-map");

async function geojson(path) {
  const response = await fetch(path, { headers: { Accept: "application/geo+json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Names are set as text, never as HTML: Leaflet would otherwise parse a string as markup.
function label(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

function popup(properties) {
  const box = document.createElement("div");
  const link = document.createElement("a");
  link.href = properties.url;
  link.textContent = properties.name;
  const state = document.createElement("div");
  // In the page's language: the labels are in the map's data-state-labels.
  const labels = JSON.parse(el.dataset.stateLabels || "{}");
  state.textContent = labels[properties.status] || properties.state;
  box.append(link, state);
  return box;
}

// The units and routes come in the page (public-data); fetched only when a page has none.
export function pageData() {
  const block = document.getElementById("public-data");
  return block ? JSON.parse(block.textContent) : null;
}

// Leaflet's stylesheet is loaded as print-only so it does not hold the first paint back.
function leafletStyles() {
  const css = document.getElementById("leaflet-css");
  if (!css || css.media === "all") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      css.media = "all";
      resolve();
    };
    if (css.sheet) done();
    else {
      css.addEventListener("load", done, { once: true });
      css.addEventListener("error", done, { once: true });
    }
  });
}

async function main() {
  if (!el || !window.L) return;
  await leafletStyles();
  const L = window.L;
  // The plain map the server drew in the page (web/plain_map.py) gives way to this one.
  document.getElementById("plain-map")?.remove();
  const map = L.map(el, { scrollWheelZoom: false }).setView([52.24, -0.89], 14);
  map.attributionControl.setPrefix("Leaflet");
  if (el.dataset.tilesUrl) {
    L.tileLayer(el.dataset.tilesUrl, tileOptions(el.dataset)).addTo(map);
  }
  const inline = pageData();
  const [units, routes] = inline
    ? [inline.units, inline.routes]
    : await Promise.all([geojson("/public/help-points.geojson"), geojson("/public/routes.geojson")]);
  const layers = [];
  const routeLayer = L.geoJSON(routes, {
    style: { color: "#0b7a3b", weight: 6, opacity: 0.85 },
    onEachFeature: (feature, layer) => layer.bindTooltip(label(feature.properties.name)),
  }).addTo(map);
  layers.push(routeLayer);
  const unitLayer = L.geoJSON(units, {
    pointToLayer: (feature, latlng) =>
      L.circleMarker(latlng, {
        radius: 10,
        color: "#ffffff",
        weight: 3,
        fillColor: feature.properties.in_service ? "#0b4fa8" : "#6b7079",
        fillOpacity: 1,
        className: "pub-unit-marker",
      }),
    onEachFeature: (feature, layer) => {
      layer.bindPopup(popup(feature.properties));
      layer.bindTooltip(label(feature.properties.name));
    },
  }).addTo(map);
  layers.push(unitLayer);
  const bounds = L.featureGroup(layers).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
  el.leafletMap = map; // for "nearest help point" (public-nearest.js)
  // The "you are here" form takes the map's centre when asked (never the phone's position).
  const centre = document.getElementById("here-centre");
  if (centre) {
    centre.hidden = false;
    centre.addEventListener("click", () => {
      const c = map.getCenter();
      document.getElementById("here-lat").value = c.lat.toFixed(5);
      document.getElementById("here-lon").value = c.lng.toFixed(5);
    });
  }
  el.dataset.ready = String(units.features.length);
}

main().catch((error) => {
  if (el) el.dataset.error = String(error);
});
