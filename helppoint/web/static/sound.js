// The audible alarm, generated with the Web Audio API (no audio files). Browsers allow sound
// only after a user gesture, so the page asks for one click and the first gesture unlocks it.

const REPEAT_MS = 4000;

export class AlarmSound {
  /** button: the header toggle; prompt: the "enable sound" banner (hidden once unlocked). */
  constructor(button, prompt) {
    this.button = button;
    this.prompt = prompt;
    this.context = null;
    this.muted = false;
    this.alerting = false;
    this.timer = null;
    this.tonesPlayed = 0;
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
    this.render();
    this.restartLoop();
  }

  /** Whether any activation is waiting to be acknowledged: repeats the alarm while true. */
  setAlerting(alerting) {
    if (alerting === this.alerting) return;
    this.alerting = alerting;
    document.body.dataset.alerting = String(alerting);
    this.restartLoop();
  }

  /** A new activation arrived: sound at once, even if the loop was already running. */
  alarmNow() {
    this.restartLoop();
  }

  /** A short single chime for a new tamper or fault. */
  chime() {
    if (this.state !== "on") return;
    this.tone([[660, 0, 0.25]]);
  }

  restartLoop() {
    clearInterval(this.timer);
    this.timer = null;
    if (!this.alerting || this.state !== "on") return;
    this.alarmPattern();
    this.timer = setInterval(() => this.alarmPattern(), REPEAT_MS);
  }

  alarmPattern() {
    // Two-tone, three pulses: distinctive and hard to sleep through.
    this.tone([
      [988, 0.0, 0.18], [740, 0.22, 0.18],
      [988, 0.44, 0.18], [740, 0.66, 0.18],
      [988, 0.88, 0.18], [740, 1.1, 0.3],
    ]);
  }

  /** Play [frequency Hz, start s, duration s] notes with soft edges (no clicks). */
  tone(notes) {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return;
    const now = ctx.currentTime + 0.02;
    for (const [frequency, start, duration] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "triangle";
      osc.frequency.value = frequency;
      const t0 = now + start;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.35, t0 + 0.02);
      gain.gain.setValueAtTime(0.35, t0 + duration - 0.04);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + duration);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + duration + 0.05);
    }
    this.tonesPlayed += 1;
    this.button.dataset.tones = String(this.tonesPlayed);
  }

  render() {
    const state = this.state;
    this.button.dataset.state = state;
    this.button.textContent =
      state === "locked" ? "Enable sound" : state === "muted" ? "Sound muted" : "Sound on";
    this.button.title =
      state === "locked" ? "Click to allow the alarm sound" : state === "muted" ? "Click to unmute" : "Click to mute (m)";
    if (this.prompt) this.prompt.hidden = state !== "locked";
  }
}
