// The police view's map: one marker per escalated incident (Leaflet, the global L loaded from
// /static/leaflet/leaflet.js). Vector circle markers, so they show even when no tile loads.

const STYLE = { radius: 11, fillColor: "#e5484d", color: "#ffffff", weight: 2, fillOpacity: 0.95 };
const ACKNOWLEDGED = { ...STYLE, fillColor: "#3fb950" };

export class IncidentMap {
  constructor(el, note, { tilesUrl, tileOptions }) {
    this.el = el;
    this.note = note;
    this.markers = new Map(); // incident id -> marker
    this.map = null;
    if (!window.L) {
      this.showNote("The map library did not load; incident locations are listed below.");
      return;
    }
    const L = window.L;
    this.map = L.map(el, { preferCanvas: false }).setView([54.0, -2.0], 5);
    this.map.attributionControl.setPrefix("Leaflet");
    new ResizeObserver(() => this.map.invalidateSize()).observe(el);
    if (tilesUrl) {
      const tiles = L.tileLayer(tilesUrl, tileOptions);
      tiles.on("tileerror", () => this.showNote("Map background unavailable (tiles cannot be loaded). Incident positions are still shown."));
      tiles.addTo(this.map);
    } else {
      this.showNote("No map background configured. Incident positions are shown.");
    }
  }

  showNote(text) {
    if (!this.note) return;
    this.note.textContent = text;
    this.note.hidden = false;
  }

  /** Draw the incidents: [{id, ref, unit_id, unit_name, latitude, longitude, police_response}]. */
  render(incidents) {
    if (!this.map) return;
    const L = window.L;
    const seen = new Set();
    for (const i of incidents) {
      if (typeof i.latitude !== "number" || typeof i.longitude !== "number") continue;
      seen.add(i.id);
      const acknowledged = Boolean(i.police_response && i.police_response.acknowledged_at);
      let marker = this.markers.get(i.id);
      if (!marker) {
        marker = L.circleMarker([i.latitude, i.longitude], { ...STYLE, className: "police-marker" });
        marker.addTo(this.map);
        this.markers.set(i.id, marker);
      } else {
        marker.setLatLng([i.latitude, i.longitude]);
      }
      marker.setStyle(acknowledged ? ACKNOWLEDGED : STYLE);
      // A text node, never a string: Leaflet would parse a string as HTML.
      const label = document.createElement("span");
      label.textContent = `${i.ref} · ${i.unit_name}`;
      if (marker.getTooltip()) marker.setTooltipContent(label);
      else marker.bindTooltip(label, { permanent: true, direction: "right", offset: [12, 0], className: "unit-label" });
      const path = marker.getElement();
      if (path) {
        path.dataset.incident = String(i.id);
        path.dataset.unit = i.unit_id;
        path.setAttribute("aria-label", `${i.ref} at ${i.unit_name}`);
      }
    }
    for (const [id, marker] of this.markers) {
      if (!seen.has(id)) {
        marker.remove();
        this.markers.delete(id);
      }
    }
    if (this.markers.size) {
      const bounds = window.L.latLngBounds([...this.markers.values()].map((m) => m.getLatLng()));
      this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
    }
  }
}
