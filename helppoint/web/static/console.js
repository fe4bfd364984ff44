// The operator console: wires the live link, the queue, the map, the sound and the incident panel.

import { get, post } from "./api.js";
import { clock, timeOfDay } from "./format.js";
import { h, replaceChildren, setText } from "./dom.js";
import { IncidentPanel } from "./incident-panel.js";
import { LiveLink } from "./live.js";
import { STATUS_LABELS, UnitMap, unitStatus } from "./map.js";
import { IncidentStore, QueueView, ageSeconds, answerTargets, holdersLine, setAnswerTargets } from "./queue.js";
import { SHORTCUTS, installShortcuts, releaseFocusAfterClick } from "./shortcuts.js";
import { AlarmSound } from "./sound.js";
import { toast, toastError } from "./toast.js";
import { Triage, holderOf } from "./triage.js";
import { StormView } from "./storm.js";
import { listenEnded, onListeningChange, toggleListening } from "./listen.js";
import { tileOptions } from "./tiles.js";
import { N_, _, ngettext } from "./i18n.js";

const BASE_TITLE = _("Console · helppoint");

const root = document.getElementById("console");
const config = {
  tilesUrl: root.dataset.tilesUrl || "",
  tileOptions: tileOptions(root.dataset),
  demo: root.dataset.demo === "true",
};
const classifications = JSON.parse(document.getElementById("classifications-data").textContent || "[]");
// What the server's rules say (web/triage.py console_config): nothing of it is hard-coded here.
const serverConfig = JSON.parse(document.getElementById("console-config").textContent || "{}");
const me = document.getElementById("current-user")?.dataset.username || "";
setAnswerTargets(serverConfig.answer_targets);

const units = new Map(); // id -> unit (with .connected)
const zones = new Map(); // id -> zone
const store = new IncidentStore();
let selectedId = null;
let haveSnapshot = false;
let retryAt = null;

const el = {
  queue: document.getElementById("queue"),
  queueCount: document.getElementById("queue-count"),
  queuePane: document.getElementById("queue-pane"),
  panel: document.getElementById("incident-panel"),
  units: document.getElementById("units"),
  banner: document.getElementById("connection-banner"),
  bannerAlert: document.getElementById("connection-alert"),
  bannerCountdown: document.getElementById("connection-countdown"),
  retry: document.getElementById("connection-retry"),
  status: document.getElementById("link-status"),
  announcer: document.getElementById("announcer"),
  waiting: document.getElementById("waiting-line"),
  waitingCount: document.getElementById("waiting-count"),
  waitingOldest: document.getElementById("waiting-oldest"),
  help: document.getElementById("shortcuts-dialog"),
  stormOpen: document.getElementById("storm-open"),
  holders: document.getElementById("holders-line"),
  stormHint: document.getElementById("storm-hint"),
  stormCount: document.getElementById("storm-count"),
  stormCloseChosen: document.getElementById("storm-close-chosen"),
  stormReasonLabel: document.getElementById("storm-reason-label"),
};

const zoneName = (id) => (zones.get(id) ? zones.get(id).name : id || "no zone");
const unitConnected = (id) => Boolean(units.get(id) && units.get(id).connected);

const sound = new AlarmSound(document.getElementById("sound-toggle"), document.getElementById("sound-banner"));
document.getElementById("sound-enable").addEventListener("click", () => sound.unlock());

const queueView = new QueueView(el.queue, el.queueCount, { zoneName, me, onSelect: (id) => select(id) });

const unitMap = new UnitMap(document.getElementById("map"), document.getElementById("map-note"), {
  tilesUrl: config.tilesUrl,
  tileOptions: config.tileOptions,
  onUnitClick: (unitId) => {
    const incident = store.byUnit().get(unitId);
    if (incident) select(incident.id);
  },
});

const triage = new Triage({
  reasons: serverConfig.weed_out_reasons,
  dialog: document.getElementById("weed-confirm"),
  onIncident: (incident) => {
    if (applyIncident(incident, { fromServerPush: false })) panel.update(incident);
  },
  onReason: (reason) => {
    panel.updateWeedOut();
    renderStormBar();
    announce(_("False reason: %(reason)s", { reason: reason.label }));
  },
});

