// Listening in to a unit's live press-time audio without answering the call (docs/triage.md).
//
// The server listens to a unit's microphone as soon as it is pressed; listen(id) connects this
// browser to that audio (receive only: the caller does not hear the operator) and stopListening()
// disconnects it. The server audits each listen-in. One incident at a time: listening to another
// stops the first. The page binds a key to these (docs/console.md). When the server's listen
// ends (its time is up, someone answers, the unit goes), the console feed says so and the page
// calls listenEnded(): a new listen-in can then start with the same key.

import { get, post } from "./api.js";

const GATHER_TIMEOUT_MS = 2000;

let current = null; // {incidentId, pc, audio, listenId}
const watchers = new Set();

/** The incident being listened to, or null. */
export function listeningTo() {
  return current ? current.incidentId : null;
}

/** Call fn(incidentIdOrNull) whenever listening starts or stops; returns an unsubscribe. */
export function onListeningChange(fn) {
  watchers.add(fn);
  return () => watchers.delete(fn);
}

function changed() {
  for (const fn of watchers) fn(listeningTo());
}

/**
 * Listen in to the incident's unit. Resolves once the server answered (the sound follows within
 * a moment); rejects with the server's reason (ApiError) if the unit cannot be listened to.
 */
export async function listen(incidentId) {
  await stopListening();
  const info = await get(`/api/incidents/${incidentId}/call`);
  const pc = new RTCPeerConnection({ iceServers: info.ice_servers || [] });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const audio = new Audio();
  audio.autoplay = true;
  audio.dataset.listenIn = String(incidentId);
  pc.addEventListener("track", (event) => {
    audio.srcObject = event.streams[0] || new MediaStream([event.track]);
    audio.play().catch(() => {});
  });
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed"].includes(pc.connectionState) && current && current.pc === pc) {
      current = null;
      changed();
    }
  });
  const session = { incidentId, pc, audio };
  current = session;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await post(`/api/incidents/${incidentId}/listen`, {
      type: "offer",
      sdp: pc.localDescription.sdp,
    });
    if (current !== session) return answer; // stopped meanwhile
    session.listenId = answer.listen_id;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    changed();
    return answer;
  } catch (error) {
    if (current === session) current = null;
    pc.close();
    changed();
    throw error;
  }
}

/** Stop listening in (the server's own listening and judging go on). */
export async function stopListening() {
  const session = current;
  if (!session) return;
  current = null;
  session.pc.close();
  session.audio.srcObject = null;
  changed();
  try {
    await post(`/api/incidents/${session.incidentId}/listen/stop`);
  } catch {
    // The server drops a closed connection by itself; nothing is lost.
  }
}

/**
 * The server's listen ended ({listen_id, reason} from the console feed): if this browser was
 * listening to it, it is no longer (the server has closed its side). True if it was.
 */
export function listenEnded(ended) {
  const session = current;
  if (!session || !ended || session.listenId !== ended.listen_id) return false;
  current = null;
  session.pc.close();
  session.audio.srcObject = null;
  changed();
  return true;
}

/** Listen to the incident, or stop if it is the one being listened to. */
export async function toggleListening(incidentId) {
  if (listeningTo() === incidentId) {
    await stopListening();
    return false;
  }
  await listen(incidentId);
  return true;
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
