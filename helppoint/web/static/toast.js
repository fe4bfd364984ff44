// Toasts: every failed request says what went wrong, in the server's own words.

const ERROR_LIFETIME_MS = 12000;
const INFO_LIFETIME_MS = 5000;

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

/**
 * Show a message. kind: "error" | "success" | "info". Errors are announced assertively
 * (role=alert) and stay longer; every toast can be dismissed.
 */
export function toast(message, kind = "info", title = null) {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  const text = document.createElement("div");
  text.className = "toast-text";
  if (title) {
    const strong = document.createElement("strong");
    strong.className = "toast-title";
    strong.textContent = title;
    text.append(strong);
  }
  text.append(document.createTextNode(message));
  const close = document.createElement("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss message");
  close.textContent = "×";
  close.addEventListener("click", () => el.remove());
  el.append(text, close);
  container().append(el);
  setTimeout(() => el.remove(), kind === "error" ? ERROR_LIFETIME_MS : INFO_LIFETIME_MS);
  return el;
}

/** Show an error from a failed request (ApiError or anything else). */
export function toastError(error, title = null) {
  const message = error && error.message ? error.message : String(error);
  return toast(message, "error", title);
}
