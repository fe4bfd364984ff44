// The cameras of the selected incident's help point, live: its own camera first, then the
// council cameras linked to it and to its zone (docs/cameras.md). Each tile is one WebRTC view
// from the server, which forwards the camera's H.264 as it is. A camera that cannot be shown
// says why (unreachable, wrong account, not an RTSP camera, stream lost) and is tried again.
// Enlarge opens a large view with a camera switcher and, for PTZ cameras, the move controls.

import { ApiError, api, get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toastError } from "./toast.js";
import { N_, _ } from "./i18n.js";

const STATE_LABELS = {
  idle: N_("Not connected yet"),
  connecting: N_("Connecting…"),
  live: N_("Live"),
  unreachable: N_("Camera unreachable"),
  unauthorized: N_("Wrong camera user name or password"),
  not_found: N_("No stream at the camera's address"),
  not_rtsp: N_("Not an RTSP camera"),
  unsupported: N_("Stream not supported"),
  lost: N_("Stream lost: reconnecting"),
};
const POLL_MS = 3000;
const RETRY_MS = 10000;
const GATHER_TIMEOUT_MS = 2000;

class CameraTile {
  constructor(block, camera) {
    this.block = block;
    this.camera = camera;
    this.pc = null;
    this.view = null;
    this.stream = null;
    this.error = "";
    this.nextTry = 0;
    this.connecting = false;
    this.video = h("video", { class: "camera-video", muted: true, autoplay: true, playsinline: true, dataset: { camera: camera.camera_id } });
    this.video.muted = true;
    this.name = h("span", { class: "camera-name" });
    this.state = h("span", { class: "camera-state", role: "status" });
    this.enlarge = h("button", { type: "button", class: "camera-enlarge", onclick: () => this.block.enlarge(this.camera.camera_id) }, _("Enlarge"));
    this.root = h("li", { class: "camera-tile", dataset: { camera: camera.camera_id } },
      this.video,
      h("div", { class: "camera-caption" }, this.name, this.state, this.enlarge));
    this.update(camera);
  }

  update(camera) {
    this.camera = camera;
    const kind = camera.own ? _("help point's camera") : camera.linked_by === "zone" ? _("zone camera") : _("linked camera");
    this.name.textContent = `${camera.name} (${kind}${camera.ptz ? `, ${_("PTZ")}` : ""})`;
    let state = camera.state;
    if (this.pc && state === "live" && this.pc.connectionState !== "connected") state = "connecting";
    if (!this.pc && state === "live") state = this.connecting ? "connecting" : "idle";
    let text = STATE_LABELS[state] ? _(STATE_LABELS[state]) : state;
    if (state === "live") text += ` · ${camera.forwarded ? _("H.264 forwarded") : _("re-encoded from %(codec)s", { codec: camera.codec || "?" })}`;
    const detail = camera.state !== "live" && camera.state !== "idle" ? camera.detail || this.error : "";
    this.state.textContent = detail ? `${text}: ${detail}` : text;
    this.root.dataset.state = state;
    this.video.hidden = !this.pc;
  }

  async connect() {
    if (this.pc || this.connecting || Date.now() < this.nextTry) return;
    this.connecting = true;
    const incidentId = this.block.incidentId;
    const pc = new RTCPeerConnection({ iceServers: this.block.iceServers });
    try {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.ontrack = (event) => {
        this.stream = new MediaStream([event.track]);
        this.video.srcObject = this.stream;
        this.video.play().catch(() => {});
        this.block.trackChanged(this.camera.camera_id);
      };
      pc.onconnectionstatechange = () => {
        if (pc !== this.pc) return;
        if (pc.connectionState === "failed" || pc.connectionState === "closed") this.disconnect(RETRY_MS / 5);
        this.update(this.camera);
      };
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const answer = await post(`/api/incidents/${incidentId}/cameras/${encodeURIComponent(this.camera.camera_id)}/view`, { type: "offer", sdp: pc.localDescription.sdp });
      if (this.block.disposed || incidentId !== this.block.incidentId) {
        pc.close();
        api(`/api/camera-views/${answer.view}`, { method: "DELETE" }).catch(() => {});
        return;
      }
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      this.pc = pc;
      this.view = answer.view;
      this.error = "";
      this.camera = { ...this.camera, state: "live", codec: answer.codec, forwarded: answer.forwarded };
    } catch (error) {
      pc.close();
      this.error = error.message || String(error);
      this.nextTry = Date.now() + RETRY_MS;
      if (!(error instanceof ApiError && (error.status === 503 || error.status === 0))) {
        toastError(error, _("Camera %(name)s", { name: this.camera.name }));
      }
    } finally {
      this.connecting = false;
      this.update(this.camera);
    }
  }