const panel = new IncidentPanel(el.panel, {
  classifications,
  zoneName,
  unitConnected,
  me,
  triage,
  onIncident: (incident) => applyIncident(incident, { fromServerPush: false }),
  onClosedHere: () => selectNext(),
  onWeedOut: (incident) => weedOut(incident),
  onNextReason: () => triage.nextReason(),
  onListen: (incident) => listenIn(incident),
});

// ---------- the storm view ----------

let storming = false;
const storm = new StormView(document.getElementById("storm"), document.getElementById("storm-grid"), {
  me,
  triage,
  onOpen: (incident) => openFromStorm(incident),
  onWeedOut: (incident) => weedOut(incident),
  onChosen: () => renderStormBar(),
});

function setStorm(on) {
  storming = on;
  root.classList.toggle("storming", on);
  if (on) {
    storm.render(store.sorted());
    storm.show();
  } else {
    storm.hide();
    el.queue.focus({ preventScroll: true });
  }
  render();
}

/** Enter on a tile: acknowledge it (if nobody has) and take it to the incident panel. */
function openFromStorm(incident) {
  if (!incident) return;
  setStorm(false);
  select(incident.id);
  if (incident.state === "new") panel.acknowledge();
}

function renderStormBar() {
  const reason = triage.reason;
  const chosen = storm.chosenIncidents().length;
  setText(el.stormReasonLabel, reason.label);
  el.stormCloseChosen.disabled = chosen === 0;
  setText(el.stormCloseChosen, _("Close %(chosen)s chosen as %(reason)s", { chosen, reason: reason.label }));
  const alarms = storm.order.length;
  const waiting = storm.order.filter((i) => i.state === "new").length;
  setText(el.stormCount, _("%(alarms)s open · %(waiting)s waiting · %(chosen)s chosen", { alarms, waiting, chosen }));
}

async function weedOutChosen() {
  const chosen = storm.chosenIncidents();
  if (chosen.length) await triage.weedOutMany(chosen);
  else await weedOut(storm.focused);
}

/** More alarms than the queue can show: offer the storm view. */
function suggestStorm() {
  const hidden = el.queuePane.scrollHeight > el.queuePane.clientHeight + 4;
  const waiting = store.unacknowledged().filter((i) => i.kind === "activation").length;
  const suggest = !storming && hidden && waiting > 1;
  el.stormOpen.classList.toggle("suggested", suggest);
  el.stormHint.hidden = !suggest;
  if (suggest) setText(el.stormHint, _("%(waiting)s alarms waiting, more than the queue shows: press g for the storm view", { waiting }));
}

/** w: the server picks the next alarm nobody has claimed and acknowledges it for you. */
async function takeNext() {
  try {
    const answer = await post("/api/incidents/take-next");
    if (!answer.incident) {
      toast(_("No alarm is waiting for anyone."), "info", null, { key: "take-next" });
      return;
    }
    applyIncident(answer.incident, { fromServerPush: false });
    if (storming) setStorm(false);
    select(answer.incident.id);
    announce(_("Yours: %(ref)s, %(unit)s", { ref: answer.incident.ref, unit: answer.incident.unit_name }));
  } catch (error) {
    toastError(error, _("Could not take the next alarm"));
  }
}

/** Why listening in stopped by itself (the server's listen ended; EndReason values). */
const LISTEN_ENDED = {
  listened: N_("Listening in ended: the time for listening is up. Press l to listen again."),
  answered: N_("Listening in ended: the call was answered."),
  incident_closed: N_("Listening in ended: the incident was closed."),
  unit_lost: N_("Listening in ended: the unit's audio was lost. Press l to try again."),
  server_stopped: N_("Listening in ended: the server stopped."),
};

async function listenIn(incident) {
  if (!incident || !incident.id) {
    toast(_("No incident selected."), "info");
    return;
  }
  try {
    const listening = await toggleListening(incident.id);
    announce(listening ? _("Listening in at %(unit)s", { unit: incident.unit_name }) : _("Stopped listening in"));
  } catch (error) {
    toastError(error, _("Could not listen in"));
  }
}
onListeningChange((incidentId) => panel.listeningChanged(incidentId));

// ---------- state changes ----------

function announce(text) {
  el.announcer.textContent = "";
  // A separate task so screen readers notice the change even for a repeated text.
  setTimeout(() => {
    el.announcer.textContent = text;
  }, 50);
}

