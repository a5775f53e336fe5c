/* A node's neighbourhood before expanding it: counts by kind (neighborhoodPreview), and the "expand only
 * these kinds" filters in the selection panel that expanding then sends. */

import { $, el, plural } from "./dom.js";
import { state } from "./state.js";
import { kindIcon } from "./vocabulary.js";
import { announce, setDegraded, showError } from "./toasts.js";
import { OP, gql, graphApiMissing, isMissingField } from "./api.js";
import { selectedNodes } from "./canvas.js";

export function kindFilters() {
  const edgeKinds = knownEdgeKinds();
  const nodeKinds = knownNodeKinds();
  const edgeFilter = state.excludedEdgeKinds.size ? edgeKinds.filter((k) => !state.excludedEdgeKinds.has(k)) : null;
  const nodeFilter = state.excludedNodeKinds.size ? nodeKinds.filter((k) => !state.excludedNodeKinds.has(k)) : null;
  return { edgeKinds: edgeFilter, nodeKinds: nodeFilter };
}

export async function preview(seedId = null) {
  const id = seedId || (selectedNodes().length === 1 ? selectedNodes()[0].id() : null);
  if (!id) return announce("Select one node to preview its neighbourhood.");
  const summary = $("#preview-summary");
  summary.textContent = "Counting neighbours…";
  try {
    const data = await gql(OP.preview, { id });
    const result = data.neighborhoodPreview;
    setDegraded(result.degraded);
    state.preview = { id, ...result };
    renderPreview();
    renderHopFilters();
    $("#hop-filters").open = true;
    announce(`${plural(result.total, "neighbour")}, ${result.masked} masked.`);
  } catch (error) {
    summary.textContent = "";
    if (!graphApiMissing(error)) showError(error, "Preview failed");
  }
}

export function renderPreview() {
  const summary = $("#preview-summary");
  summary.replaceChildren();
  const selected = selectedNodes();
  const p = state.preview;
  if (!p || selected.length !== 1 || selected[0].id() !== p.id) return;
  summary.append(
    el(
      "div",
      { class: "preview-total" },
      el("strong", {}, p.total.toLocaleString()),
      ` ${p.total === 1 ? "neighbour" : "neighbours"} one hop away`,
      p.masked ? el("span", { class: "badge badge-muted" }, `${p.masked} masked`) : null
    )
  );
}

function knownEdgeKinds() {
  const kinds = new Set(state.graphKinds.edgeKinds);
  if (state.preview) for (const k of state.preview.byEdgeKind) kinds.add(k.kind);
  return Array.from(kinds).sort();
}

function knownNodeKinds() {
  const kinds = new Set(state.graphKinds.nodeKinds);
  if (state.preview) for (const k of state.preview.byNodeKind) kinds.add(k.kind);
  return Array.from(kinds).sort();
}

export function renderHopFilters() {
  const selected = selectedNodes();
  const p = state.preview && selected.length === 1 && selected[0].id() === state.preview.id ? state.preview : null;
  const fill = (container, kinds, counts, excluded, kindOf, withIcon) => {
    container.replaceChildren();
    const rows = p
      ? counts.filter((c) => c.count > 0).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind))
      : kinds.map((kind) => ({ kind, count: null }));
    if (!rows.length) {
      container.append(el("p", { class: "muted small" }, p ? "None." : "Press Preview to count by kind."));
      return;
    }
    for (const row of rows) {
      const input = el("input", { type: "checkbox", value: row.kind, dataset: { filter: kindOf } });
      input.checked = !excluded.has(row.kind);
      input.addEventListener("change", () => {
        if (input.checked) excluded.delete(row.kind);
        else excluded.add(row.kind);
        renderFilterCount();
      });
      container.append(
        el(
          "label",
          { class: "check" },
          input,
          withIcon ? kindIcon(row.kind) : el("span", { class: "edge-swatch", "aria-hidden": "true" }),
          el("span", { class: "check-label" }, row.kind),
          row.count !== null ? el("span", { class: "count" }, row.count.toLocaleString()) : null
        )
      );
    }
  };
  fill($("#edge-kind-filters"), knownEdgeKinds(), p ? p.byEdgeKind : [], state.excludedEdgeKinds, "edge", false);
  fill($("#node-kind-filters"), knownNodeKinds(), p ? p.byNodeKind : [], state.excludedNodeKinds, "node", true);
  renderFilterCount();
}

function renderFilterCount() {
  const excluded = state.excludedEdgeKinds.size + state.excludedNodeKinds.size;
  $("#hop-filter-count").textContent = excluded ? `(${excluded} excluded)` : "";
}

export async function loadGraphKinds() {
  try {
    const data = await gql(OP.graphKinds);
    state.graphKinds = {
      edgeKinds: data.graphKinds.edgeKinds || [],
      nodeKinds: data.graphKinds.nodeKinds && data.graphKinds.nodeKinds.length ? data.graphKinds.nodeKinds : state.graphKinds.nodeKinds,
    };
  } catch (error) {
    if (isMissingField(error, "graphKinds")) state.missingGraphApi = true;
  }
  renderHopFilters();
}