  disconnect(retryIn = 0) {
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.ontrack = null;
      this.pc.close();
      this.pc = null;
    }
    if (this.view) {
      api(`/api/camera-views/${this.view}`, { method: "DELETE" }).catch(() => {});
      this.view = null;
    }
    this.stream = null;
    this.video.srcObject = null;
    this.nextTry = Date.now() + retryIn;
    this.block.trackChanged(this.camera.camera_id);
  }
}

export class CameraBlock {
  constructor() {
    this.incidentId = null;
    this.tiles = new Map(); // camera id -> CameraTile
    this.order = [];
    this.iceServers = [];
    this.timer = null;
    this.disposed = false;
    this.polled = false;
    this.selected = null;
    this.list = h("ul", { class: "camera-tiles", id: "camera-tiles" });
    this.note = h("p", { class: "readonly-note", id: "cameras-note" }, _("Loading cameras…"));
    this.large = h("video", { class: "camera-large", id: "camera-large", muted: true, autoplay: true, playsinline: true });
    this.large.muted = true;
    this.largeTitle = h("h2", { id: "camera-dialog-title" });
    this.largeState = h("p", { class: "camera-state", id: "camera-large-state", role: "status" });
    this.switcher = h("div", { class: "row camera-switcher", role: "group", "aria-label": _("Switch camera") });
    this.controls = h("div", { class: "camera-controls", id: "camera-controls" });
    this.dialog = h("dialog", { class: "camera-dialog", id: "camera-dialog", "aria-labelledby": "camera-dialog-title" },
      this.largeTitle, this.large, this.largeState, this.switcher, this.controls,
      h("form", { method: "dialog" }, h("button", { type: "submit", id: "camera-dialog-close" }, _("Close"))));
    this.dialog.addEventListener("close", () => {
      this.large.srcObject = null;
      this.selected = null;
    });
    this.clips = h("ul", { class: "recordings camera-clips", id: "camera-clips" });
    this.player = h("video", { id: "clip-player", class: "call-video", controls: true, hidden: true });
    this.root = h("div", { class: "block cameras-block", id: "incident-cameras", "aria-label": _("Cameras") },
      h("h3", {}, _("Cameras")), this.note, this.list,
      h("h4", { class: "recordings-title" }, _("Clips around the presses")), this.clips, this.player,
      this.dialog);
  }

  /** The incident shown changed (or was updated). */
  setIncident(incident) {
    if (this.disposed || !incident || !incident.id || incident.id === this.incidentId) return;
    this.clear();
    this.incidentId = incident.id;
    this.refresh();
  }

  /** The panel is going away: end every view. */
  dispose() {
    this.disposed = true;
    this.clear();
  }

  clear() {
    clearTimeout(this.timer);
    for (const tile of this.tiles.values()) tile.disconnect();
    this.tiles.clear();
    this.order = [];
    replaceChildren(this.list);
    if (this.dialog.open) this.dialog.close();
  }