// New alarms are announced together: fifty in three seconds are one sentence, not fifty.
const arrivals = { names: [], timer: null };

function announceArrival(text) {
  arrivals.names.push(text);
  if (arrivals.timer) return;
  arrivals.timer = setTimeout(() => {
    const names = arrivals.names;
    arrivals.names = [];
    arrivals.timer = null;
    announce(names.length === 1 ? names[0] : _("%(count)s new alarms; the latest: %(latest)s", { count: names.length, latest: names[names.length - 1] }));
  }, 1000);
}

function applyIncident(incident, { fromServerPush }) {
  const before = store.get(incident.id);
  if (fromServerPush && before && holderOf(before) && holderOf(incident) === me && holderOf(before) !== me && incident.state !== "closed") {
    // A supervisor gave this one to you.
    sound.chime();
    const text = _("%(ref)s (%(unit)s) was moved to you from %(holder)s", { ref: incident.ref, unit: incident.unit_name, holder: holderOf(before) });
    announce(text);
    toast(text, "info", _("Yours now"), { key: "moved" });
  }
  const { added, stale } = store.apply(incident);
  if (stale) return false; // news from before a close that has already been shown
  if (fromServerPush && incident.state !== "closed") {
    const zone = zoneName(incident.zone_id);
    if (added && incident.state === "new") {
      if (incident.kind === "activation") {
        sound.alarmNow();
        announceArrival(_("New alarm: %(unit)s, %(zone)s", { unit: incident.unit_name, zone }));
      } else {
        sound.chime();
        announceArrival(_("New %(kind)s: %(unit)s, %(zone)s", { kind: incident.kind, unit: incident.unit_name, zone }));
      }
    } else if (before && incident.event_count > before.event_count && incident.kind === "activation") {
      // Someone pressing again is a reason to hurry, even once the alarm has been claimed.
      if (incident.state === "new") sound.alarmNow();
      else sound.chime();
      announce(_("%(unit)s pressed again (%(count)s presses)", { unit: incident.unit_name, count: incident.event_count }));
    }
  }
  if (fromServerPush) panel.update(incident);
  if (added && !store.get(selectedId)) {
    // The operator is looking at nothing open (or at a record someone else closed): show the
    // new incident rather than let it wait unseen.
    select(incident.id);
    return true;
  }
  if (fromServerPush) renderSoon();
  else render();
  return true;
}

function select(id) {
  selectedId = id;
  const incident = store.get(id) || null;
  panel.show(id, incident);
  render();
}

/**
 * The incident to work on next: the most urgent one nobody has claimed, else the most urgent
 * one this operator holds, else the most urgent of all.
 */
function nextForMe(except = null) {
  const list = store.sorted().filter((i) => i.id !== except && !triage.busy.has(i.id));
  return list.find((i) => i.state === "new") || list.find((i) => holderOf(i) === me) || list[0] || null;
}

function selectNext(except = null) {
  const next = nextForMe(except);
  if (next) select(next.id);
  else render();
}

async function weedOut(incident) {
  if (!incident || !incident.ref) {
    toast(_("No incident selected."), "info");
    return;
  }
  const wasSelected = selectedId === incident.id;
  const closed = await triage.weedOut(incident);
  // Done with it: the next alarm is selected at once, ready for the next key.
  if (closed && wasSelected && selectedId === incident.id) selectNext(incident.id);
}

function move(step) {
  const list = store.sorted();
  if (!list.length) return;
  const index = list.findIndex((i) => i.id === selectedId);
  const target = index === -1 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + step));
  if (list[target].id !== selectedId) select(list[target].id);
}

/** Pushes arriving within this many ms are drawn together. */
const RENDER_BATCH_MS = 100;
let renderTimer = null;

/**
 * Draw soon: a storm's burst of pushes (presses, judgements, stills, colleagues' actions) is
 * drawn once per batch instead of once per message, so the page keeps up on a busy machine.
 * The sound and the announcements do not wait for it.
 */
function renderSoon() {
  if (renderTimer === null) renderTimer = setTimeout(render, RENDER_BATCH_MS);
}

