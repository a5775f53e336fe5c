/* PNG and JSON exports of the canvas, made in the browser after the server allows (and audits) them. */

import { el } from "./dom.js";
import { config, state } from "./state.js";
import { announce, toast } from "./toasts.js";
import { csrfToken } from "./api.js";
import { cy } from "./canvas.js";

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

function stamp() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}`;
}

/* An export is the policy's "export" action: the server checks the declared purpose and audits it first. */
async function exportAllowed(format) {
  const ids = cy.nodes().map((n) => n.id());
  let response;
  try {
    response = await fetch(config.urls.export, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ format, ids }),
    });
  } catch (error) {
    toast("The server could not be reached; nothing was exported.", { code: "NETWORK_ERROR" });
    return false;
  }
  if (response.ok) return true;
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    body = {};
  }
  toast(body.error || `Export refused (HTTP ${response.status}).`, { code: body.code || `HTTP_${response.status}` });
  return false;
}

export async function exportPng() {
  if (!cy.nodes().length) return announce("The canvas is empty: nothing to export.");
  if (!(await exportAllowed("png"))) return;
  const blob = cy.png({ full: true, scale: 2, output: "blob", bg: "#ffffff" });
  download(blob, `intelgraph-explorer-${stamp()}.png`);
  announce("Canvas exported as PNG.");
}

export async function exportJson() {
  if (!cy.nodes().length) return announce("The canvas is empty: nothing to export.");
  if (!(await exportAllowed("json"))) return;
  const document_ = {
    exportedAt: new Date().toISOString(),
    tenants: config.tenants,
    purpose: state.purpose || null,
    nodes: cy.nodes().map((n) => ({ ...(state.nodes.get(n.id()) || { id: n.id() }), position: { ...n.position() } })),
    edges: cy.edges().map((e) => state.edges.get(e.id()) || { id: e.id(), source: e.source().id(), target: e.target().id() }),
  };
  download(new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" }), `intelgraph-explorer-${stamp()}.json`);
  announce("Canvas exported as JSON.");
}
