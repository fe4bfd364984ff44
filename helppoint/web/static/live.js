// The console's live link (/console/ws): reconnects with backoff and tells the page when the
// queue may be stale, so an operator is never looking at an out-of-date list without knowing.

import { get } from "./api.js";

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 15000;
// Close codes after which the session itself may be gone; /api/me then redirects to login.
const AUTH_CLOSE_CODES = new Set([1008, 4401]);
const FORBIDDEN_CLOSE_CODE = 4403;

export class LiveLink {
  /**
   * onMessage(message) gets every parsed server message; onState(state, info) gets
   * "connecting" | "online" | "offline" with {retryInMs} when a reconnect is scheduled.
   */
  constructor(path, { onMessage, onState }) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
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
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("online", {});
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("ignored a console message that is not JSON", event.data);
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
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
