// Map of the units (Leaflet, loaded as the global L from /static/leaflet/leaflet.js).
// Units are vector circle markers, so they show even when no map tile can be fetched.
// In a storm the map stays readable: alarms that would overlap on screen are drawn as one
// cluster with their count, only the selected unit carries a permanent label, and every alarm
// is brought into view when a new one arrives off the edge.

import { N_, _ } from "./i18n.js";

const STATUS_STYLE = {
  alarm: { radius: 11, fillColor: "#e5484d", color: "#ffffff", weight: 2, fillOpacity: 0.95, dashArray: null },
  tamper: { radius: 10, fillColor: "#f5a623", color: "#ffffff", weight: 2, fillOpacity: 0.95, dashArray: null },
  connected: { radius: 8, fillColor: "#3fb950", color: "#ffffff", weight: 2, fillOpacity: 0.9, dashArray: null },
  offline: { radius: 8, fillColor: "#7d8590", color: "#c9d1d9", weight: 2, fillOpacity: 0.35, dashArray: "3 3" },
};

export const STATUS_LABELS = {
  alarm: N_("Alarm"),
  tamper: N_("Tamper"),
  connected: N_("Connected"),
  offline: N_("Offline"),
};

/** A unit's status from its link and its most urgent open incident (if any). */
export function unitStatus(unit, incident) {
  if (incident && incident.kind === "activation") return "alarm";
  if (incident && incident.kind === "tamper") return "tamper";
  return unit.connected ? "connected" : "offline";
}

/** Alarms closer than this on screen (pixels) are drawn as one cluster. */
const CLUSTER_RADIUS_PX = 26;

/**
 * Group points on screen: each point joins the first cluster whose first member is within
 * `radius` pixels, else starts one. points: [{id, x, y}]; returns [[id, …], …].
 */
export function clusterPoints(points, radius = CLUSTER_RADIUS_PX) {
  const clusters = [];
  for (const p of points) {
    const near = clusters.find((c) => Math.hypot(c.x - p.x, c.y - p.y) <= radius);
    if (near) near.ids.push(p.id);
    else clusters.push({ x: p.x, y: p.y, ids: [p.id] });
  }
  return clusters.map((c) => c.ids);
}

export class UnitMap {
  /** el: the map container; note: element for "tiles unavailable"; onUnitClick(unitId). */
  constructor(el, note, { tilesUrl, tileOptions, onUnitClick }) {
    this.el = el;
    this.note = note;
    this.onUnitClick = onUnitClick;
    this.markers = new Map();
    this.highlighted = null;
    this.fitted = false;
    this.map = null;
    this.clusters = []; // L.Marker per drawn cluster
    this.alarmIds = new Set();
    this.fittedView = null; // the view fitAll() set, while nothing changed it
    this.clustersDrawn = null; // what the drawn clusters were computed from (clusterKey())
    if (!window.L) {
      this.showNote(_("The map library did not load; unit states are listed below."));
      return;
    }
    const L = window.L;
    this.map = L.map(el, {
      zoomControl: true,
      attributionControl: true,
      // SVG keeps each marker a real element (class and data-unit attributes, accessible names).
      preferCanvas: false,
    }).setView([54.0, -2.0], 5);
    this.map.attributionControl.setPrefix("Leaflet");
    this.map.on("zoomend", () => this.drawClusters());
    // The pane's size settles after fonts and lists render; keep Leaflet's idea of it right,
    // and fit the units again once, unless the view was changed since the first fit (by the
    // operator, or to show an alarm): that view is kept.
    let refitPending = true;
    new ResizeObserver(() => {
      const untouched = this.fittedView && this.map.getZoom() === this.fittedView.zoom
        && this.map.getCenter().equals(this.fittedView.center);
      this.map.invalidateSize();
      if (refitPending && this.fitted && untouched) {
        refitPending = false;
        this.fitAll();
      }
    }).observe(el);
    if (tilesUrl) {
      const tiles = L.tileLayer(tilesUrl, { ...tileOptions, crossOrigin: false });
      let errors = 0;
      tiles.on("tileerror", () => {
        errors += 1;
        if (errors === 1) {
          this.showNote(_("Map background unavailable (tiles cannot be loaded). Unit positions are still shown."));
        }
      });
      tiles.on("tileload", () => {
        if (errors === 0) this.hideNote();
      });
      tiles.addTo(this.map);
    } else {
      this.showNote(_("No map background configured. Unit positions are shown."));
    }
  }

