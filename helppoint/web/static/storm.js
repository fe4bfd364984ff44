// The storm view: every open alarm as a tile (latest camera still, press count, unit id and
// name, waiting time, what the server heard), for weeding out many false activations fast.
// Alarms where a voice was heard come first and stand out. Keyboard only works: arrows or
// j / k move between tiles, Space chooses one, f closes the chosen (or the focused) tile as
// a false activation, Enter takes the focused one to the incident panel.

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { clock, countLabel } from "./format.js";
import { ageSeconds, holderLabel, triageMarks, urgency } from "./queue.js";
import { VOICE_LABELS, canWeedOut, holderOf } from "./triage.js";
import { _ } from "./i18n.js";

/** How often to look again for stills of tiles that have none yet (a unit sends one at once). */
const STILL_RETRY_MS = 2000;
/** Tiles older than this with no still stop asking for one (the unit has no camera). */
const STILL_PATIENCE_S = 60;

const VOICE_RANK = { voice: 0, noisy: 1 };

/** The storm view's order: a voice heard first, then noise, then the queue's own order. */
export function stormOrder(incidents) {
  return incidents
    .map((incident, index) => ({ incident, index }))
    .sort((a, b) => (VOICE_RANK[a.incident.voice] ?? 2) - (VOICE_RANK[b.incident.voice] ?? 2) || a.index - b.index)
    .map((entry) => entry.incident);
}

export class StormView {
  /**
   * root: the storm section; grid: its tile list. options: me, zoneName(id), triage,
   * onOpen(incident) (Enter or the tile's Open button), onWeedOut(incident),
   * onChosen() (the choice changed).
   */
  constructor(root, grid, options) {
    this.root = root;
    this.grid = grid;
    this.options = options;
    this.tiles = new Map(); // incident id -> {el, parts, incident}
    this.order = [];
    this.focusedId = null;
    this.chosen = new Set();
    this.stills = new Map(); // incident id -> still {url, taken_at, …}
    this.stillTimer = null;
    this.active = false;
    grid.addEventListener("click", (event) => {
      const tile = event.target.closest(".tile");
      if (tile) this.focus(Number(tile.dataset.id));
    });
  }

  get focused() {
    return this.tiles.get(this.focusedId)?.incident || null;
  }

  /** The chosen incidents still on screen, in the view's order. */
  chosenIncidents() {
    return this.order.filter((i) => this.chosen.has(i.id));
  }

  show() {
    this.active = true;
    this.root.hidden = false;
    this.loadStills();
    if (!this.tiles.has(this.focusedId) && this.order.length) this.focusedId = this.order[0].id;
    this.focus(this.focusedId);
  }

  hide() {
    this.active = false;
    this.root.hidden = true;
    clearTimeout(this.stillTimer);
    this.stillTimer = null;
  }

  /** Draw the open alarms: tiles are kept and updated in place, so a still never reloads. */
  render(incidents) {
    const alarms = stormOrder(incidents.filter((i) => i.kind === "activation"));
    const seen = new Set();
    for (const incident of alarms) {
      seen.add(incident.id);
      let tile = this.tiles.get(incident.id);
      if (!tile) {
        tile = this.build(incident);
        this.tiles.set(incident.id, tile);
      }
      tile.incident = incident;
      this.update(tile);
    }
    const gone = [...this.tiles.keys()].filter((id) => !seen.has(id));
    let nextFocus = this.focusedId;
    if (gone.includes(this.focusedId)) {
      // The focused tile left (closed here or elsewhere): focus the one that took its place.
      const at = this.order.findIndex((i) => i.id === this.focusedId);
      const remaining = this.order.filter((i) => seen.has(i.id));
      const after = this.order.slice(at + 1).find((i) => seen.has(i.id));
      nextFocus = after ? after.id : remaining.length ? remaining[remaining.length - 1].id : alarms[0]?.id ?? null;
    }
    for (const id of gone) {
      this.tiles.get(id).el.remove();
      this.tiles.delete(id);
      this.chosen.delete(id);
      this.stills.delete(id);
    }
    this.order = alarms;
    // Put the tiles in order, moving only those out of place (moving the focused one would
    // lose the keyboard focus).
    alarms.forEach((incident, index) => {
      const el = this.tiles.get(incident.id).el;
      if (this.grid.children[index] !== el) this.grid.insertBefore(el, this.grid.children[index] || null);
    });
    if (!alarms.length) {
      if (!this.grid.querySelector(".storm-empty")) replaceChildren(this.grid, h("li", { class: "storm-empty" }, _("No open alarms.")));
    } else {
      this.grid.querySelector(".storm-empty")?.remove();
    }
    if (nextFocus !== this.focusedId || !this.tiles.has(this.focusedId)) this.focus(nextFocus ?? alarms[0]?.id ?? null);
    this.tick();
    if (this.active && alarms.some((i) => !this.stills.has(i.id))) this.scheduleStills();
    this.options.onChosen();
  }

