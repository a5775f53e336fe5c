/* "Summarize": the selected nodes (or, with nothing selected, the whole canvas) written up by the LLM through the
 * product's gateway. The server sends only what this user may see, needs a declared purpose, meters and caps the
 * call, and audits it; this module asks, waits and shows the answer (or why not). */

import { $ } from "./dom.js";
import { config } from "./state.js";
import { announce, toast } from "./toasts.js";
import { csrfToken } from "./api.js";
import { cy } from "./canvas.js";

function show(text, meta) {
  $("#summary-text").textContent = text;
  $("#summary-meta").textContent = meta;
  $("#summary-box").hidden = false;
}

export async function summarize() {
  if (!config.llm) {
    toast("Summaries need an LLM provider, and none is configured for this installation.", {
      kind: "info",
      code: "LLM_NOT_CONFIGURED",
    });
    return;
  }
  const selected = cy.nodes(":selected");
  const nodes = selected.length ? selected : cy.nodes();
  if (!nodes.length) return announce("The canvas is empty: nothing to summarize.");
  const button = $("#summarize");
  button.disabled = true;
  show("Writing a summary…", `${nodes.length} node${nodes.length === 1 ? "" : "s"}`);
  let response;
  try {
    response = await fetch(config.urls.summarize, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ ids: nodes.map((n) => n.id()) }),
    });
  } catch (error) {
    $("#summary-box").hidden = true;
    toast("The server could not be reached; no summary.", { code: "NETWORK_ERROR" });
    return;
  } finally {
    button.disabled = false;
  }
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    body = {};
  }
  if (!response.ok) {
    $("#summary-box").hidden = true;
    toast(body.error || `No summary (HTTP ${response.status}).`, { code: body.code || `HTTP_${response.status}` });
    return;
  }
  const estimated = body.estimated ? " (estimated)" : "";
  show(
    body.summary || "(the model returned no text)",
    `${body.entities} entities, ${body.relationships} relationships sent to ${body.model} · cost ${body.cost}${estimated}`
  );
  announce("Summary ready.");
}

export function bindSummary() {
  $("#summarize").addEventListener("click", summarize);
  $("#summary-close").addEventListener("click", () => ($("#summary-box").hidden = true));
}
