// The call with the unit: answer (WebRTC to the server, which relays to the unit), listen, see,
// talk or mute, hang up; what still works when something does not (no camera, no microphone,
// unit offline); the incident's recordings with play, export and (supervisors) evidence hold.
// See docs/calls.md.

import { ApiError, get, post } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime, timeOfDay } from "./format.js";
import { toast, toastError } from "./toast.js";
import { N_, _ } from "./i18n.js";

const CALLABLE = new Set(["acknowledged", "in_call", "assessed", "escalated"]);
const END_REASONS = {
  hangup: N_("hung up"),
  replaced: N_("re-established"),
  unit_lost: N_("the unit went offline"),
  operator_lost: N_("this browser lost the media connection"),
  unit_ended: N_("the unit ended the call"),
  incident_closed: N_("the incident was closed"),
  failed: N_("the call failed"),
  server_stopped: N_("the server restarted"),
  listened: N_("time was up"),
  answered: N_("the call was answered"),
};
/** Why a call ended, in words (a reason the script does not know is shown as it came). */
function endReason(reason) {
  return END_REASONS[reason] ? _(END_REASONS[reason]) : reason;
}

const GATHER_TIMEOUT_MS = 2000;
const WATCH_PERIOD_MS = 3000;

export class CallBlock {
  /** options: unitConnected(unitId), canSupervise (bool). */
  constructor(options) {
    this.options = options;
    this.incident = null;
    this.pc = null;
    this.mic = null; // the microphone stream, when the browser gave one
    this.state = "idle"; // idle | connecting | connected | dropped
    this.detail = "";
    this.wantCall = false; // re-establish when the unit comes back
    this.watchTimer = null;
    this.callToken = 0;

    this.statusText = h("p", { class: "call-status", id: "call-status", role: "status", "aria-live": "polite" });
    this.works = h("ul", { class: "call-works", id: "call-works" });
    this.answerButton = h("button", { type: "button", class: "primary", id: "call-answer", onclick: () => this.answer() }, `${_("Answer call")} `, h("kbd", {}, "t"));
    this.muteButton = h("button", { type: "button", id: "call-mute", "aria-pressed": "false", onclick: () => this.toggleMute() }, `${_("Mute mic")} `, h("kbd", {}, "u"));
    this.hangupButton = h("button", { type: "button", class: "danger", id: "call-hangup", onclick: () => this.hangup() }, `${_("Hang up")} `, h("kbd", {}, "h"));
    this.video = h("video", { id: "call-video", class: "call-video", autoplay: true, playsinline: true, hidden: true });
    this.noVideo = h("p", { class: "call-novideo", id: "call-novideo", hidden: true });
    this.calls = h("ul", { class: "call-history", id: "call-history" });
    this.recordings = h("ul", { class: "recordings", id: "recordings" });
    this.player = h("video", { id: "recording-player", class: "call-video", controls: true, hidden: true });
    this.root = h("div", { class: "block call-block", "aria-label": _("Call with the unit") },
      h("h3", {}, _("Call")),
      this.statusText,
      h("div", { class: "row", role: "group", "aria-label": _("Call controls") }, this.answerButton, this.muteButton, this.hangupButton),
      this.works,
      this.video,
      this.noVideo,
      this.calls,
      h("h4", { class: "recordings-title" }, _("Recordings")),
      this.recordings,
      this.player);
    this.render();
  }

  /** The incident shown changed (or was updated). */
  setIncident(incident) {
    const changed = !this.incident || this.incident.id !== incident.id;
    if (changed && this.pc) this.drop("", { quiet: true });
    if (changed) {
      this.wantCall = false;
      this.state = "idle";
      this.detail = "";
      this.loadRecordings(incident.id);
    }
    this.incident = incident;
    if (incident.state === "closed" && this.pc) this.finish(endReason("incident_closed"));
    this.render();
  }