  build(incident) {
    const parts = {};
    parts.img = h("img", { class: "tile-still", alt: "", hidden: true });
    parts.noStill = h("span", { class: "tile-nostill" }, _("No camera still yet"));
    parts.voice = h("span", { class: "voice", hidden: true });
    parts.level = h("span", { class: "tile-level", "aria-hidden": "true" }, h("span", {}));
    parts.presses = h("span", { class: "tile-presses" });
    parts.timer = h("span", { class: "timer", "aria-hidden": "true" });
    parts.name = h("span", { class: "tile-name" });
    parts.unitId = h("span", { class: "tile-unit-id" });
    parts.holder = h("span", { class: "tile-holder" });
    parts.marks = h("span", { class: "tile-marks" });
    parts.choose = h("button", { type: "button", class: "tile-choose", "aria-pressed": "false",
      onclick: (event) => {
        event.stopPropagation();
        this.toggle(incident.id);
      } }, _("Choose"));
    parts.weed = h("button", { type: "button", class: "danger tile-weed",
      onclick: (event) => {
        event.stopPropagation();
        this.focus(incident.id);
        this.options.onWeedOut(this.tiles.get(incident.id).incident);
      } });
    parts.open = h("button", { type: "button", class: "tile-open",
      onclick: (event) => {
        event.stopPropagation();
        this.options.onOpen(this.tiles.get(incident.id).incident);
      } }, _("Open"));
    const el = h("li", {
      class: "tile",
      tabindex: "-1",
      role: "group",
      dataset: { id: String(incident.id), unit: incident.unit_id },
    },
      h("div", { class: "tile-picture" }, parts.img, parts.noStill, parts.voice),
      h("div", { class: "tile-head" }, parts.unitId, parts.presses, parts.timer),
      parts.name,
      parts.level,
      parts.holder,
      parts.marks,
      h("div", { class: "tile-actions" }, parts.choose, parts.weed, parts.open));
    return { el, parts, incident, drawn: null, timerText: "", timerClass: "" };
  }

  /** Bring a tile up to date; a tile whose incident, choice, still and request are as drawn is left alone. */
  update(tile) {
    const { el, parts, incident } = tile;
    const voice = incident.voice || "";
    const me = this.options.me;
    const usable = canWeedOut(incident, me);
    if (!usable) this.chosen.delete(incident.id);
    const drawn = JSON.stringify([
      voice, incident.voice_level, incident.state, holderOf(incident), incident.unit_id, incident.unit_name,
      incident.event_count, triageMarks(incident), usable, this.options.triage.busy.has(incident.id),
      this.chosen.has(incident.id), this.stills.get(incident.id)?.id ?? null,
    ]);
    if (tile.drawn === drawn) return;
    tile.drawn = drawn;
    el.dataset.voice = voice;
    el.dataset.state = incident.state;
    el.dataset.holder = holderOf(incident) || "";
    el.classList.toggle("genuine-looking", voice === "voice");
    el.classList.toggle("noisy", voice === "noisy");
    el.classList.toggle("others", Boolean(holderOf(incident)) && holderOf(incident) !== me);
    parts.unitId.textContent = incident.unit_id;
    parts.name.textContent = incident.unit_name;
    parts.presses.textContent = incident.event_count > 1 ? `×${incident.event_count}` : "";
    parts.presses.title = countLabel(incident);
    parts.voice.hidden = !voice;
    parts.voice.className = `voice voice-${voice || "unknown"}`;
    const voiceLabel = VOICE_LABELS[voice] ? _(VOICE_LABELS[voice]) : voice;
    parts.voice.textContent = voice ? voiceLabel.toUpperCase() : "";
    const level = typeof incident.voice_level === "number" ? incident.voice_level : null;
    parts.level.hidden = level === null;
    parts.level.firstChild.style.width = `${Math.round((level || 0) * 100)}%`;
    parts.holder.textContent = holderLabel(incident, me) || _("waiting");
    const marks = triageMarks(incident);
    parts.marks.textContent = marks.join(" · ");
    parts.marks.hidden = !marks.length;
    parts.weed.disabled = !usable || this.options.triage.busy.has(incident.id);
    replaceChildren(parts.weed, _("False"), " ", h("kbd", {}, "f"));
    parts.choose.disabled = !usable;
    const chosen = this.chosen.has(incident.id);
    el.classList.toggle("chosen", chosen);
    parts.choose.setAttribute("aria-pressed", String(chosen));
    parts.choose.textContent = chosen ? _("Chosen") : _("Choose");
    const still = this.stills.get(incident.id);
    if (still && parts.img.dataset.still !== String(still.id)) {
      parts.img.dataset.still = String(still.id);
      parts.img.src = still.url;
      parts.img.hidden = false;
      parts.noStill.hidden = true;
    }
    parts.img.alt = _("Camera still from %(unit)s", { unit: incident.unit_id });
    const voiceText = voice ? `, ${voiceLabel}${level !== null ? ` ${Math.round(level * 100)}%` : ""}` : "";
    el.setAttribute("aria-label",
      `${incident.unit_name}, ${incident.unit_id}, ${countLabel(incident)}${voiceText}, ${parts.holder.textContent}` +
      `${marks.map((m) => `, ${m}`).join("")}` +
      `${chosen ? `, ${_("chosen")}` : ""}`);
  }