function render() {
  clearTimeout(renderTimer);
  renderTimer = null;
  const list = store.sorted();
  if (selectedId === null && list.length) {
    // Nothing chosen yet: put the most urgent incident in front of the operator.
    selectedId = list[0].id;
    panel.show(selectedId, list[0]);
  }
  if (haveSnapshot) queueView.render(list, selectedId);
  if (storming) storm.render(list);
  renderStormBar();
  suggestStorm();
  setText(el.holders, list.length ? holdersLine(list, me) : "");

  const byUnit = store.byUnit();
  const statusById = new Map();
  for (const unit of units.values()) statusById.set(unit.id, unitStatus(unit, byUnit.get(unit.id)));
  unitMap.render([...units.values()], statusById);
  const selected = panel.incident;
  unitMap.highlight(selected ? selected.unit_id : null);
  renderUnits(statusById);

  renderWaiting();
}

/**
 * What waits for acknowledgement, in one place: the tab's title, one header line that counts
 * and times them ("12 alarms waiting · oldest 00:45"), and the alarm tone, whose urgency rises
 * with how many wait and how long the oldest has (the scheme's answer-time targets).
 */
function renderWaiting() {
  const waiting = store.unacknowledged();
  const title = waiting.length
    ? ngettext("(%(num)s) ALARM · %(title)s", "(%(num)s) ALARMS · %(title)s", waiting.length, { title: BASE_TITLE })
    : BASE_TITLE;
  if (document.title !== title) document.title = title;
  const alarms = waiting.filter((i) => i.kind === "activation");
  const oldest = alarms.length ? Math.max(...alarms.map(ageSeconds)) : 0;
  const { warnAfterS, urgentAfterS } = answerTargets();
  const level = alarms.length >= 10 || oldest >= urgentAfterS ? 2 : alarms.length >= 3 || oldest >= warnAfterS ? 1 : 0;
  sound.setAlerting(alarms.length > 0, level);
  el.waiting.hidden = waiting.length === 0;
  el.waiting.dataset.count = String(waiting.length);
  const className = `waiting-line level-${waiting.length ? level : 0}`;
  if (el.waiting.className !== className) el.waiting.className = className;
  const text = ngettext("%(num)s alarm waiting", "%(num)s alarms waiting", waiting.length);
  // Only the count is announced; the ticking time is for the eye.
  setText(el.waitingCount, text);
  const oldestAll = waiting.length ? Math.max(...waiting.map(ageSeconds)) : 0;
  setText(el.waitingOldest, waiting.length ? _(" · oldest %(time)s", { time: clock(oldestAll) }) : "");
}

// The unit list's items by unit id: an item is updated in place, and only when its unit's
// status, name or zone changed, not on every batch of pushes (a focused Press button keeps
// its focus).
const unitItems = new Map(); // unit id -> {li, parts, drawn}

