// The audible alarm, generated with the Web Audio API (no audio files). Browsers allow sound
// only after a user gesture, so the page asks for one click and the first gesture unlocks it.
//
// One sound at a time: every pattern and chime is scheduled after the one playing, so fifty
// alarms in three seconds give one alarm tone that repeats, never fifty on top of each other.
// The tone's urgency rises with what waits (how many alarms, how long the oldest has waited).

import { _ } from "./i18n.js";

/** Pause between repeats of the alarm pattern at each urgency (0: calm … 2: most urgent). */
const REPEAT_MS = [4000, 2500, 1200];
/** A sound asked for while this much is already scheduled is dropped, not queued. */
const MAX_AHEAD_S = 0.5;
/** Silence kept between two sounds, in seconds. */
const GAP_S = 0.05;

/** The alarm pattern at each urgency: [frequency Hz, start s, duration s] notes. */
const PATTERNS = [
  // Two-tone, three pulses: distinctive and hard to sleep through.
  [[988, 0.0, 0.18], [740, 0.22, 0.18], [988, 0.44, 0.18], [740, 0.66, 0.18], [988, 0.88, 0.18], [740, 1.1, 0.3]],
  // Higher and quicker: several alarms wait, or one has waited past the first target.
  [[1175, 0.0, 0.14], [880, 0.17, 0.14], [1175, 0.34, 0.14], [880, 0.51, 0.14], [1175, 0.68, 0.14], [880, 0.85, 0.22]],
  // Many waiting, or past the second target: fast, high, insistent.
  [[1319, 0.0, 0.1], [988, 0.12, 0.1], [1319, 0.24, 0.1], [988, 0.36, 0.1], [1319, 0.48, 0.1], [988, 0.6, 0.1], [1319, 0.72, 0.18]],
];
const CHIME = [[660, 0, 0.25]];
/** A note stops this long after its fade-out ends (before the next note starts). */
const TAIL_S = 0.005;

export class AlarmSound {
  /** button: the header toggle; prompt: the "enable sound" banner (hidden once unlocked). */
  constructor(button, prompt) {
    this.button = button;
    this.prompt = prompt;
    this.context = null;
    this.muted = false;
    this.alerting = false;
    this.urgency = 0;
    this.timer = null;
    this.tonesPlayed = 0;
    this.busyUntil = 0; // context time when the last scheduled sound ends
    this.sources = new Set(); // oscillators scheduled and not yet ended
    this.unlockedBy = null;
    const unlock = (event) => {
      if (this.state === "locked") {
        this.unlock();
        // The same click or key must not also toggle mute (see toggle()).
        this.unlockedBy = event;
      }
    };
    // Any click or key press counts as the gesture; the banner's button is the obvious one.
    // "click", not "pointerdown": hiding the banner moves the page up, and doing that between
    // mouse down and mouse up would make the operator's first click miss its button.
    document.addEventListener("click", unlock, { capture: true });
    document.addEventListener("keydown", unlock, { capture: true });
    button.addEventListener("click", (event) => this.toggle(event));
    this.render();
  }

  get state() {
    if (!this.context || this.context.state !== "running") return "locked";
    return this.muted ? "muted" : "on";
  }

  unlock() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!this.context) {
      try {
        this.context = new Context();
      } catch (error) {
        console.warn("audio is not available", error);
        return;
      }
      this.context.addEventListener("statechange", () => this.render());
    }
    if (this.context.state === "suspended") {
      this.context.resume().then(() => {
        this.render();
        this.restartLoop();
      }).catch(() => {});
    }
    this.render();
    this.restartLoop();
  }

  /** The mute button or key: unlock sound if still locked, otherwise mute or unmute. */
  toggle(event = null) {
    if (event && event === this.unlockedBy) return;
    if (this.state === "locked") this.unlock();
    else this.setMuted(!this.muted);
  }

  setMuted(muted) {
    this.muted = muted;
    if (muted) this.silence();
    this.render();
    this.restartLoop();
  }

  /** Stop whatever is playing or scheduled, at once. */
  silence() {
    for (const osc of this.sources) {
      try {
        osc.stop();
      } catch {
        // already stopped
      }
    }
    this.sources.clear();
    if (this.context) this.busyUntil = this.context.currentTime;
  }

  /**
   * Whether any activation is waiting to be acknowledged (the alarm repeats while true), and
   * how urgent it is: 0, 1 or 2. A rise in urgency sounds the new tone at once.
   */
  setAlerting(alerting, urgency = 0) {
    const level = Math.max(0, Math.min(PATTERNS.length - 1, urgency));
    if (alerting === this.alerting && level === this.urgency) return;
    const rose = alerting && (!this.alerting || level > this.urgency);
    this.alerting = alerting;
    this.urgency = level;
    document.body.dataset.alerting = String(alerting);
    document.body.dataset.urgency = String(alerting ? level : 0);
    if (!alerting) this.silence();
    if (rose || !alerting) this.restartLoop();
    else this.schedule();
  }

  /** A new activation arrived: sound now, unless the alarm is sounding already. */
  alarmNow() {
    if (this.playing()) return;
    this.restartLoop();
  }

  /** A short single chime (a new tamper or fault, the police acknowledged): after what plays. */
  chime() {
    if (this.state !== "on") return;
    this.tone(CHIME);
  }

  playing() {
    return Boolean(this.context) && this.busyUntil > this.context.currentTime;
  }

  restartLoop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.alerting || this.state !== "on") return;
    this.tone(PATTERNS[this.urgency]);
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.alerting || this.state !== "on") return;
    // The next repeat counts from the end of what is playing, so the pause stays a pause.
    const remainingMs = Math.max(0, (this.busyUntil - this.context.currentTime) * 1000);
    this.timer = setTimeout(() => {
      this.tone(PATTERNS[this.urgency]);
      this.schedule();
    }, remainingMs + REPEAT_MS[this.urgency]);
  }

  /**
   * Play [frequency Hz, start s, duration s] notes with soft edges (no clicks), after whatever
   * is already playing. Returns false when dropped: too much is scheduled already.
   */
  tone(notes) {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return false;
    const now = ctx.currentTime + 0.02;
    if (this.busyUntil - now > MAX_AHEAD_S) return false;
    const begin = Math.max(now, this.busyUntil + GAP_S);
    let end = begin;
    for (const [frequency, start, duration] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "triangle";
      osc.frequency.value = frequency;
      const t0 = begin + start;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.35, t0 + 0.02);
      gain.gain.setValueAtTime(0.35, t0 + duration - 0.04);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + duration);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + duration + TAIL_S);
      this.sources.add(osc);
      osc.addEventListener("ended", () => this.sources.delete(osc));
      end = Math.max(end, t0 + duration + TAIL_S);
    }
    this.busyUntil = end;
    this.tonesPlayed += 1;
    this.button.dataset.tones = String(this.tonesPlayed);
    return true;
  }

  render() {
    const state = this.state;
    this.button.dataset.state = state;
    this.button.textContent =
      state === "locked" ? _("Enable sound") : state === "muted" ? _("Sound muted") : _("Sound on");
    this.button.title =
      state === "locked" ? _("Click to allow the alarm sound") : state === "muted" ? _("Click to unmute") : _("Click to mute (m)");
    if (this.prompt) this.prompt.hidden = state !== "locked";
  }
}
