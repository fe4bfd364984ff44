// Admin page for the messages units play: list, upload (the audio file as the request body),
// remove. State-changing requests carry the CSRF header from api.js.

import { ApiError, api, csrfHeaders, get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toast, toastError } from "./toast.js";

const list = document.getElementById("prompts-list");
const statusLine = document.getElementById("prompts-status");
const form = document.getElementById("prompt-form");
const error = document.getElementById("prompt-error");

function row(p) {
  const audio = p.builtin
    ? "built in (spoken by the unit)"
    : `${p.format.toUpperCase()}, ${(p.duration_ms / 1000).toFixed(1)} s, ${Math.ceil(p.size / 1024)} KiB · SHA-256 ${p.sha256.slice(0, 12)}…`;
  const remove = p.builtin
    ? null
    : h("button", { type: "button", class: "danger", dataset: { name: p.name }, onclick: () => removePrompt(p.name) }, `Remove ${p.name}`);
  return h("tr", { dataset: { prompt: p.name } },
    h("td", {}, h("code", {}, p.name)),
    h("td", {}, p.title),
    h("td", {}, audio),
    h("td", {}, p.builtin ? "" : `${dateTime(p.uploaded_at)} by ${p.uploaded_by}`),
    h("td", {}, remove));
}

async function load() {
  try {
    const prompts = await get("/api/prompts");
    replaceChildren(list, prompts.map(row));
    const custom = prompts.filter((p) => !p.builtin).length;
    statusLine.textContent = `${prompts.length} messages (${custom} uploaded).`;
  } catch (e) {
    toastError(e, "Could not load the messages");
  }
}

async function removePrompt(name) {
  try {
    await api(`/api/admin/prompts/${encodeURIComponent(name)}`, { method: "DELETE" });
    toast(`Removed ${name}`, "success");
    load();
  } catch (e) {
    toastError(e, `Could not remove ${name}`);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const name = document.getElementById("prompt-name").value.trim();
  const title = document.getElementById("prompt-title").value.trim();
  const file = document.getElementById("prompt-file").files[0];
  if (!file) return;
  const url = `/api/admin/prompts/${encodeURIComponent(name)}?title=${encodeURIComponent(title)}`;
  try {
    const response = await fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": file.type || "application/octet-stream", Accept: "application/json", ...csrfHeaders("PUT") },
      body: file,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, typeof data.detail === "string" ? data.detail : `upload failed (HTTP ${response.status})`);
    toast(`Uploaded ${data.name} (${(data.duration_ms / 1000).toFixed(1)} s)`, "success");
    form.reset();
    load();
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
    toastError(e, "Upload refused");
  }
});

load();
