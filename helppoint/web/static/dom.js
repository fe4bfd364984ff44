// Small DOM helpers. Text always goes in through textContent, never innerHTML, so data from
// units and operators can never inject markup.

/**
 * Create an element: h("button", {class: "primary", onclick: fn}, "Acknowledge").
 * Attributes whose value is null, undefined or false are left out; true gives an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of el. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * Set an element's text only if it differs: setting the same text still replaces the text node
 * and makes the browser lay the page out again, which a live page redrawn many times a second
 * should not pay for nothing.
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** True when a key press is aimed at a field the user is typing in. */
export function isTypingTarget(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["button", "submit", "reset", "checkbox", "radio"].includes(type);
  }
  return false;
}
