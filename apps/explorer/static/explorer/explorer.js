/* IntelGraph Explorer: search, graph canvas (Cytoscape.js + fCoSE), selection panel, live updates.
 *
 * The entry module (explorer.html loads it with <script type="module">): it wires the modules together,
 * binds the toolbar and starts the page. Native ES modules, no build step. Data comes from the GraphQL API
 * (/graphql) with the session cookie and the CSRF token; changes arrive over a WebSocket (/ws/explorer/).
 * The server decides what may be seen: masked nodes and redacted attributes are drawn as the API returns
 * them, never guessed here.
 *
 * The modules import only downwards (dom, state, vocabulary, toasts, api, canvas, preview, neighbourhood,
 * then search, details, selection, live, exports, summary, keyboard, purpose, legend): no cycles, so the hashing
 * static storage can name each file after its content. What the canvas tells the modules above it goes
 * through onCanvasChanged, wired here. Every import is a relative "./name.js" ending in ";", the form
 * Django's ManifestStaticFilesStorage rewrites when its JS module support is on.
 *
 * Tests drive the page through stable ids (see explorer.html) and window.explorer = {cy, state, api}.
 */

import { $ } from "./dom.js";
import { state } from "./state.js";
import { toast } from "./toasts.js";
import { gql } from "./api.js";
import { canvasChanged, canvasCreate, fitView, onCanvasChanged, runLayout, selectOnly, zoomBy } from "./canvas.js";
import {
  addNodes,
  canvasClear,
  collapse,
  expand,
  loadMoreNeighborhood,
  removeSelection,
  renderTruncated,
} from "./neighbourhood.js";
import { loadGraphKinds, preview, renderHopFilters } from "./preview.js";
import { bindSearch, markResultsOnCanvas, runSearch } from "./search.js";
import { bindSummary } from "./summary.js";
import { renderSelection, renderSelectionNow } from "./selection.js";
import { applyChanges, liveConnect, liveWatch, setLive } from "./live.js";
import { exportJson, exportPng } from "./exports.js";
import { bindKeyboard } from "./keyboard.js";
import { bindPurpose } from "./purpose.js";
import { renderLegend } from "./legend.js";

function bindToolbar() {
  for (const hops of [1, 2, 3]) $(`#expand-${hops}`).addEventListener("click", () => expand(hops));
  $("#preview").addEventListener("click", () => preview());
  $("#collapse").addEventListener("click", () => collapse());
  $("#remove").addEventListener("click", removeSelection);
  $("#edge-remove").addEventListener("click", removeSelection);
  $("#hop-filters-all").addEventListener("click", () => {
    state.excludedEdgeKinds.clear();
    state.excludedNodeKinds.clear();
    renderHopFilters();
  });
  $("#truncated-more").addEventListener("click", loadMoreNeighborhood);
  $("#truncated-dismiss").addEventListener("click", () => {
    state.pending = [];
    renderTruncated();
  });
  $("#layout-select").addEventListener("change", () => runLayout());
  $("#layout-run").addEventListener("click", () => runLayout());
  $("#zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("#zoom-out").addEventListener("click", () => zoomBy(0.8));
  $("#fit").addEventListener("click", () => fitView());
  $("#export-png").addEventListener("click", exportPng);
  $("#export-json").addEventListener("click", exportJson);
  $("#canvas-clear").addEventListener("click", canvasClear);
  bindSummary();
}

function start() {
  if (typeof window.cytoscape !== "function") {
    toast("The graph library did not load; reload the page.", { code: "SCRIPT" });
    return;
  }
  const cy = canvasCreate();
  cy.on("select unselect", renderSelection);
  cy.on("dbltap", "node", (event) => expand(1, [event.target.id()]));
  // After each change to the canvas, in this order: results' Add/Show, the truncation banner, what the
  // live socket watches, the selection panel.
  onCanvasChanged(markResultsOnCanvas);
  onCanvasChanged(renderTruncated);
  onCanvasChanged(() => liveWatch());
  onCanvasChanged(renderSelection);
  renderLegend();
  bindSearch();
  bindToolbar();
  bindKeyboard();
  bindPurpose();
  renderTruncated();
  setLive("offline");
  canvasChanged();
  renderSelectionNow({ force: true });
  window.explorer = {
    cy,
    state,
    api: { search: runSearch, addNodes, expand, preview, collapse, remove: removeSelection, applyChanges, selectOnly, gql },
  };
  loadGraphKinds();
  liveConnect();
  document.documentElement.dataset.explorerReady = "true";
}

// A module runs after the document is parsed (and after the deferred vendor scripts before it).
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
