// The supervisors' persistent panel of notifications in trouble (retrying, overdue, given
// up): shown on the console and the SLA page until nothing is in trouble.

import { get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";

const REFRESH_MS = 10000;
const panel = document.getElementById("notification-trouble");
const list = document.getElementById("notification-trouble-list");
const title = document.getElementById("notification-trouble-title");

function item(n) {
  const to = n.target || "console";
  const when =
    n.state === "retrying" && n.next_attempt_at
      ? `; next try ${dateTime(n.next_attempt_at)}`
      : n.state === "overdue" && n.deadline_at
        ? `; deadline was ${dateTime(n.deadline_at)}`
        : "";
  const closed = n.incident_open ? "" : " (incident closed)";
  return h(
    "li",
    { dataset: { notification: String(n.id), state: n.state } },
    h("strong", {}, `${n.incident_ref}${closed}: ${n.kind} by ${n.channel} to ${to}`),
    ` ${n.state}, failing since ${dateTime(n.since)}, ${n.attempts} attempt${n.attempts === 1 ? "" : "s"}${when}`,
    n.last_error ? h("div", { class: "trouble-error" }, n.last_error) : "",
  );
}

async function refresh() {
  try {
    const troubles = await get("/api/notifications/trouble");
    panel.hidden = troubles.length === 0;
    title.textContent = `${troubles.length} notification${troubles.length === 1 ? "" : "s"} in trouble`;
    replaceChildren(list, troubles.map(item));
  } catch {
    // The page's own link indicator reports a lost server; keep what was shown.
  }
}

if (panel) {
  refresh();
  setInterval(refresh, REFRESH_MS);
}
