// Map of the units (Leaflet, loaded as the global L from /static/leaflet/leaflet.js).
// Units are vector circle markers, so they show even when no map tile can be fetched.

const STATUS_STYLE = {
  alarm: { radius: 11, fillColor: "#e5484d", color: "#ffffff", weight: 2, fillOpacity: 0.95, dashArray: null },
  tamper: { radius: 10, fillColor: "#f5a623", color: "#ffffff", weight: 2, fillOpacity: 0.95, dashArray: null },
  connected: { radius: 8, fillColor: "#3fb950", color: "#ffffff", weight: 2, fillOpacity: 0.9, dashArray: null },
  offline: { radius: 8, fillColor: "#7d8590", color: "#c9d1d9", weight: 2, fillOpacity: 0.35, dashArray: "3 3" },
};

export const STATUS_LABELS = {
  alarm: "Alarm",
  tamper: "Tamper",
  connected: "Connected",
  offline: "Offline",
};

/** A unit's status from its link and its most urgent open incident (if any). */
export function unitStatus(unit, incident) {
  if (incident && incident.kind === "activation") return "alarm";
  if (incident && incident.kind === "tamper") return "tamper";
  return unit.connected ? "connected" : "offline";
}

export class UnitMap {
  /** el: the map container; note: element for "tiles unavailable"; onUnitClick(unitId). */
  constructor(el, note, { tilesUrl, attribution, onUnitClick }) {
    this.el = el;
    this.note = note;
    this.onUnitClick = onUnitClick;
    this.markers = new Map();
    this.highlighted = null;
    this.fitted = false;
    this.map = null;
    if (!window.L) {
      this.showNote("The map library did not load; unit states are listed below.");
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
    // The pane's size settles after fonts and lists render; keep Leaflet's idea of it right.
    let refitPending = true;
    new ResizeObserver(() => {
      this.map.invalidateSize();
      if (refitPending && this.fitted) {
        refitPending = false;
        this.fitAll();
      }
    }).observe(el);
    if (tilesUrl) {
      const tiles = L.tileLayer(tilesUrl, { attribution, maxZoom: 19, crossOrigin: false });
      let errors = 0;
      tiles.on("tileerror", () => {
        errors += 1;
        if (errors === 1) {
          this.showNote("Map background unavailable (tiles cannot be loaded). Unit positions are still shown.");
        }
      });
      tiles.on("tileload", () => {
        if (errors === 0) this.hideNote();
      });
      tiles.addTo(this.map);
    } else {
      this.showNote("No map background configured. Unit positions are shown.");
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
        entry.marker.setLatLng([unit.latitude, unit.longitude]);
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
  }

  /** Zoom to show every unit. */
  fitAll() {
    if (!this.map || !this.markers.size) return;
    this.map.invalidateSize();
    const bounds = window.L.latLngBounds([...this.markers.values()].map((e) => e.marker.getLatLng()));
    this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
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
      path.setAttribute("aria-label", `${entry.unit.name}: ${STATUS_LABELS[entry.status]}`);
    }
    // Names always on screen only where the operator must look: alarms and the selection.
    // The others show theirs on hover, so a crowded map stays readable.
    const permanent = selected || entry.status === "alarm" || entry.status === "tamper";
    // A text node, never a string: Leaflet would parse a string as HTML.
    const label = document.createElement("span");
    label.textContent = `${entry.unit.name} · ${STATUS_LABELS[entry.status]}${selected ? " (selected)" : ""}`;
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
    if (!unitId) return;
    this.applyStyle(unitId);
    const entry = this.markers.get(unitId);
    if (entry && this.map && !this.map.getBounds().pad(-0.1).contains(entry.marker.getLatLng())) {
      this.map.panTo(entry.marker.getLatLng());
    }
  }
}
