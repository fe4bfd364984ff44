// The nearest help point and a walking route to it, worked out in the browser alone: the
// visitor's position never leaves the phone (docs/public-pages.md). Pure functions, no DOM.
//
// The route follows the scheme's safer routes where they go: it is the cheapest path through a
// small graph whose edges are the routes' own segments (cost = length) and straight "as the
// crow flies" links (cost = length × OFF_ROUTE_FACTOR) from where you stand onto each route,
// between routes, and from each route to the help point. There is no street network, so the
// straight parts are said to be straight.

export const OFF_ROUTE_FACTOR = 1.5;
const EARTH_RADIUS = 6371008.8; // metres (mean radius)

// Great-circle distance in metres between [lon, lat] positions.
export function distance(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS * Math.asin(Math.min(1, Math.sqrt(h)));
}

// Compass bearing in degrees (0 = north, clockwise) from a to b.
export function bearing(a, b) {
  const rad = Math.PI / 180;
  const y = Math.sin((b[0] - a[0]) * rad) * Math.cos(b[1] * rad);
  const x =
    Math.cos(a[1] * rad) * Math.sin(b[1] * rad) -
    Math.sin(a[1] * rad) * Math.cos(b[1] * rad) * Math.cos((b[0] - a[0]) * rad);
  return ((Math.atan2(y, x) / rad) + 360) % 360;
}

// One of 8 compass points: "n", "ne", "e", "se", "s", "sw", "w", "nw".
export function compass(degrees) {
  return ["n", "ne", "e", "se", "s", "sw", "w", "nw"][Math.round(degrees / 45) % 8];
}

// Units (GeoJSON features) by straight-line distance from `here`; those in service first
// when any is.
export function byDistance(here, features) {
  const ranked = features
    .filter((f) => f.geometry && f.geometry.type === "Point")
    .map((f) => ({ feature: f, metres: distance(here, f.geometry.coordinates) }))
    .sort((a, b) => a.metres - b.metres);
  const working = ranked.filter((r) => r.feature.properties.in_service);
  return working.length ? working : ranked;
}

// The lines of a routes FeatureCollection, as arrays of [lon, lat].
export function linesOf(routes) {
  const lines = [];
  for (const feature of routes.features || []) {
    const g = feature.geometry || {};
    if (g.type === "LineString") lines.push(g.coordinates);
    if (g.type === "MultiLineString") lines.push(...g.coordinates);
  }
  return lines.filter((line) => line.length >= 2);
}

// A local flat projection in metres around `origin` (good to a few metres across a town).
function projector(origin) {
  const rad = Math.PI / 180;
  const kx = Math.cos(origin[1] * rad) * rad * EARTH_RADIUS;
  const ky = rad * EARTH_RADIUS;
  return (p) => [(p[0] - origin[0]) * kx, (p[1] - origin[1]) * ky];
}

function closestOnSegment(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  const t = length2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2)) : 0;
  const point = [a[0] + t * dx, a[1] + t * dy];
  return { t, point, metres: Math.hypot(point[0] - p[0], point[1] - p[1]) };
}

// The closest point of a line (array of [lon, lat]) to p: its segment index, and the point.
function closestOnLine(p, line, xy) {
  let best = null;
  for (let i = 0; i + 1 < line.length; i += 1) {
    const found = closestOnSegment(xy(p), xy(line[i]), xy(line[i + 1]));
    if (!best || found.metres < best.metres) best = { ...found, index: i };
  }
  const a = line[best.index];
  const b = line[best.index + 1];
  return { ...best, lonlat: [a[0] + best.t * (b[0] - a[0]), a[1] + best.t * (b[1] - a[1])] };
}

// The walking route from `from` to `to` ([lon, lat]) over the safer routes' `lines`:
// { legs: [{ onRoute, points: [[lon, lat]…] }], metres, onRouteMetres }.
export function walkingRoute(from, to, lines, factor = OFF_ROUTE_FACTOR) {
  const xy = projector(from);
  const nodes = [];
  const edges = [];
  const node = (lonlat) => {
    nodes.push(lonlat);
    edges.push([]);
    return nodes.length - 1;
  };
  const link = (a, b, onRoute) => {
    const metres = distance(nodes[a], nodes[b]);
    const cost = onRoute ? metres : metres * factor;
    edges[a].push({ to: b, metres, cost, onRoute });
    edges[b].push({ to: a, metres, cost, onRoute });
  };
  const start = node(from);
  const end = node(to);
  link(start, end, false);
  const vertexIds = lines.map((line) => {
    const ids = line.map((p) => node(p));
    for (let i = 0; i + 1 < ids.length; i += 1) link(ids[i], ids[i + 1], true);
    return ids;
  });
  // Join each line where it passes closest to the start and to the end.
  lines.forEach((line, n) => {
    for (const [point, endpoint] of [[from, start], [to, end]]) {
      const near = closestOnLine(point, line, xy);
      const joint = node(near.lonlat);
      link(joint, vertexIds[n][near.index], true);
      link(joint, vertexIds[n][near.index + 1], true);
      link(endpoint, joint, false);
    }
  });
  // Change from one line to another: each line's ends to the closest point of every other.
  lines.forEach((line, n) => {
    for (const end of [0, line.length - 1]) {
      lines.forEach((other, m) => {
        if (m === n) return;
        const near = closestOnLine(line[end], other, xy);
        const joint = node(near.lonlat);
        link(joint, vertexIds[m][near.index], true);
        link(joint, vertexIds[m][near.index + 1], true);
        link(vertexIds[n][end], joint, false);
      });
    }
  });
  // Dijkstra (the graph is small: a few nodes per route point).
  const cost = new Array(nodes.length).fill(Infinity);
  const back = new Array(nodes.length).fill(null);
  const done = new Array(nodes.length).fill(false);
  cost[start] = 0;
  for (;;) {
    let u = -1;
    for (let i = 0; i < nodes.length; i += 1) {
      if (!done[i] && cost[i] < Infinity && (u < 0 || cost[i] < cost[u])) u = i;
    }
    if (u < 0 || u === end) break;
    done[u] = true;
    for (const e of edges[u]) {
      if (cost[u] + e.cost < cost[e.to]) {
        cost[e.to] = cost[u] + e.cost;
        back[e.to] = { from: u, edge: e };
      }
    }
  }
  const steps = [];
  for (let at = end; back[at]; at = back[at].from) steps.unshift(back[at]);
  const legs = [];
  let metres = 0;
  let onRouteMetres = 0;
  for (const step of steps) {
    if (step.edge.metres < 0.5) continue; // a joint on a vertex
    metres += step.edge.metres;
    if (step.edge.onRoute) onRouteMetres += step.edge.metres;
    const last = legs[legs.length - 1];
    if (last && last.onRoute === step.edge.onRoute) last.points.push(nodes[step.edge.to]);
    else legs.push({ onRoute: step.edge.onRoute, points: [nodes[step.from], nodes[step.edge.to]] });
  }
  return { legs, metres, onRouteMetres };
}

// The nearest help point by walking (of the `candidates` nearest as the crow flies), with
// its route: { feature, route, straightMetres }, or null when there is no unit.
export function nearest(here, units, routes, candidates = 3) {
  const lines = linesOf(routes);
  let best = null;
  for (const ranked of byDistance(here, units.features || []).slice(0, candidates)) {
    const route = walkingRoute(here, ranked.feature.geometry.coordinates, lines);
    if (!best || route.metres < best.route.metres) {
      best = { feature: ranked.feature, route, straightMetres: ranked.metres };
    }
  }
  return best;
}
