// The public pages' service worker, served as /sw.js (docs/public-pages.md). It keeps a copy
// of the map page, the public list of help points and safer routes, the scripts and styles
// they need, every unit page visited and the map tiles this server serves, so all of them open
// with no network. Pages and data: network first (always the latest when online), the copy
// when offline. Scripts and styles: the copy at once, refreshed behind. It touches nothing
// else: the console, admin and police pages, and every POST, go straight to the network.

const VERSION = "helppoint-public-v1";
const TILES = "helppoint-tiles-v1";
const MAX_TILES = 600;
const SHELL = [
  "/help-points",
  "/public/help-points.geojson",
  "/public/routes.geojson",
  "/static/leaflet/leaflet.css",
  "/static/leaflet/leaflet.js",
  "/static/public-map.js",
  "/static/tiles.js",
  "/static/public-nearest.js",
  "/static/nearest-core.js",
  "/static/public-sw-register.js",
  "/static/favicon.svg",
];
const PAGES = /^\/(help-points$|p\/[^/]+$|public\/[a-z-]+\.geojson$|open-data$)/;
const ASSETS = /^\/static\/(public[\w.-]*|nearest-core\.js|tiles\.js|favicon\.svg|leaflet\/.*)$/;
const TILE_PATH = /^\/map\/tiles\//;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(VERSION)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n !== VERSION && n !== TILES).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const copy = await cache.match(request, { ignoreVary: true, ignoreSearch: false });
    if (copy) return copy;
    // A unit page never visited, or with another query: the page without its query, if kept.
    const plain = await cache.match(new URL(request.url).pathname, { ignoreVary: true });
    if (plain) return plain;
    throw error;
  }
}

async function cacheFirstRefreshed(request) {
  const cache = await caches.open(VERSION);
  const copy = await cache.match(request, { ignoreVary: true });
  const fresh = fetch(request)
    .then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    })
    .catch(() => undefined);
  return copy || (await fresh) || Response.error();
}

async function tile(request) {
  const cache = await caches.open(TILES);
  const copy = await cache.match(request);
  if (copy) return copy;
  const response = await fetch(request);
  if (response.ok) {
    await cache.put(request, response.clone());
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_TILES))) await cache.delete(old);
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (PAGES.test(url.pathname)) event.respondWith(networkFirst(request));
  else if (ASSETS.test(url.pathname)) event.respondWith(cacheFirstRefreshed(request));
  else if (TILE_PATH.test(url.pathname)) event.respondWith(tile(request));
});