  showNote(text) {
    if (!this.note) return;
    this.note.textContent = text;
    this.note.hidden = false;
  }

  hideNote() {
    if (this.note) this.note.hidden = true;
  }

  /** Draw or update every unit: units is [{id, name, latitude, longitude, connected}], status by id. */
  render(units, statusById) {
    if (!this.map) return;
    const L = window.L;
    const seen = new Set();
    for (const unit of units) {
      if (typeof unit.latitude !== "number" || typeof unit.longitude !== "number") continue;
      seen.add(unit.id);
      const status = statusById.get(unit.id) || "offline";
      let entry = this.markers.get(unit.id);
      if (!entry) {
        const marker = L.circleMarker([unit.latitude, unit.longitude], {
          ...STATUS_STYLE[status],
          className: "unit-marker",
        });
        marker.on("click", () => this.onUnitClick(unit.id));
        marker.addTo(this.map);
        entry = { marker, status: null, labelPermanent: null };
        this.markers.set(unit.id, entry);
      } else {
        // Moving a marker redraws its path: only when the unit did move, not on every batch.
        const at = entry.marker.getLatLng();
        if (at.lat !== unit.latitude || at.lng !== unit.longitude) {
          entry.marker.setLatLng([unit.latitude, unit.longitude]);
          this.clustersDrawn = null;
        }
      }
      entry.unit = unit;
      if (entry.status !== status) {
        entry.status = status;
        this.applyStyle(unit.id);
      }
    }
    for (const [id, entry] of this.markers) {
      if (!seen.has(id)) {
        entry.marker.remove();
        this.markers.delete(id);
      }
    }
    if (!this.fitted && this.markers.size) {
      this.fitted = true;
      this.fitAll();
    }
    const alarms = new Set([...this.markers].filter(([, e]) => e.status === "alarm").map(([id]) => id));
    const arrived = [...alarms].some((id) => !this.alarmIds.has(id));
    this.alarmIds = alarms;
    if (arrived) this.showAlarms();
    this.drawClusters();
  }

