// The JSON API client: one place that turns a failed request into an error with the
// server's own `detail` message.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

let clockOffsetMs = 0;
// What the answers so far prove of the server's clock against this one (ms): ahead of it by
// at least clockLow and by less than clockHigh (noteServerDate).
let clockLow = -Infinity;
let clockHigh = Infinity;
// How long before a request a server's Date header may have been made, beyond its one-second
// resolution (uvicorn refreshes it about once a second on its event loop, later when busy).
const DATE_LAG_MS = 3000;

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The CSRF token the server expects on every state-changing request (docs/security.md): it is
 * kept in the readable `helppoint_csrf` cookie, in step with the HttpOnly session cookie.
 */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "helppoint_csrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** Headers for a state-changing fetch made outside api() (e.g. plans.js). */
export function csrfHeaders(method = "POST") {
  return SAFE_METHODS.has(method.toUpperCase()) ? {} : { "X-CSRF-Token": csrfToken() };
}

/**
 * Date.now() corrected by what the server's answers prove of its clock: alarm timers use it,
 * so a wrong desk clock does not hide how long a press has waited.
 */
export function serverNow() {
  return Date.now() + clockOffsetMs;
}

/**
 * Narrow what is known of the server's clock by one answer, sent at `sentAt` and received now
 * (both by this clock). The server stamps every answer with its clock in milliseconds
 * (`Helppoint-Time`, made between the two), so it was ahead by at least (stamp - received)
 * and at most (stamp - sent). Without that header (a proxy that drops it), the `Date` header
 * narrows it less: one-second resolution, and a server may refresh it only once a second
 * (uvicorn does, on its loop), so it may have been made up to DATE_LAG_MS before the request
 * was sent. Each answer narrows the range; the correction is the point of it nearest zero:
 * none while this clock may be right. (Before, each answer's Date - received was taken as the
 * offset once over 2 s: an answer slowed by a busy server, in a storm, set every timer seconds
 * behind how long its press had waited; and then the Date header's own lag did, by a second.)
 */
function noteServerDate(response, sentAt) {
  const received = Date.now();
  let low;
  let high;
  const stamp = Number(response.headers.get("Helppoint-Time"));
  if (Number.isFinite(stamp) && stamp > 0) {
    // (1 ms either side: each clock is read in whole milliseconds)
    [low, high] = [stamp - received - 1, stamp - sentAt + 1];
  } else {
    const header = response.headers.get("Date");
    if (!header) return;
    const server = Date.parse(header);
    if (Number.isNaN(server)) return;
    [low, high] = [server - received, server + 1000 + DATE_LAG_MS - sentAt];
  }
  if (Math.max(clockLow, low) > Math.min(clockHigh, high)) {
    // Beyond what the earlier answers allowed: a clock was set since. Start again from this.
    [clockLow, clockHigh] = [low, high];
  } else {
    [clockLow, clockHigh] = [Math.max(clockLow, low), Math.min(clockHigh, high)];
  }
  clockOffsetMs = clockLow > 0 ? clockLow : clockHigh < 0 ? clockHigh : 0;
}

function describe(detail, status) {
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    // FastAPI validation errors: [{loc, msg, type}, ...]
    return detail.map((d) => (d && d.msg ? `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}` : String(d))).join("; ");
  }
  return `request failed (HTTP ${status})`;
}

/**
 * Call the API. `body` is sent as JSON. Resolves with the parsed JSON answer; rejects with
 * ApiError (status 0 when the server could not be reached). A 401 sends the browser to the
 * login page, since the session has ended.
 */
export async function api(path, { method = "GET", body = undefined, signal = undefined } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...csrfHeaders(method) },
    signal,
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  const sentAt = Date.now();
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the server. Check the network connection.");
  }
  noteServerDate(response, sentAt);
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401) {
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`/login?next=${next}`);
    }
    throw new ApiError(response.status, describe(data && data.detail, response.status));
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: "GET" });
export const post = (path, body = {}) => api(path, { method: "POST", body });
