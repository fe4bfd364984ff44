// Keyboard shortcuts for the console. They never fire while the operator is typing in a field,
// nor with Ctrl/Alt/Meta held (so browser shortcuts keep working).

import { isTypingTarget } from "./dom.js";
import { N_ } from "./i18n.js";

export const SHORTCUTS = [
  ["j / ↓", N_("Next incident in the queue (storm view: next tile; ↓ the tile below)")],
  ["k / ↑", N_("Previous incident in the queue (storm view: previous tile; ↑ the tile above)")],
  ["Enter / a", N_("Acknowledge the selected incident (storm view: and take it to the panel)")],
  ["f", N_("Close the selected incident as a false activation (acknowledges it too); storm view: the chosen tiles, or the focused one")],
  ["r", N_("Another false reason for f (accidental, malicious, test)")],
  ["w", N_("Take the next alarm nobody has claimed (the server picks it and acknowledges it for you)")],
  ["g", N_("Storm view: every open alarm as a tile, or back to the queue")],
  ["Space", N_("Storm view: choose the focused tile (← → move between tiles)")],
  ["s", N_("Storm view: choose every tile judged silent")],
  ["l", N_("Listen in at the unit without answering (again: stop)")],
  ["c", N_("Go to the classification")],
  ["n", N_("Write a note")],
  ["x", N_("Close the selected incident (needs a classification)")],
  ["m", N_("Mute or unmute the alarm sound")],
  ["t", N_("Answer the call with the unit (or re-establish it)")],
  ["u", N_("Mute or unmute your microphone in the call")],
  ["h", N_("Hang up the call")],
  ["?", N_("Show this help")],
  ["Esc", N_("Close a dialog or the storm view, or leave the field you are typing in")],
];

const KEYS = {
  j: "next",
  ArrowDown: "next",
  k: "previous",
  ArrowUp: "previous",
  a: "acknowledge",
  f: "weedOut",
  r: "reason",
  w: "takeNext",
  g: "storm",
  s: "chooseSilent",
  l: "listen",
  c: "classify",
  n: "note",
  x: "close",
  m: "mute",
  "?": "help",
};

/**
 * handlers: next, previous, acknowledge, weedOut, reason, takeNext, storm, listen, classify,
 * note, close, mute, help; left, right, toggle (Space), chooseSilent and escape are for the
 * storm view. A handler that returns false did nothing: the key keeps its usual effect.
 */
export function installShortcuts(handlers) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    const target = event.target;
    if (event.key === "Escape") {
      // Dialogs close themselves on Esc; in a field, Esc hands the keys back to the shortcuts.
      if (isTypingTarget(target)) target.blur();
      else if (!document.querySelector("dialog[open]") && handlers.escape) handlers.escape(event);
      return;
    }
    if (isTypingTarget(target)) return;
    if (document.querySelector("dialog[open]")) return;
    // Enter on a focused button or link must activate that, not acknowledge something else.
    // Buttons clicked with the mouse give their focus back (releaseFocusAfterClick), so this
    // holds only for a control the operator moved to with Tab.
    const onControl = target instanceof Element && target.closest("button, a, summary, [role=button], [role=checkbox]");
    let handler = null;
    if (event.key === "Enter") {
      if (!onControl) handler = handlers.acknowledge;
    } else if (event.key === " ") {
      if (!onControl && handlers.toggle) handler = handlers.toggle;
    } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      handler = event.key === "ArrowLeft" ? handlers.left : handlers.right;
    } else if (KEYS[event.key]) {
      handler = handlers[KEYS[event.key]];
    } else {
      // Call keys press the call block's buttons, so they do exactly what a click does.
      const button = { t: "call-answer", u: "call-mute", h: "call-hangup" }[event.key];
      if (button) handler = () => clickButton(button);
    }
    if (!handler) return;
    // Arrow keys inside the map pan it; leave them alone there.
    if (event.key.startsWith("Arrow") && target instanceof Element && target.closest(".leaflet-container")) return;
    if (handler(event) === false) return;
    event.preventDefault();
  });
}

/**
 * A button clicked with the mouse keeps the keyboard focus, so the next Enter would press it
 * again (toggling the sound, say) instead of acting on the queue: give the focus back to the
 * page after a pointer click. A control reached with Tab (a click with detail 0) keeps it.
 */
export function releaseFocusAfterClick(root = document) {
  root.addEventListener("click", (event) => {
    if (event.detail === 0) return;
    const control = event.target instanceof Element && event.target.closest("button, summary, [role=button]");
    if (control && !control.closest("dialog") && document.activeElement === control) control.blur();
  });
  // A closed dialog hands the focus back to the button that opened it: take it from there too.
  root.addEventListener("close", (event) => {
    if (!(event.target instanceof HTMLDialogElement)) return;
    const focused = document.activeElement;
    if (focused instanceof Element && focused.closest("button, summary, [role=button]") && !focused.closest("dialog")) focused.blur();
  }, { capture: true });
}

function clickButton(id) {
  const button = document.getElementById(id);
  if (button && !button.disabled) button.click();
}