  /** The unit's link went up or down. */
  unitChanged() {
    const i = this.incident;
    if (!i) return;
    const connected = this.options.unitConnected(i.unit_id);
    if (!connected && (this.state === "connected" || this.state === "connecting")) {
      this.drop(_("The unit went offline: the call dropped. It is re-established when the unit is back; the incident and its light are unaffected."));
    } else if (connected && this.wantCall && this.state === "dropped") {
      toast(_("The unit is back online: re-establishing the call"), "info");
      this.answer();
    }
    this.render();
  }

  get inCall() {
    return this.state === "connected" || this.state === "connecting";
  }

  // ---------- actions ----------

  async answer() {
    const i = this.incident;
    if (!i || this.state === "connecting") return;
    if (!CALLABLE.has(i.state)) {
      toast(i.state === "new" ? _("Acknowledge first, then answer the call.") : _("This incident cannot take a call."), "info");
      return;
    }
    if (this.pc) this.closePeer();
    const token = ++this.callToken;
    this.state = "connecting";
    this.detail = "";
    this.render();
    let listenOnly = "";
    try {
      try {
        this.mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        this.mic = null;
        listenOnly = _("microphone not available (%(reason)s): listen only", { reason: error.name || _("blocked") });
      }
      const info = await get(`/api/incidents/${i.id}/call`);
      if (token !== this.callToken) return;
      const pc = new RTCPeerConnection({ iceServers: info.ice_servers || [] });
      this.pc = pc;
      const remote = new MediaStream();
      pc.ontrack = (event) => {
        remote.addTrack(event.track);
        this.video.srcObject = remote;
        if (event.track.kind === "video") this.video.hidden = false;
      };
      pc.onconnectionstatechange = () => this.peerState(pc, token);
      if (this.mic) {
        for (const track of this.mic.getAudioTracks()) pc.addTrack(track, this.mic);
      } else {
        pc.addTransceiver("audio", { direction: "recvonly" });
      }
      pc.addTransceiver("video", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const answer = await post(`/api/incidents/${i.id}/call`, { type: "offer", sdp: pc.localDescription.sdp });
      if (token !== this.callToken) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      this.state = "connected";
      this.wantCall = true;
      this.detail = answer.detail || listenOnly;
      this.noVideo.textContent = answer.video ? "" : _("No video from the unit; you can still hear and talk.");
      this.noVideo.hidden = answer.video;
      this.video.hidden = !answer.video;
      this.video.play().catch(() => {});
      this.watch(token);
      this.loadRecordings(i.id);
      toast(answer.talk ? _("Call connected") : _("Call connected: listen only"), "success");
    } catch (error) {
      if (token !== this.callToken) return;
      this.closePeer();
      const offline = error instanceof ApiError && error.status === 409 && /offline/.test(error.message);
      this.state = offline ? "dropped" : "idle";
      this.wantCall = offline;
      this.detail = error.message || String(error);
      toastError(error, _("Could not connect the call"));
    }
    this.render();
  }

  async hangup() {
    const i = this.incident;
    if (!i || !this.inCall) return;
    this.wantCall = false;
    this.callToken++;
    clearTimeout(this.watchTimer);
    try {
      // Tell the server first: it ends the call as hung up (not as this browser lost).
      const ended = await post(`/api/incidents/${i.id}/call/hangup`);
      toast(_("Call ended after %(duration)s", { duration: seconds(ended) }), "success");
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409)) toastError(error, _("Could not hang up"));
    }
    this.closePeer();
    this.state = "idle";
    this.detail = "";
    this.render();
    this.loadRecordings(i.id);
  }

  toggleMute() {
    if (!this.mic || !this.inCall) {
      toast(this.inCall ? _("Listen only: no microphone to mute.") : _("No call in progress."), "info");
      return;
    }
    const track = this.mic.getAudioTracks()[0];
    track.enabled = !track.enabled;
    this.render();
  }

  // ---------- call state ----------

  peerState(pc, token) {
    if (token !== this.callToken || pc !== this.pc) return;
    if (pc.connectionState === "failed") {
      this.drop(_("The media connection failed: the call dropped. Press Answer to try again."));
    }
  }

  /** Follow the server's view of the call: it may end it (unit lost, incident closed). */
  watch(token) {
    clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(async () => {
      const i = this.incident;
      if (!i || token !== this.callToken || this.state !== "connected") return;
      try {
        const info = await get(`/api/incidents/${i.id}/call`);
        if (token !== this.callToken || this.state !== "connected") return;
        if (!info.active) {
          const calls = info.calls.filter((c) => c.kind !== "press");
          const last = calls[calls.length - 1];
          const reason = last && last.end_reason;
          if (reason === "unit_lost" || reason === "operator_lost") {
            this.drop(_("The call dropped: %(reason)s. It is re-established when the unit is back.", { reason: endReason(reason) }));
          } else {
            this.finish(END_REASONS[reason] ? endReason(reason) : _("ended"));
          }
          this.renderRecordings(info);
          return;
        }
      } catch {
        // The server is unreachable; the console's banner says so. Keep watching.
      }
      this.watch(token);
    }, WATCH_PERIOD_MS);
  }

  drop(message, { quiet = false } = {}) {
    this.callToken++;
    this.closePeer();
    this.state = quiet ? "idle" : "dropped";
    this.detail = message;
    if (!quiet) toast(message, "error", _("Call dropped"));
    this.render();
    if (!quiet && this.incident && this.options.unitConnected(this.incident.unit_id) && this.wantCall) {
      // The link is up but the media failed: try once more straight away.
      setTimeout(() => {
        if (this.state === "dropped" && this.wantCall) this.answer();
      }, 1000);
    }
  }

  finish(reason) {
    this.callToken++;
    this.wantCall = false;
    this.closePeer();
    this.state = "idle";
    this.detail = _("Call ended: %(reason)s.", { reason });
    this.render();
  }

  closePeer() {
    clearTimeout(this.watchTimer);
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.ontrack = null;
      this.pc.close();
      this.pc = null;
    }
    if (this.mic) {
      for (const track of this.mic.getTracks()) track.stop();
      this.mic = null;
    }
    this.video.srcObject = null;
    this.video.hidden = true;
    this.noVideo.hidden = true;
  }

  render() {
    const i = this.incident;
    const connected = i ? this.options.unitConnected(i.unit_id) : false;
    const callable = Boolean(i && CALLABLE.has(i.state));
    const muted = Boolean(this.mic && !this.mic.getAudioTracks()[0].enabled);
    const labels = {
      idle: callable
        ? (connected ? _("Not in a call.") : _("Unit offline: a call is not possible now."))
        : i && i.state === "new" ? _("Acknowledge to answer the call.") : _("No call."),
      connecting: _("Connecting the call…"),
      connected: this.mic
        ? (muted ? _("In a call: your microphone is MUTED.") : _("In a call: you are talking and listening."))
        : _("In a call: LISTEN ONLY (no microphone)."),
      dropped: _("Call dropped."),
    };
    this.root.dataset.callState = this.state;
    this.statusText.textContent = labels[this.state];
    this.statusText.className = `call-status ${this.state}`;
    const works = [];
    if (this.detail) works.push(this.detail);
    if (this.state === "dropped") works.push(_("The incident, its notes and the unit's light are unaffected."));
    replaceChildren(this.works, works.map((text) => h("li", {}, text)));
    this.answerButton.disabled = !callable || !connected || this.state === "connecting";
    this.answerButton.firstChild.textContent = `${this.state === "connected" ? _("Re-establish") : _("Answer call")} `;
    this.muteButton.disabled = this.state !== "connected" || !this.mic;
    this.muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
    this.muteButton.firstChild.textContent = `${muted ? _("Unmute mic") : _("Mute mic")} `;
    this.hangupButton.disabled = !this.inCall;
  }

  // ---------- recordings ----------

  async loadRecordings(incidentId) {
    try {
      const info = await get(`/api/incidents/${incidentId}/call`);
      if (this.incident && this.incident.id === incidentId) this.renderRecordings(info);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 403)) toastError(error, _("Could not load the recordings"));
    }
  }

  renderRecordings(info) {
    const kinds = new Map((info.calls || []).map((c) => [c.id, c.kind]));
    replaceChildren(this.calls, (info.calls || []).map((c) => {
      const end = c.ended_at ? `–${timeOfDay(c.ended_at)} (${seconds(c)}, ${endReason(c.end_reason)})` : ` · ${_("in progress")}`;
      if (c.kind === "press") {
        // The server listening to the unit as it was pressed (docs/triage.md).
        return h("li", { dataset: { call: String(c.id), kind: "press" } }, `${_("Press-time audio")} ${timeOfDay(c.started_at)}${end} · ${c.detail}`);
      }
      const how = [c.talk ? null : _("listen only"), c.video ? null : _("no video")].filter(Boolean).join(", ");
      return h("li", { dataset: { call: String(c.id), kind: "call" } }, `${_("Call")} ${timeOfDay(c.started_at)}${end} ${_("by %(user)s", { user: c.operator })}${how ? ` · ${how}` : ""}`);
    }));
    const items = (info.recordings || []).map((r) => {
      const buttons = [];
      if (r.available) {
        buttons.push(h("button", { type: "button", class: "play", onclick: () => this.play(r) }, _("Play")));
        buttons.push(h("a", { class: "button export", href: `/api/recordings/${r.id}/export`, download: "" }, _("Export")));
        if (this.options.canSupervise()) {
          buttons.push(r.held
            ? h("button", { type: "button", class: "release", onclick: () => this.release(r) }, _("Release hold"))
            : h("button", { type: "button", class: "hold", onclick: () => this.hold(r) }, _("Evidence hold")));
        }
      }
      const kept = !r.available
        ? _("deleted at the end of retention (%(time)s)", { time: dateTime(r.purged_at) })
        : r.held
          ? _("on evidence hold by %(user)s: %(reason)s", { user: r.held_by, reason: r.hold_reason })
          : _("kept until %(time)s", { time: dateTime(r.retain_until) });
      const kind = kinds.get(r.call_id) === "press" ? "press" : "call";
      return h("li", { dataset: { recording: String(r.id), held: r.held ? "true" : "false", kind } },
        h("span", {}, `${kind === "press" ? _("Press-time audio") : _("Call")} ${timeOfDay(r.started_at)} · ${Math.round(r.duration)} s · ${kept}`),
        h("span", { class: "sha", title: _("SHA-256 of the file") }, `SHA-256 ${r.sha256.slice(0, 12)}…`),
        h("span", { class: "row" }, buttons));
    });
    replaceChildren(this.recordings, items.length ? items : h("li", { class: "readonly-note" }, _("No recordings.")));
  }

  async play(recording) {
    try {
      const grant = await post(`/api/recordings/${recording.id}/play`);
      this.player.src = grant.url;
      this.player.hidden = false;
      this.player.play().catch(() => {});
    } catch (error) {
      toastError(error, _("Could not play the recording"));
    }
  }

  async hold(recording) {
    const reason = window.prompt(_("Reason for the evidence hold (e.g. police request number):"));
    if (!reason || !reason.trim()) return;
    try {
      await post(`/api/recordings/${recording.id}/hold`, { reason: reason.trim() });
      toast(_("Recording placed on evidence hold"), "success");
    } catch (error) {
      toastError(error, _("Could not place the hold"));
    }
    if (this.incident) this.loadRecordings(this.incident.id);
  }

  async release(recording) {
    try {
      await post(`/api/recordings/${recording.id}/release`);
      toast(_("Evidence hold released"), "success");
    } catch (error) {
      toastError(error, _("Could not release the hold"));
    }
    if (this.incident) this.loadRecordings(this.incident.id);
  }
}

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

function seconds(call) {
  if (!call || !call.started_at || !call.ended_at) return _("a moment");
  return `${Math.round((Date.parse(call.ended_at) - Date.parse(call.started_at)) / 1000)} s`;
}
