// The selected incident's unit: the latest camera still, the light (start/stop flashing, as
// confirmed by the unit), the camera preset picker and the messages the unit can play.

import { get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";

const LIGHT_LABELS = { alarm: "flashing", steady: "on (steady)", off: "off" };

export class IncidentMediaBlock {
  /** options: readOnly, unitConnected(unitId), send(label, command, args) (the panel's, which
   * logs the unit's answer). */
  constructor(options) {
    this.options = options;
    this.incident = null;
    this.data = null;
    this.loadToken = 0;
    this.stillFigures = new Map(); // still id -> <figure>, so a refresh never re-fetches it
    this.prompts = null;
    const readOnly = Boolean(options.readOnly);
    this.still = h("div", { class: "incident-still", id: "incident-still" },
      h("p", { class: "readonly-note" }, "No camera still yet."));
    this.light = h("p", { class: "light-state", id: "light-state", role: "status" }, "Light: …");
    const children = [h("h3", {}, "Camera, light and messages"), this.still, this.light];
    if (!readOnly) {
      this.lightStart = h("button", { type: "button", id: "light-start", onclick: () => this.send("Start flashing", "flash_light", { on: true, pattern: "alarm" }) }, "Start flashing");
      this.lightStop = h("button", { type: "button", id: "light-stop", onclick: () => this.send("Stop flashing", "flash_light", { on: false }) }, "Stop flashing");
      this.preset = h("select", { id: "camera-preset-select", name: "camera-preset" });
      this.presetGo = h("button", { type: "button", id: "camera-preset-go", onclick: () => this.send(`Camera: ${this.preset.value}`, "camera_preset", { preset: this.preset.value }) }, "Move camera");
      this.message = h("select", { id: "message-select", name: "message" });
      this.messageGo = h("button", { type: "button", id: "message-play", onclick: () => this.send(`Play ${this.message.selectedOptions[0]?.textContent || this.message.value}`, "play_message", { message: this.message.value }) }, "Play on the unit");
      children.push(
        h("div", { class: "row", role: "group", "aria-label": "Light" }, this.lightStart, this.lightStop),
        h("div", { class: "row", role: "group", "aria-label": "Camera preset" },
          h("label", { for: "camera-preset-select" }, "Camera preset"), this.preset, this.presetGo),
        h("div", { class: "row", role: "group", "aria-label": "Message" },
          h("label", { for: "message-select" }, "Message"), this.message, this.messageGo),
      );
    }
    this.root = h("div", { class: "block", id: "unit-media" }, children);
  }

  setIncident(incident) {
    const changed = !this.incident || this.incident.id !== incident.id;
    this.incident = incident;
    if (changed) {
      this.data = null;
      this.render();
    }
    this.updateControls();
  }

  async load() {
    if (!this.incident || !this.incident.id) return;
    const id = this.incident.id;
    const token = ++this.loadToken;
    try {
      const [data, prompts] = await Promise.all([
        get(`/api/incidents/${id}/unit-media`),
        this.prompts ? Promise.resolve(this.prompts) : get("/api/prompts"),
      ]);
      if (token !== this.loadToken || !this.incident || this.incident.id !== id) return;
      this.prompts = prompts;
      this.data = data;
      this.render();
    } catch (error) {
      if (token === this.loadToken) toastError(error, "Could not load the unit's camera and light");
    }
  }

  render() {
    const d = this.data;
    if (!d) {
      this.light.textContent = "Light: …";
      return;
    }
    const still = d.latest_still;
    if (still) {
      let figure = this.stillFigures.get(still.id);
      if (!figure) {
        const taken = timeOfDay(still.taken_at);
        figure = h("figure", { dataset: { still: String(still.id) } },
          h("img", { src: still.url, alt: `Camera still from help point ${d.unit_id} at ${taken}`, width: String(still.width), height: String(still.height) }),
          h("figcaption", {}, `Camera still · taken ${dateTime(still.taken_at)} · SHA-256 ${still.sha256.slice(0, 12)}…`));
        this.stillFigures.set(still.id, figure);
      }
      replaceChildren(this.still, figure);
    } else {
      replaceChildren(this.still, h("p", { class: "readonly-note" }, "No camera still yet."));
    }
    const light = d.light;
    let text = `Light: ${LIGHT_LABELS[light.pattern] || light.pattern}`;
    text += light.confirmed ? ` (confirmed by the unit ${timeOfDay(light.since)})` : " (since the activation)";
    if (light.pending) text += ` · ${LIGHT_LABELS[light.pending] || light.pending} requested, waiting for the unit…`;
    this.light.textContent = text;
    this.light.dataset.pattern = light.pattern;
    this.light.dataset.pending = light.pending || "";
    if (this.preset) {
      const chosen = this.preset.value;
      replaceChildren(this.preset, d.camera_presets.map((name) => h("option", { value: name }, name)));
      if (d.camera_presets.includes(chosen)) this.preset.value = chosen;
    }
    if (this.message && this.prompts) {
      const chosen = this.message.value;
      replaceChildren(this.message, this.prompts.map((p) => h("option", { value: p.name }, p.title)));
      if (this.prompts.some((p) => p.name === chosen)) this.message.value = chosen;
    }
    this.updateControls();
  }

  updateControls() {
    if (this.options.readOnly || !this.lightStart) return;
    const i = this.incident;
    const usable = Boolean(i && i.ref && i.state !== "closed" && this.options.unitConnected(i.unit_id));
    for (const control of [this.lightStart, this.lightStop, this.preset, this.presetGo, this.message, this.messageGo]) {
      control.disabled = !usable;
    }
  }

  async send(label, command, args) {
    const i = this.incident;
    if (!i || !i.id) return;
    if (this.options.send) {
      await this.options.send(label, command, args);
      this.load();
      return;
    }
    try {
      await post(`/api/incidents/${i.id}/unit-commands`, { command, args });
      toast(`${label}: sent, waiting for the unit`, "info");
      this.load();
    } catch (error) {
      toastError(error, `${label}: not sent`);
    }
  }
}
