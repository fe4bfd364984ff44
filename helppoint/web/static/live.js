// A live feed (/console/ws, /police/ws): reconnects with backoff and tells the page when what
// it shows may be stale, so nobody looks at an out-of-date list without knowing. The server
// sends a keepalive after `keepalive_seconds` of quiet (web/feeds.py); a link silent for three
// of them is taken as lost (a dead server or a dropped network path that TCP has not noticed).

import { get } from "./api.js";

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 15000;
// Close codes after which the session itself may be gone; /api/me then redirects to login.
const AUTH_CLOSE_CODES = new Set([1008, 4401]);
const FORBIDDEN_CLOSE_CODE = 4403;
// Until the snapshot says otherwise: the server's default keepalive (seconds).
const DEFAULT_KEEPALIVE_S = 15;
const MISSED_KEEPALIVES = 3;
// Closed by this page: the link went silent.
const SILENT_CLOSE_CODE = 4000;

export class LiveLink {
  /**
   * onMessage(message) gets every parsed server message; onState(state, info) gets
   * "connecting" | "online" | "offline" with {retryInMs} when a reconnect is scheduled.
   */
  constructor(path, { onMessage, onState }) {
    // batch=1: news that queued up on the server (a flood's) comes in batch frames of many
    // messages each (web/feeds.py), handed on here one by one.
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}?batch=1`;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.silentAfterMs = DEFAULT_KEEPALIVE_S * MISSED_KEEPALIVES * 1000;
    this.lastHeard = 0;
    this.watchdog = null;
  }

  start() {
    this.stopped = false;
    this.connect();
    // Coming back from sleep or a flaky Wi-Fi: try at once instead of waiting out the backoff.
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.socket) this.retryNow();
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.socket) this.socket.close(1000, "page closed");
  }

  retryNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    this.timer = null;
    this.onState("connecting", {});
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    // A server that takes the connection but never completes it counts as lost, too.
    const opening = setTimeout(() => {
      if (this.socket === socket && socket.readyState === WebSocket.CONNECTING) this.abandon(socket);
    }, this.silentAfterMs);
    socket.addEventListener("open", () => {
      clearTimeout(opening);
      this.attempt = 0;
      this.heard();
      this.watch(socket);
      this.onState("online", {});
    });
    socket.addEventListener("message", (event) => {
      this.heard();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("ignored a live message that is not JSON", event.data);
        return;
      }
      if (message.keepalive_seconds) {
        this.silentAfterMs = message.keepalive_seconds * MISSED_KEEPALIVES * 1000;
      }
      if (message.type === "keepalive") return;
      if (message.type === "batch") {
        for (const each of message.messages) this.onMessage(each);
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(opening);
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.watchdog);
      if (this.stopped) return;
      if (event.code === FORBIDDEN_CLOSE_CODE) {
        // Signed in, but this role may not watch the alarm queue: retrying cannot help.
        this.stopped = true;
        this.onState("forbidden", { reason: event.reason });
        return;
      }
      if (AUTH_CLOSE_CODES.has(event.code)) {
        // A 401 from /api/me sends the browser to the login page.
        get("/api/me").catch(() => {});
      }
      this.scheduleReconnect();
    });
  }

  heard() {
    this.lastHeard = Date.now();
  }

  watch(socket) {
    // A link silent for three keepalive periods is taken as lost.
    clearInterval(this.watchdog);
    const every = Math.min(1000, this.silentAfterMs / 4);
    this.watchdog = setInterval(() => {
      if (this.socket === socket && Date.now() - this.lastHeard >= this.silentAfterMs) {
        this.abandon(socket);
      }
    }, every);
  }

  abandon(socket) {
    // Given up on: reconnect now rather than wait for the browser to report the close, which
    // for a dead connection can take minutes.
    clearInterval(this.watchdog);
    this.socket = null;
    socket.close(SILENT_CLOSE_CODE, "no word from the server");
    if (!this.stopped) this.scheduleReconnect();
  }

  scheduleReconnect() {
    // Exponential backoff with jitter (half fixed, half random) so many consoles that lost
    // the server together do not all return in the same instant.
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.onState("offline", { retryInMs: delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
