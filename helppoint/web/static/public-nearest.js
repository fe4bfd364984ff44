// "Nearest help point": asks for the phone's position only when the button is pressed, and
// works out the nearest help point and a walking route here, in the browser. The position is
// never sent anywhere: the units and routes are the public GeoJSON files (cached for offline
// use by the service worker), fetched without it.

import { compass, bearing, nearest } from "./nearest-core.js";

const box = document.getElementById("nearest");

function say(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : ""));
}

function metresText(metres) {
  const lang = document.documentElement.lang || "en";
  const t = box.dataset;
  if (metres < 1000) {
    const rounded = Math.max(10, Math.round(metres / 10) * 10);
    return say(t.metres, { n: new Intl.NumberFormat(lang).format(rounded) });
  }
  const km = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(metres / 1000);
  return say(t.km, { n: km });
}

async function geojson(path) {
  const response = await fetch(path, { headers: { Accept: "application/geo+json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function position() {
  return new Promise((resolve, reject) => {
    navigator.geolocation.getCurrentPosition(resolve, reject, {
      enableHighAccuracy: true,
      timeout: 20000,
      maximumAge: 60000,
    });
  });
}

// Draws "you are here" and the route on the public map when the page has one.
function draw(here, found) {
  const mapEl = document.getElementById("public-map");
  const map = mapEl && mapEl.leafletMap;
  const L = window.L;
  if (!map || !L) return;
  if (mapEl.nearestLayer) mapEl.nearestLayer.remove();
  const layer = L.layerGroup();
  for (const leg of found.route.legs) {
    const latlngs = leg.points.map((p) => [p[1], p[0]]);
    L.polyline(latlngs, {
      color: leg.onRoute ? "#0b7a3b" : "#0b4fa8",
      weight: leg.onRoute ? 7 : 4,
      dashArray: leg.onRoute ? null : "8 8",
      className: leg.onRoute ? "pub-walk-safer" : "pub-walk-straight",
    }).addTo(layer);
  }
  const span = document.createElement("span");
  span.textContent = box.dataset.here;
  L.circleMarker([here[1], here[0]], {
    radius: 9,
    color: "#1b1f24",
    weight: 3,
    fillColor: "#ffbf47",
    fillOpacity: 1,
    className: "pub-you-are-here",
  })
    .bindTooltip(span, { permanent: true, direction: "top" })
    .addTo(layer);
  layer.addTo(map);
  mapEl.nearestLayer = layer;
  const points = found.route.legs.flatMap((leg) => leg.points.map((p) => [p[1], p[0]]));
  points.push([here[1], here[0]]);
  map.fitBounds(L.latLngBounds(points), { padding: [30, 30], maxZoom: 17 });
}

function show(here, found) {
  const t = box.dataset;
  const out = document.getElementById("nearest-result");
  out.replaceChildren();
  if (!found) {
    out.textContent = t.none;
    return;
  }
  const p = found.feature.properties;
  const first = document.createElement("p");
  const link = document.createElement("a");
  link.href = p.url;
  link.textContent = p.name;
  const [before, after] = say(t.result, {
    name: "\u0000",
    distance: metresText(found.straightMetres),
    direction: t[`dir${compass(bearing(here, found.feature.geometry.coordinates))}`],
  }).split("\u0000");
  first.append(before, link, after || "");
  const second = document.createElement("p");
  second.textContent = say(t.route, {
    distance: metresText(found.route.metres),
    safer: metresText(found.route.onRouteMetres),
  });
  out.append(first, second);
  if (!p.in_service) {
    const warn = document.createElement("p");
    warn.textContent = t.out;
    out.append(warn);
  }
  box.dataset.found = found.feature.id || p.id;
  draw(here, found);
}

async function find() {
  const t = box.dataset;
  const status = document.getElementById("nearest-status");
  status.textContent = t.locating;
  let here;
  try {
    const fix = await position();
    here = [fix.coords.longitude, fix.coords.latitude];
  } catch (error) {
    status.textContent = error && error.code === 1 ? t.denied : t.unavailable;
    return;
  }
  try {
    const block = document.getElementById("public-data");
    const inline = block ? JSON.parse(block.textContent) : null;
    const [units, routes] = inline
      ? [inline.units, inline.routes]
      : await Promise.all([
          geojson("/public/help-points.geojson"),
          geojson("/public/routes.geojson"),
        ]);
    status.textContent = "";
    show(here, nearest(here, units, routes));
  } catch (error) {
    status.textContent = t.unavailable;
    box.dataset.error = String(error);
  }
}

if (box) {
  const button = document.getElementById("nearest-button");
  if (!("geolocation" in navigator)) {
    button.disabled = true;
    document.getElementById("nearest-status").textContent = box.dataset.unavailable;
  } else {
    button.addEventListener("click", () => {
      find();
    });
  }
}