function renderUnits(statusById) {
  const sorted = [...units.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (!sorted.length) {
    unitItems.clear();
    if (!el.units.querySelector(".readonly-note")) replaceChildren(el.units, h("li", { class: "readonly-note" }, _("No units yet.")));
    return;
  }
  el.units.querySelector(".readonly-note")?.remove();
  const seen = new Set();
  sorted.forEach((unit, index) => {
    seen.add(unit.id);
    let item = unitItems.get(unit.id);
    if (!item) {
      item = unitItem(unit);
      unitItems.set(unit.id, item);
    }
    updateUnitItem(item, unit, statusById.get(unit.id));
    if (el.units.children[index] !== item.li) el.units.insertBefore(item.li, el.units.children[index] || null);
  });
  for (const [id, item] of unitItems) {
    if (!seen.has(id)) {
      item.li.remove();
      unitItems.delete(id);
    }
  }
}

function unitItem(unit) {
  const parts = {
    dot: h("span", { class: "dot", "aria-hidden": "true" }),
    name: h("span", { class: "uname" }),
    state: h("span", { class: "ustate" }),
    press: config.demo
      ? h("button", { type: "button", class: "press", onclick: () => demoPress(units.get(unit.id) || unit) }, _("Press"))
      : null,
  };
  const li = h("li", { dataset: { unit: unit.id } }, parts.dot, h("span", {}, parts.name, " ", parts.state), parts.press);
  return { li, parts, drawn: "" };
}

function updateUnitItem(item, unit, status) {
  const zone = zoneName(unit.zone_id);
  const drawn = JSON.stringify([status, unit.name, zone]);
  if (item.drawn === drawn) return;
  item.drawn = drawn;
  const { li, parts } = item;
  li.dataset.status = status;
  parts.dot.className = `dot ${status}`;
  parts.name.textContent = unit.name;
  parts.state.textContent = `${_(STATUS_LABELS[status])} · ${zone}`;
  if (parts.press) parts.press.setAttribute("aria-label", _("Press %(unit)s", { unit: unit.name }));
}

async function demoPress(unit) {
  try {
    await post(`/api/demo/press/${encodeURIComponent(unit.id)}`);
  } catch (error) {
    toastError(error, _("Could not press %(unit)s", { unit: unit.name }));
  }
}

// ---------- live link ----------

// Whether a unit is linked has two sources: the live feed (its snapshot, then every change in
// order) and GET /api/units. An HTTP answer can be older than what the feed has already said: it
// may be computed before a unit links and arrive after the feed's push about it. So once the
// feed has spoken about a unit, only the feed changes its `connected`.
const linkByFeed = new Map(); // unit id -> connected, as the feed last said

function mergeUnits(list, { fromFeed = false } = {}) {
  for (const unit of list) {
    if (fromFeed) linkByFeed.set(unit.id, Boolean(unit.connected));
    const merged = { ...(units.get(unit.id) || {}), ...unit };
    if (linkByFeed.has(unit.id)) merged.connected = linkByFeed.get(unit.id);
    units.set(unit.id, merged);
  }
}

function onMessage(message) {
  switch (message.type) {
    case "snapshot": {
      const known = new Set(store.byId.keys());
      linkByFeed.clear();
      mergeUnits(message.units || [], { fromFeed: true });
      store.replace(message.incidents || []);
      haveSnapshot = true;
      // Alarms that came in while we were disconnected are new to this operator.
      const missed = (message.incidents || []).filter((i) => i.state === "new" && !known.has(i.id));
      if (missed.some((i) => i.kind === "activation")) sound.alarmNow();
      render();
      panel.reload();
      break;
    }
    case "incident":
      applyIncident(message.incident, { fromServerPush: true });
      break;
    case "unit": {
      linkByFeed.set(message.unit.id, Boolean(message.unit.connected));
      const unit = units.get(message.unit.id);
      if (unit) {
        unit.connected = message.unit.connected;
        render();
        panel.unitChanged(unit.id);
      } else {
        loadUnits();
      }
      break;
    }
    case "command_result":
      panel.commandResult(message.result);
      break;
    case "notification":
      panel.notificationChanged(message.data);
      break;
    case "sla_alert":
      // An alarm nobody has acknowledged past the target: the waiting line and the tone say
      // so (the tone's urgency rises with the wait); a message per alarm would flood a storm.
      sound.alarmNow();
      renderWaiting();
      break;
    case "police":
      policeChanged(message.data);
      break;
    case "listen_ended":
      if (listenEnded(message.data)) announce(_(LISTEN_ENDED[message.data.reason] || N_("Listening in ended.")));
      break;
    case "supervisor_alert":
      if (/supervisor|admin/.test(document.querySelector("#current-user .role")?.textContent || "")) {
        toast(message.data.message, "error", message.data.title || _("Supervisor alert"));
      }
      break;
    default:
      console.debug("ignored console message", message.type);
  }
}

// Police acknowledgements already shown (incident id -> acknowledged_at).
const policeAcknowledged = new Map();

/** The police view changed an escalated incident: an acknowledgement is heard and shown. */
function policeChanged(incident) {
  const response = incident.police_response;
  if (!response || !response.acknowledged_at || policeAcknowledged.get(incident.id) === response.acknowledged_at) return;
  policeAcknowledged.set(incident.id, response.acknowledged_at);
  // Arrival on scene comes later and is shown in the panel; the chime is for the acknowledgement.
  if (response.on_scene_at) return;
  const shown = panel.incident && panel.incident.id === incident.id;
  if (!shown && incident.acknowledged_by !== me) return;
  sound.chime();
  const at = timeOfDay(response.acknowledged_at);
  const text = response.cad_reference
    ? _("Police acknowledged %(ref)s at %(time)s · reference %(reference)s", { ref: incident.ref, time: at, reference: response.cad_reference })
    : _("Police acknowledged %(ref)s at %(time)s", { ref: incident.ref, time: at });
  announce(text);
  if (shown) panel.policeAcknowledged(response);
  else toast(text, "success", _("Police"), { key: `police-${incident.id}` });
}

function onLinkState(state, info) {
  el.status.dataset.state = state;
  el.status.textContent = state === "online" ? _("Live") : state === "connecting" ? _("Connecting…") : _("Disconnected");
  el.queuePane.classList.toggle("stale", state !== "online");
  if (state === "forbidden") {
    el.banner.hidden = false;
    el.bannerAlert.textContent = _("The alarm queue is not available to your role: %(reason)s.", { reason: info.reason || _("ask a supervisor") });
    el.bannerCountdown.textContent = "";
    return;
  }
  if (state === "offline") {
    retryAt = Date.now() + (info.retryInMs || 0);
    if (el.banner.hidden) {
      el.banner.hidden = false;
      // Set once per outage, so screen readers announce it once, not every second.
      el.bannerAlert.textContent = _("Connection to the server lost: the alarm queue may be out of date.");
    }
    updateBannerText();
  } else if (state === "online") {
    retryAt = null;
    el.banner.hidden = true;
    el.bannerAlert.textContent = "";
  } else if (!el.banner.hidden) {
    retryAt = null;
    updateBannerText();
  }
}

function updateBannerText() {
  const wait = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
  el.bannerCountdown.textContent = retryAt ? _("Reconnecting in %(seconds)s s…", { seconds: wait }) : _("Reconnecting…");
}

const link = new LiveLink("/console/ws", { onMessage, onState: onLinkState });
el.retry.addEventListener("click", () => link.retryNow());

// ---------- start ----------

async function loadUnits() {
  try {
    const list = await get("/api/units");
    mergeUnits(list);
    render();
  } catch (error) {
    toastError(error, _("Could not load the units"));
  }
}

async function loadZones() {
  try {
    for (const zone of await get("/api/zones")) zones.set(zone.id, zone);
    render();
  } catch (error) {
    toastError(error, _("Could not load the zones"));
  }
}

installShortcuts({
  next: (event) => (storming ? storm.move(1, event.key === "ArrowDown") : move(1)),
  previous: (event) => (storming ? storm.move(-1, event.key === "ArrowUp") : move(-1)),
  left: () => (storming ? storm.move(-1) : false),
  right: () => (storming ? storm.move(1) : false),
  toggle: () => (storming ? storm.toggle() : false),
  chooseSilent: () => (storming ? storm.chooseSilent() : false),
  storm: () => setStorm(!storming),
  takeNext: () => takeNext(),
  escape: () => (storming ? setStorm(false) : false),
  listen: () => listenIn(storming ? storm.focused : panel.incident),
  acknowledge: () => {
    if (storming) openFromStorm(storm.focused);
    else if (panel.incident) panel.acknowledge();
    else toast(_("No incident selected."), "info");
  },
  classify: () => panel.focusClassification(),
  note: () => panel.focusNote(),
  close: () => (panel.incident ? panel.close() : toast(_("No incident selected."), "info")),
  weedOut: () => (storming ? weedOutChosen() : weedOut(panel.incident)),
  reason: () => triage.nextReason(),
  mute: (event) => sound.toggle(event),
  help: () => el.help.showModal(),
});
releaseFocusAfterClick();
el.stormOpen.addEventListener("click", () => setStorm(true));
document.getElementById("take-next").addEventListener("click", () => takeNext());
document.getElementById("storm-exit").addEventListener("click", () => setStorm(false));
document.getElementById("storm-reason").addEventListener("click", () => triage.nextReason());
document.getElementById("storm-choose-silent").addEventListener("click", () => storm.chooseSilent());
document.getElementById("storm-clear").addEventListener("click", () => storm.clearChoice());
el.stormCloseChosen.addEventListener("click", () => weedOutChosen());
document.getElementById("shortcuts-button").addEventListener("click", () => el.help.showModal());
replaceChildren(
  document.getElementById("shortcuts-list"),
  SHORTCUTS.map(([keys, what]) => [
    h("dt", {}, keys.split(" / ").map((k, n) => [n ? _(" or ") : "", h("kbd", {}, k)])),
    h("dd", {}, _(what)),
  ]),
);

setInterval(() => {
  queueView.tick();
  panel.tick();
  renderWaiting();
  if (storming) storm.tick();
  if (!el.banner.hidden) updateBannerText();
}, 1000);

render();
loadZones();
loadUnits();
link.start();