  /** Bring every alarm into view, when one is off the edge (zooming out, never in). */
  showAlarms() {
    if (!this.map || !this.alarmIds.size) return;
    const points = [...this.alarmIds].map((id) => this.markers.get(id).marker.getLatLng());
    const view = this.map.getBounds();
    if (points.every((p) => view.contains(p))) return;
    const bounds = window.L.latLngBounds(points);
    if (this.highlighted && this.markers.has(this.highlighted)) bounds.extend(this.markers.get(this.highlighted).marker.getLatLng());
    this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: this.map.getZoom() });
  }

  /** What the clusters depend on: the alarms (but the selected one), their names, the zoom. */
  clusterKey() {
    const alarms = [...this.alarmIds].filter((id) => id !== this.highlighted).sort();
    return JSON.stringify([this.map.getZoom(), alarms, alarms.map((id) => this.markers.get(id).unit.name)]);
  }

  /**
   * Draw alarms that overlap on screen as one cluster with their count (not the selected one).
   * Drawn again only when what they depend on changed: a storm's batches of pushes about
   * judgements and stills change no marker.
   */
  drawClusters() {
    if (!this.map) return;
    const key = this.clusterKey();
    if (key === this.clustersDrawn) return;
    this.clustersDrawn = key;
    const L = window.L;
    for (const cluster of this.clusters) cluster.remove();
    this.clusters = [];
    const points = [...this.alarmIds]
      .filter((id) => id !== this.highlighted)
      .map((id) => {
        const point = this.map.latLngToLayerPoint(this.markers.get(id).marker.getLatLng());
        return { id, x: point.x, y: point.y };
      });
    const grouped = clusterPoints(points);
    const clustered = new Set();
    for (const ids of grouped) {
      if (ids.length < 2) continue;
      for (const id of ids) clustered.add(id);
      const latLngs = ids.map((id) => this.markers.get(id).marker.getLatLng());
      const bounds = L.latLngBounds(latLngs);
      const names = ids.map((id) => this.markers.get(id).unit.name);
      const badge = document.createElement("span");
      badge.textContent = String(ids.length);
      const icon = L.divIcon({ className: "alarm-cluster", html: badge, iconSize: [34, 34] });
      const marker = L.marker(bounds.getCenter(), {
        icon,
        keyboard: true,
        title: `${ids.length} alarms: ${names.join(", ")}`,
        alt: `${ids.length} alarms`,
        zIndexOffset: 1000,
      });
      // A click zooms in until the alarms come apart.
      marker.on("click", () => this.map.fitBounds(bounds.pad(0.5), { maxZoom: 19 }));
      marker.addTo(this.map);
      const el = marker.getElement();
      if (el) {
        el.dataset.count = String(ids.length);
        el.dataset.units = ids.join(" ");
      }
      this.clusters.push(marker);
    }
    for (const [id, entry] of this.markers) {
      const path = entry.marker.getElement();
      if (path) path.classList.toggle("clustered", clustered.has(id));
    }
  }

  /** Zoom to show every unit. */
  fitAll() {
    if (!this.map || !this.markers.size) return;
    this.map.invalidateSize();
    const bounds = window.L.latLngBounds([...this.markers.values()].map((e) => e.marker.getLatLng()));
    this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: false });
    this.fittedView = { zoom: this.map.getZoom(), center: this.map.getCenter() };
  }

  applyStyle(unitId) {
    const entry = this.markers.get(unitId);
    if (!entry) return;
    const base = STATUS_STYLE[entry.status];
    const selected = unitId === this.highlighted;
    entry.marker.setStyle(
      selected ? { ...base, color: "#ffd84d", weight: 5 } : base,
    );
    entry.marker.setRadius(selected ? base.radius + 5 : base.radius);
    const path = entry.marker.getElement();
    if (path) {
      path.dataset.unit = unitId;
      path.dataset.status = entry.status;
      path.classList.toggle("selected", selected);
      path.setAttribute("aria-label", `${entry.unit.name}: ${_(STATUS_LABELS[entry.status])}`);
    }
    // A name always on screen only for the selected unit: fifty alarm labels would hide each
    // other and the map. The others show theirs on hover (and the queue lists them all).
    const permanent = selected;
    // A text node, never a string: Leaflet would parse a string as HTML.
    const label = document.createElement("span");
    label.textContent = `${entry.unit.name} · ${_(STATUS_LABELS[entry.status])}${selected ? _(" (selected)") : ""}`;
    if (entry.labelPermanent !== permanent) {
      entry.marker.unbindTooltip();
      entry.marker.bindTooltip(label, {
        permanent, direction: "right", offset: [12, 0], className: "unit-label",
      });
      entry.labelPermanent = permanent;
    } else {
      entry.marker.setTooltipContent(label);
    }
    if (selected || entry.status === "alarm") entry.marker.bringToFront();
  }

  /** Highlight the selected incident's unit and bring it into view. */
  highlight(unitId) {
    const previous = this.highlighted;
    this.highlighted = unitId;
    if (previous && previous !== unitId) this.applyStyle(previous);
    if (previous !== unitId) this.drawClusters();
    if (!unitId) return;
    this.applyStyle(unitId);
    const entry = this.markers.get(unitId);
    if (entry && this.map && !this.map.getBounds().pad(-0.1).contains(entry.marker.getLatLng())) {
      this.map.panTo(entry.marker.getLatLng());
    }
  }
}
