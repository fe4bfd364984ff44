// Admin page for the messages units play: list, upload (the audio file as the request body),
// remove. State-changing requests carry the CSRF header from api.js.

import { ApiError, api, csrfHeaders, get } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { dateTime } from "./format.js";
import { toast, toastError } from "./toast.js";
import { _ } from "./i18n.js";

const list = document.getElementById("prompts-list");
const statusLine = document.getElementById("prompts-status");
const form = document.getElementById("prompt-form");
const error = document.getElementById("prompt-error");

function row(p) {
  const audio = p.builtin
    ? _("built in (spoken by the unit)")
    : `${p.format.toUpperCase()}, ${(p.duration_ms / 1000).toFixed(1)} s, ${Math.ceil(p.size / 1024)} KiB · SHA-256 ${p.sha256.slice(0, 12)}…`;
  const remove = p.builtin
    ? null
    : h("button", { type: "button", class: "danger", dataset: { name: p.name }, onclick: () => removePrompt(p.name) }, _("Remove %(name)s", { name: p.name }));
  return h("tr", { dataset: { prompt: p.name } },
    h("td", {}, h("code", {}, p.name)),
    h("td", {}, p.title),
    h("td", {}, audio),
    h("td", {}, p.builtin ? "" : _("%(time)s by %(user)s", { time: dateTime(p.uploaded_at), user: p.uploaded_by })),
    h("td", {}, remove));
}

async function load() {
  try {
    const prompts = await get("/api/prompts");
    replaceChildren(list, prompts.map(row));
    const custom = prompts.filter((p) => !p.builtin).length;
    statusLine.textContent = _("%(count)s messages (%(custom)s uploaded).", { count: prompts.length, custom });
  } catch (e) {
    toastError(e, _("Could not load the messages"));
  }
}

async function removePrompt(name) {
  try {
    await api(`/api/admin/prompts/${encodeURIComponent(name)}`, { method: "DELETE" });
    toast(_("Removed %(name)s", { name }), "success");
    load();
  } catch (e) {
    toastError(e, _("Could not remove %(name)s", { name }));
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
    if (!response.ok) throw new ApiError(response.status, typeof data.detail === "string" ? data.detail : _("upload failed (HTTP %(status)s)", { status: response.status }));
    toast(_("Uploaded %(name)s (%(seconds)s s)", { name: data.name, seconds: (data.duration_ms / 1000).toFixed(1) }), "success");
    form.reset();
    load();
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
    toastError(e, _("Upload refused"));
  }
});

load();
