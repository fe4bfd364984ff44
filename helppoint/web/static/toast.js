// Toasts: every failed request says what went wrong, in the server's own words. A busy console
// must stay readable: at most MAX_TOASTS are on screen (the oldest give way, messages before
// errors), and a toast with a key replaces the one with the same key instead of adding another.

import { _ } from "./i18n.js";

const ERROR_LIFETIME_MS = 12000;
const INFO_LIFETIME_MS = 5000;
export const MAX_TOASTS = 3;

function container() {
  let box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.className = "toasts";
    document.body.append(box);
  }
  return box;
}

function makeRoom(box) {
  const shown = [...box.children];
  while (shown.length >= MAX_TOASTS) {
    const oldest = shown.find((t) => !t.classList.contains("error")) || shown[0];
    shown.splice(shown.indexOf(oldest), 1);
    oldest.remove();
  }
}

function fill(el, message, title) {
  const text = el.querySelector(".toast-text");
  text.replaceChildren();
  if (title) {
    const strong = document.createElement("strong");
    strong.className = "toast-title";
    strong.textContent = title;
    text.append(strong);
  }
  text.append(document.createTextNode(message));
}

/**
 * Show a message. kind: "error" | "success" | "info". Errors are announced assertively
 * (role=alert) and stay longer; every toast can be dismissed. options.key: a toast with the
 * same key still on screen is updated in place (and its time restarts).
 */
export function toast(message, kind = "info", title = null, { key = null } = {}) {
  const box = container();
  let el = key ? [...box.children].find((t) => t.dataset.key === key) : null;
  if (el) {
    clearTimeout(Number(el.dataset.timer));
    el.className = `toast ${kind}`;
  } else {
    makeRoom(box);
    el = document.createElement("div");
    el.className = `toast ${kind}`;
    if (key) el.dataset.key = key;
    const text = document.createElement("div");
    text.className = "toast-text";
    const close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", _("Dismiss message"));
    close.textContent = "×";
    close.addEventListener("click", () => el.remove());
    el.append(text, close);
    box.append(el);
  }
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  fill(el, message, title);
  const timer = setTimeout(() => el.remove(), kind === "error" ? ERROR_LIFETIME_MS : INFO_LIFETIME_MS);
  el.dataset.timer = String(timer);
  return el;
}

/** Show an error from a failed request (ApiError or anything else). */
export function toastError(error, title = null) {
  const message = error && error.message ? error.message : String(error);
  return toast(message, "error", title);
}
