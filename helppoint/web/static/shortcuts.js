// Keyboard shortcuts for the console. They never fire while the operator is typing in a field,
// nor with Ctrl/Alt/Meta held (so browser shortcuts keep working).

import { isTypingTarget } from "./dom.js";

export const SHORTCUTS = [
  ["j / ↓", "Next incident in the queue"],
  ["k / ↑", "Previous incident in the queue"],
  ["Enter / a", "Acknowledge the selected incident"],
  ["c", "Go to the classification"],
  ["n", "Write a note"],
  ["x", "Close the selected incident (needs a classification)"],
  ["m", "Mute or unmute the alarm sound"],
  ["t", "Answer the call with the unit (or re-establish it)"],
  ["u", "Mute or unmute your microphone in the call"],
  ["h", "Hang up the call"],
  ["?", "Show this help"],
  ["Esc", "Close a dialog, or leave the field you are typing in"],
];

/** handlers: next, previous, acknowledge, classify, note, close, mute, help. */
export function installShortcuts(handlers) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    const target = event.target;
    if (event.key === "Escape") {
      // Dialogs close themselves on Esc; in a field, Esc hands the keys back to the shortcuts.
      if (isTypingTarget(target)) target.blur();
      return;
    }
    if (isTypingTarget(target)) return;
    if (document.querySelector("dialog[open]")) return;
    // Enter on a focused button or link must activate that, not acknowledge something else.
    const onControl = target instanceof Element && target.closest("button, a, summary, [role=button]");
    let handler = null;
    switch (event.key) {
      case "j":
      case "ArrowDown":
        handler = handlers.next;
        break;
      case "k":
      case "ArrowUp":
        handler = handlers.previous;
        break;
      case "Enter":
        if (!onControl) handler = handlers.acknowledge;
        break;
      case "a":
        handler = handlers.acknowledge;
        break;
      case "c":
        handler = handlers.classify;
        break;
      case "n":
        handler = handlers.note;
        break;
      case "x":
        handler = handlers.close;
        break;
      case "m":
        handler = handlers.mute;
        break;
      case "?":
        handler = handlers.help;
        break;
      // Call keys press the call block's buttons, so they do exactly what a click does.
      case "t":
        handler = () => clickButton("call-answer");
        break;
      case "u":
        handler = () => clickButton("call-mute");
        break;
      case "h":
        handler = () => clickButton("call-hangup");
        break;
      default:
        break;
    }
    if (!handler) return;
    // Arrow keys inside the map pan it; leave them alone there.
    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && target instanceof Element && target.closest(".leaflet-container")) return;
    event.preventDefault();
    handler(event);
  });
}

function clickButton(id) {
  const button = document.getElementById(id);
  if (button && !button.disabled) button.click();
}