  async refresh() {
    clearTimeout(this.timer);
    if (this.disposed) return;
    if (this.polled && !this.root.isConnected) {
      // The panel was replaced without telling us: end the views rather than leak them.
      this.dispose();
      return;
    }
    this.polled = true;
    const incidentId = this.incidentId;
    try {
      const [shown, call] = await Promise.all([
        get(`/api/incidents/${incidentId}/cameras`),
        this.iceServers.length ? Promise.resolve(null) : get(`/api/incidents/${incidentId}/call`).catch(() => null),
      ]);
      if (this.disposed || incidentId !== this.incidentId) return;
      if (call && call.ice_servers) this.iceServers = call.ice_servers;
      this.render(shown.cameras);
      this.renderClips(shown.clips || [], shown.cameras);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 0)) toastError(error, _("Could not load the cameras"));
    }
    if (!this.disposed) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  }

  render(cameras) {
    this.note.textContent = cameras.length ? "" : _("No cameras are linked to this help point.");
    this.note.hidden = cameras.length > 0;
    const ids = cameras.map((c) => c.camera_id);
    for (const [id, tile] of this.tiles) {
      if (!ids.includes(id)) {
        tile.disconnect();
        this.tiles.delete(id);
      }
    }
    for (const camera of cameras) {
      let tile = this.tiles.get(camera.camera_id);
      if (!tile) {
        tile = new CameraTile(this, camera);
        this.tiles.set(camera.camera_id, tile);
      } else {
        tile.update(camera);
      }
      if (!tile.pc) tile.connect();
    }
    this.order = ids;
    replaceChildren(this.list, ids.map((id) => this.tiles.get(id).root));
    this.renderDialog();
  }

  // ---------- clips ----------

  renderClips(clips, cameras) {
    const names = new Map(cameras.map((c) => [c.camera_id, c.name]));
    const supervisor = /supervisor|admin/.test(document.querySelector("#current-user .role")?.textContent || "");
    const items = clips.map((clip) => {
      const name = names.get(clip.camera_id) || clip.camera_id;
      let text;
      if (clip.state === "recording") text = _("%(camera)s: recording…", { camera: name });
      else if (clip.state === "failed") text = _("%(camera)s: no clip (%(detail)s)", { camera: name, detail: clip.detail });
      else {
        const kept = !clip.available
          ? _("deleted at the end of retention (%(time)s)", { time: dateTime(clip.purged_at) })
          : clip.held
            ? _("on evidence hold by %(user)s: %(reason)s", { user: clip.held_by, reason: clip.hold_reason })
            : _("kept until %(time)s", { time: dateTime(clip.retain_until) });
        const clipText = _("%(camera)s: %(duration)s s from %(pre_roll)s s before the press (%(time)s)", {
          camera: name,
          duration: Math.round(clip.duration),
          pre_roll: Math.round(clip.pre_roll),
          time: timeOfDay(clip.pressed_at),
        });
        const interrupted = clip.state === "interrupted" ? `, ${_("interrupted: %(detail)s", { detail: clip.detail })}` : "";
        text = `${clipText}${interrupted} · ${kept}`;
      }
      const buttons = [];
      if (clip.available && clip.state !== "recording") {
        buttons.push(h("button", { type: "button", class: "play", onclick: () => this.play(clip) }, _("Play")));
        buttons.push(h("a", { class: "button export", href: `/api/clips/${clip.id}/export`, download: "" }, _("Export")));
        if (supervisor) {
          buttons.push(clip.held
            ? h("button", { type: "button", class: "release", onclick: () => this.release(clip) }, _("Release hold"))
            : h("button", { type: "button", class: "hold", onclick: () => this.hold(clip) }, _("Evidence hold")));
        }
      }
      return h("li", { dataset: { clip: String(clip.id), state: clip.state, held: clip.held ? "true" : "false" } },
        h("span", {}, text),
        clip.sha256 ? h("span", { class: "sha", title: _("SHA-256 of the file") }, `SHA-256 ${clip.sha256.slice(0, 12)}…`) : null,
        h("span", { class: "row" }, buttons));
    });
    replaceChildren(this.clips, items.length ? items : h("li", { class: "readonly-note" }, _("No clips yet.")));
  }

  async play(clip) {
    try {
      const grant = await post(`/api/clips/${clip.id}/play`);
      this.player.src = grant.url;
      this.player.hidden = false;
      this.player.dataset.clip = String(clip.id);
      this.player.play().catch(() => {});
    } catch (error) {
      toastError(error, _("Could not play the clip"));
    }
  }

  async hold(clip) {
    const reason = window.prompt(_("Reason for the evidence hold (e.g. police request number):"));
    if (!reason || !reason.trim()) return;
    try {
      await post(`/api/clips/${clip.id}/hold`, { reason: reason.trim() });
    } catch (error) {
      toastError(error, _("Could not place the hold"));
    }
    this.refresh();
  }

  async release(clip) {
    try {
      await post(`/api/clips/${clip.id}/release`);
    } catch (error) {
      toastError(error, _("Could not release the hold"));
    }
    this.refresh();
  }

  // ---------- the large view ----------

  enlarge(cameraId) {
    this.selected = cameraId;
    this.renderDialog();
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** Show the next (or previous) camera in the large view. */
  switchBy(step) {
    if (!this.order.length) return;
    const at = Math.max(0, this.order.indexOf(this.selected));
    this.enlarge(this.order[(at + step + this.order.length) % this.order.length]);
  }

  trackChanged(cameraId) {
    if (cameraId === this.selected) this.renderDialog();
  }

  renderDialog() {
    const tile = this.selected ? this.tiles.get(this.selected) : null;
    if (!tile) return;
    this.largeTitle.textContent = tile.camera.name;
    this.largeState.textContent = tile.state.textContent;
    this.dialog.dataset.camera = tile.camera.camera_id;
    if (this.large.srcObject !== tile.stream) {
      this.large.srcObject = tile.stream;
      if (tile.stream) this.large.play().catch(() => {});
    }
    replaceChildren(this.switcher,
      h("button", { type: "button", id: "camera-previous", onclick: () => this.switchBy(-1) }, `◀ ${_("Previous camera")}`),
      this.order.map((id) => h("button", {
        type: "button",
        class: id === this.selected ? "primary" : "",
        "aria-pressed": id === this.selected ? "true" : "false",
        dataset: { camera: id },
        onclick: () => this.enlarge(id),
      }, this.tiles.get(id).camera.name)),
      h("button", { type: "button", id: "camera-next", onclick: () => this.switchBy(1) }, `${_("Next camera")} ▶`));
    this.renderControls(tile);
  }

  renderControls(tile) {
    const camera = tile.camera;
    if (this.controls.dataset.camera === camera.camera_id && this.controls.dataset.preset === camera.preset) return;
    this.controls.dataset.camera = camera.camera_id;
    this.controls.dataset.preset = camera.preset;
    if (!camera.ptz) {
      replaceChildren(this.controls, h("p", { class: "readonly-note" }, _("Fixed camera: it cannot be moved.")));
      return;
    }
    const pad = [
      ["", null], [N_("Tilt up"), { tilt: 0.5 }], ["", null],
      [N_("Pan left"), { pan: -0.5 }], ["", null], [N_("Pan right"), { pan: 0.5 }],
      ["", null], [N_("Tilt down"), { tilt: -0.5 }], ["", null],
    ].map(([label, speeds]) => (speeds ? this.moveButton(camera, label, speeds) : h("span")));
    const turn = camera.preset
      ? h("button", { type: "button", id: "camera-preset-turn", onclick: () => this.ptz(camera, { action: "preset" }, _("Turned to the help point")) }, _("Turn to the help point"))
      : h("span", { class: "readonly-note" }, _("No preset for this help point."));
    replaceChildren(this.controls,
      h("div", { class: "ptz-pad", role: "group", "aria-label": _("Move the camera (hold)") }, pad),
      h("div", { class: "row", role: "group", "aria-label": _("Zoom and preset") },
        this.moveButton(camera, N_("Zoom in"), { zoom: 0.5 }),
        this.moveButton(camera, N_("Zoom out"), { zoom: -0.5 }),
        turn),
      this.ptzStatus = h("p", { class: "readonly-note", id: "camera-ptz-status", role: "status" }));
  }

  /** A button that moves while held (pointer) or nudges once (keyboard). label: the English
   * name (marked with N_), kept as data-move; shown translated. */
  moveButton(camera, label, speeds) {
    let held = false;
    const start = (event) => {
      event.preventDefault();
      held = true;
      this.ptz(camera, { action: "move", pan: 0, tilt: 0, zoom: 0, ...speeds });
    };
    const stop = () => {
      if (!held) return;
      held = false;
      this.ptz(camera, { action: "stop" });
    };
    const shown = _(label);
    const symbol = PTZ_SYMBOLS[label] ? _(PTZ_SYMBOLS[label]) : shown;
    const button = h("button", { type: "button", class: "ptz-move", "aria-label": shown, title: shown, dataset: { move: label } }, symbol);
    button.addEventListener("pointerdown", start);
    button.addEventListener("pointerup", stop);
    button.addEventListener("pointerleave", stop);
    button.addEventListener("pointercancel", stop);
    button.addEventListener("click", (event) => {
      if (event.detail !== 0) return; // a pointer click: handled by down/up
      this.ptz(camera, { action: "move", pan: 0, tilt: 0, zoom: 0, ...speeds })
        .then(() => new Promise((resolve) => setTimeout(resolve, NUDGE_MS)))
        .then(() => this.ptz(camera, { action: "stop" }));
    });
    return button;
  }

  async ptz(camera, body, done = "") {
    const incidentId = this.incidentId;
    try {
      await post(`/api/incidents/${incidentId}/cameras/${encodeURIComponent(camera.camera_id)}/ptz`, body);
      if (this.ptzStatus && done) this.ptzStatus.textContent = done;
    } catch (error) {
      if (this.ptzStatus) this.ptzStatus.textContent = error.message || String(error);
      toastError(error, _("Camera %(name)s did not move", { name: camera.name }));
    }
  }
}

const NUDGE_MS = 400;
const PTZ_SYMBOLS = { "Tilt up": "▲", "Tilt down": "▼", "Pan left": "◀", "Pan right": "▶", "Zoom in": N_("Zoom +"), "Zoom out": N_("Zoom −") };

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
