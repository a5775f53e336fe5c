/* Live updates over the WebSocket (/ws/explorer/): watch the ids on the canvas, reconnect with backoff,
 * and apply changes by re-reading through the API, so the access policy decides what is shown. */

import { $, plural } from "./dom.js";
import { config, state } from "./state.js";
import { nodeName } from "./vocabulary.js";
import { announce, toast } from "./toasts.js";
import { fetchGraphNodes } from "./api.js";
import { cy, mergeGraph, nodeClasses } from "./canvas.js";
import { renderSelectionNow } from "./selection.js";

const WATCH_MAX = 5000; // the live-update socket watches at most this many ids

const live = { socket: null, attempts: 0, timer: null, watched: null };

export function setLive(status, detail = "") {
  state.live = status;
  const box = $("#live-status");
  const text = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" }[status];
  const long = {
    live: "Live updates: connected",
    connecting: "Live updates: connecting",
    reconnecting: `Live updates: reconnecting${detail}`,
    offline: `Live updates: not connected${detail}`,
  }[status];
  box.dataset.state = status;
  box.setAttribute("aria-label", long);
  box.title = long;
  $(".live-text", box).textContent = text;
}

export function liveConnect() {
  clearTimeout(live.timer);
  if (!("WebSocket" in window)) return setLive("offline");
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  let socket;
  setLive(live.attempts ? "reconnecting" : "connecting");
  try {
    socket = new WebSocket(scheme + window.location.host + config.urls.websocket);
  } catch (error) {
    return liveRetry();
  }
  live.socket = socket;
  socket.addEventListener("open", () => {
    live.attempts = 0;
    live.watched = null;
    setLive("live");
    liveWatch(true);
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!message) return;
    if (message.type === "changed" && Array.isArray(message.changes)) applyChanges(message.changes);
    else if (message.type === "error") console.warn("Explorer live updates:", message.message);
  });
  socket.addEventListener("close", (event) => {
    if (live.socket !== socket) return;
    live.socket = null;
    if (event.code === 4401 || event.code === 4403) {
      // Refused for good (signed out, or no tenant with the Explorer): retrying cannot help.
      setLive("offline", event.code === 4401 ? " (signed out: reload to sign in)" : " (not allowed)");
      return;
    }
    liveRetry();
  });
}

function liveRetry() {
  live.attempts += 1;
  const base = Math.min(30000, 1000 * 2 ** Math.min(live.attempts - 1, 5));
  const delay = Math.round(base * (0.75 + Math.random() * 0.5));
  setLive("reconnecting", ` in ${Math.round(delay / 1000)} s`);
  live.timer = setTimeout(liveConnect, delay);
}

export function liveWatch(force = false) {
  if (!live.socket || live.socket.readyState !== WebSocket.OPEN) return;
  const ids = cy.nodes().map((n) => n.id()).sort().slice(0, WATCH_MAX);
  const key = ids.join(",");
  if (!force && key === live.watched) return;
  live.watched = key;
  live.socket.send(JSON.stringify({ watch: ids }));
}

export async function applyChanges(changes) {
  const refetch = [];
  const counts = {};
  const selectedIds = new Set(cy.nodes(":selected").map((n) => n.id()));
  let touchesSelection = false;
  for (const change of changes) {
    if (!change || !change.id) continue;
    const node = cy.getElementById(change.id);
    if (node.empty()) continue;
    const op = change.op;
    counts[op] = (counts[op] || 0) + 1;
    state.changes.set(change.id, { op, into: change.into || null, at: Date.now() });
    if (selectedIds.has(change.id)) touchesSelection = true;
    if (op === "updated" || op === "split") refetch.push(change.id);
    else if (op === "deleted") {
      node.removeClass("changed").addClass("deleted");
      node.flashClass("flash", 1600);
    } else if (op === "merged") {
      const current = state.nodes.get(change.id);
      if (current) state.nodes.set(change.id, { ...current, mergedInto: change.into || current.mergedInto });
      node.addClass("merged");
      node.flashClass("flash", 1600);
    }
  }
  if (refetch.length) {
    try {
      const fetched = await fetchGraphNodes(refetch);
      const returned = new Set(fetched.map((n) => n.id));
      for (const id of refetch) {
        if (!returned.has(id)) state.changes.set(id, { op: "hidden", into: null, at: Date.now() });
      }
      mergeGraph({ nodes: fetched });
      for (const id of refetch) {
        const node = cy.getElementById(id);
        node.classes(nodeClasses(state.nodes.get(id) || { id }));
        node.flashClass("flash", 1600);
      }
    } catch (error) {
      /* the next change or a reload catches up; the socket must not spam toasts */
    }
  }
  const parts = Object.entries(counts).map(([op, n]) => `${n} ${op}`);
  if (parts.length) {
    const one = changes.length === 1 ? nodeName(changes[0].id) : null;
    announce(one ? `${one} was ${changes[0].op} on the server.` : `Live update: ${parts.join(", ")}.`);
  }
  if (touchesSelection) renderSelectionNow({ force: true });
  if (counts.deleted && !touchesSelection) toast(`${plural(counts.deleted, "node")} on the canvas deleted.`, { kind: "info" });
}