  /** Update the waiting timers (every second). */
  tick() {
    for (const tile of this.tiles.values()) {
      const text = clock(ageSeconds(tile.incident));
      const className = `timer ${urgency(tile.incident)}`;
      if (tile.timerText !== text) {
        tile.parts.timer.textContent = text;
        tile.timerText = text;
      }
      if (tile.timerClass !== className) {
        tile.parts.timer.className = className;
        tile.timerClass = className;
      }
    }
  }

  focus(id) {
    this.focusedId = id;
    for (const [tileId, tile] of this.tiles) {
      const focused = tileId === id;
      tile.el.classList.toggle("focused", focused);
      tile.el.tabIndex = focused ? 0 : -1;
    }
    const tile = this.tiles.get(id);
    if (tile && this.active) {
      tile.el.focus({ preventScroll: true });
      tile.el.scrollIntoView({ block: "nearest" });
    }
  }

  /** Move the focus by `step` tiles; rows: step in whole rows of the grid. */
  move(step, rows = false) {
    if (!this.order.length) return;
    const index = this.order.findIndex((i) => i.id === this.focusedId);
    const by = rows ? step * this.columns() : step;
    const target = index === -1 ? 0 : Math.min(this.order.length - 1, Math.max(0, index + by));
    this.focus(this.order[target].id);
  }

  columns() {
    const first = this.grid.querySelector(".tile");
    if (!first) return 1;
    const top = first.offsetTop;
    let count = 0;
    for (const el of this.grid.querySelectorAll(".tile")) {
      if (el.offsetTop !== top) break;
      count += 1;
    }
    return Math.max(1, count);
  }

  /** Choose or un-choose a tile (Space, or its Choose button). */
  toggle(id = this.focusedId) {
    const tile = this.tiles.get(id);
    if (!tile || !canWeedOut(tile.incident, this.options.me)) return;
    if (this.chosen.has(id)) this.chosen.delete(id);
    else this.chosen.add(id);
    this.update(tile);
    this.options.onChosen();
  }

  /**
   * Choose every tile this operator may close whose press-time audio was judged silent. One
   * not judged yet is left out: its caller may not have been heard yet.
   */
  chooseSilent() {
    for (const incident of this.order) {
      if (canWeedOut(incident, this.options.me) && incident.voice === "silent") this.chosen.add(incident.id);
    }
    for (const tile of this.tiles.values()) this.update(tile);
    this.options.onChosen();
  }

  clearChoice() {
    this.chosen.clear();
    for (const tile of this.tiles.values()) this.update(tile);
    this.options.onChosen();
  }

  scheduleStills() {
    if (this.stillTimer) return;
    this.stillTimer = setTimeout(() => {
      this.stillTimer = null;
      this.loadStills();
    }, STILL_RETRY_MS);
  }

  /** The latest still of each open alarm (pictures load once per tile; each view is audited). */
  async loadStills() {
    if (!this.active) return;
    try {
      const stills = await get("/api/triage/stills");
      for (const still of stills) this.stills.set(still.incident_id, still);
      for (const tile of this.tiles.values()) this.update(tile);
    } catch (error) {
      console.warn("could not load the stills", error);
    }
    const waiting = this.order.some((i) => !this.stills.has(i.id) && ageSeconds(i) < STILL_PATIENCE_S);
    if (this.active && waiting) this.scheduleStills();
  }
}
