/* What the page tells the analyst: screen-reader announcements (#announcer), toasts (#toasts), the busy
 * indicator over the canvas and the degraded-graph-store banner. */

import { $, el } from "./dom.js";
import { state } from "./state.js";

export function announce(message) {
  const announcer = $("#announcer");
  // Clear first so the same message twice is still read out.
  announcer.textContent = "";
  window.setTimeout(() => (announcer.textContent = message), 30);
}

export function toast(message, { kind = "error", code = null, timeout = null } = {}) {
  const box = $("#toasts");
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const item = el(
    "div",
    // An inserted role=alert is read out at once; info toasts are also announced through #announcer.
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null },
    el("div", { class: "toast-body" }, code ? el("span", { class: "toast-code" }, code) : null, message),
    close
  );
  close.addEventListener("click", () => item.remove());
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  const ms = timeout !== null ? timeout : kind === "error" ? 12000 : 5000;
  if (ms) window.setTimeout(() => item.remove(), ms);
}

export function showError(error, context) {
  const code = error.code || "ERROR";
  let message = error.message || String(error);
  if (code === "UNAUTHENTICATED" || code === "CSRF_FAILED") message += " Reload the page to sign in again.";
  toast(context ? `${context}: ${message}` : message, { code });
}

export function setBusy(on, message) {
  state.busy = Math.max(0, state.busy + (on ? 1 : -1));
  const busy = $("#canvas-busy");
  busy.hidden = state.busy === 0;
  $("#cy").setAttribute("aria-busy", state.busy > 0 ? "true" : "false");
  if (on && message) {
    $("#canvas-busy-text").textContent = message;
    announce(message);
  }
}

export function setDegraded(degraded) {
  if (degraded === undefined || degraded === null) return;
  state.degraded = !!degraded;
  const banner = $("#banner-degraded");
  if (banner.hidden === state.degraded) {
    banner.hidden = !state.degraded;
    if (state.degraded) announce("Graph store unavailable: answers come from PostgreSQL, slower.");
  }
}
