/* Adding, expanding, collapsing and removing: what goes onto the canvas and what comes off it, with the
 * "larger neighbourhood" banner and its Load more. */

import { $, plural } from "./dom.js";
import { state } from "./state.js";
import { nodeName } from "./vocabulary.js";
import { announce, setBusy, setDegraded, showError, toast } from "./toasts.js";
import { NEIGHBOURHOOD_LIMIT, OP, GraphQLError, fetchGraphNodes, gql, graphApiMissing } from "./api.js";
import { cy, fitView, layoutNew, mergeGraph, removeElements, selectedNodes } from "./canvas.js";
import { kindFilters } from "./preview.js";

export async function addNodes(ids, { select = true, quiet = false } = {}) {
  const wanted = Array.from(new Set(ids.filter(Boolean)));
  if (!wanted.length) return [];
  const already = wanted.filter((id) => cy.getElementById(id).nonempty());
  const missing = wanted.filter((id) => cy.getElementById(id).empty());
  let fetched = [];
  if (missing.length) {
    setBusy(true, missing.length === 1 ? "Adding to the canvas…" : `Adding ${missing.length} nodes…`);
    try {
      fetched = await fetchGraphNodes(missing);
    } catch (error) {
      if (!graphApiMissing(error)) showError(error, "Adding to the canvas failed");
      return [];
    } finally {
      setBusy(false);
    }
  }
  const hadNodes = cy.nodes().length;
  const { added } = mergeGraph({ nodes: fetched });
  const omitted = missing.filter((id) => !fetched.some((n) => n.id === id));
  if (omitted.length && !quiet) {
    toast(`${plural(omitted.length, "entity", "entities")} could not be added: not found or not visible to you.`, {
      code: "NOT_FOUND",
    });
  }
  if (added.length) {
    if (!hadNodes) cy.animate({ center: { eles: added }, zoom: 1.2, duration: 250 });
    else layoutNew(added, []);
    linkToCanvas(added.map((n) => n.id()));
  }
  const present = wanted.filter((id) => cy.getElementById(id).nonempty());
  if (select && present.length) {
    cy.elements(":selected").unselect();
    const targets = cy.collection(present.map((id) => cy.getElementById(id)));
    targets.select();
    if (already.length && !added.length) cy.animate({ center: { eles: targets }, duration: 250 });
  }
  if (!quiet && added.length) {
    announce(`Added ${added.length === 1 ? nodeName(added[0].id()) : plural(added.length, "node")} to the canvas.`);
  }
  return present;
}

/* A node added from search may already be linked to nodes on the canvas: fetch its one-hop edges
 * quietly and keep only those whose other end is already drawn. */
async function linkToCanvas(ids) {
  if (cy.nodes().length < 2 || state.missingGraphApi) return;
  for (const id of ids.slice(0, 10)) {
    try {
      const data = await gql(OP.neighborhood, { id, hops: 1, limit: NEIGHBOURHOOD_LIMIT });
      const neighborhood = data.neighborhood;
      setDegraded(neighborhood.degraded);
      const onCanvas = (nid) => cy.getElementById(nid).nonempty();
      const edges = neighborhood.edges.filter((e) => onCanvas(e.source) && onCanvas(e.target));
      if (edges.length) mergeGraph({ nodes: [], edges });
    } catch (error) {
      if (!graphApiMissing(error)) return; // best effort: the node is on the canvas either way
    }
  }
}

async function fetchNeighborhood(request) {
  const data = await gql(OP.neighborhood, {
    id: request.seed,
    hops: request.hops,
    edgeKinds: request.edgeKinds,
    nodeKinds: request.nodeKinds,
    limit: NEIGHBOURHOOD_LIMIT,
    after: request.cursor,
  });
  const neighborhood = data.neighborhood;
  setDegraded(neighborhood.degraded);
  const { added, addedEdges } = mergeGraph(neighborhood, { seed: request.seed });
  const addedIds = added.map((n) => n.id()).filter((id) => id !== request.seed);
  if (!state.addedBy.has(request.seed)) state.addedBy.set(request.seed, new Set());
  for (const id of addedIds) state.addedBy.get(request.seed).add(id);
  for (const node of neighborhood.nodes) request.seen.add(node.id);
  request.shown = request.seen.size;
  request.cursor = neighborhood.nextCursor || null;
  request.truncated = !!neighborhood.truncated;
  if (typeof neighborhood.totalNodes === "number") request.total = neighborhood.totalNodes;
  request.budgetExhausted = !!neighborhood.budgetExhausted;
  return { added, addedEdges };
}

export async function expand(hops, seedIds = null) {
  if (state.missingGraphApi) return graphApiMissing(new GraphQLError("'neighborhood'", "GRAPHQL_VALIDATION_FAILED"));
  const seeds = seedIds || selectedNodes().map((n) => n.id());
  if (!seeds.length) {
    announce("Select a node on the canvas first, then expand it.");
    toast("Select a node on the canvas first, then expand it.", { kind: "info" });
    return;
  }
  const filters = kindFilters();
  const requests = seeds.map((seed) => ({
    seed, hops, ...filters, cursor: null, seen: new Set(), shown: 0, total: null, truncated: false,
    budgetExhausted: false,
  }));
  const what = seeds.length === 1 ? nodeName(seeds[0]) : plural(seeds.length, "node");
  await runNeighborhoods(requests, `Expanding ${what} by ${plural(hops, "hop")}…`);
}

async function runNeighborhoods(requests, message) {
  setBusy(true, message);
  let added = cy.collection();
  let addedEdges = 0;
  let failures = 0;
  try {
    const results = await Promise.allSettled(requests.map((r) => fetchNeighborhood(r)));
    results.forEach((result) => {
      if (result.status === "fulfilled") {
        added = added.union(result.value.added);
        addedEdges += result.value.addedEdges;
      } else {
        failures++;
        if (!graphApiMissing(result.reason)) showError(result.reason, "Expanding failed");
      }
    });
  } finally {
    setBusy(false);
  }
  state.pending = requests.filter((r) => r.truncated);
  renderTruncated();
  if (added.length) layoutNew(added, requests.map((r) => r.seed));
  if (failures === requests.length) return;
  if (added.length || addedEdges) {
    announce(`Added ${plural(added.length, "node")} and ${plural(addedEdges, "edge")}.`);
  } else {
    announce("No new neighbours: everything this returns is already on the canvas.");
    toast("No new neighbours with these filters.", { kind: "info", timeout: 4000 });
  }
}

export async function loadMoreNeighborhood() {
  const requests = state.pending.filter((r) => r.cursor);
  if (!requests.length) return;
  await runNeighborhoods(requests, "Loading more of the neighbourhood…");
}

export function renderTruncated() {
  const banner = $("#banner-truncated");
  // A seed removed or collapsed since has nothing left to load more of.
  state.pending = state.pending.filter((r) => cy.getElementById(r.seed).nonempty() && state.addedBy.has(r.seed));
  if (!state.pending.length) {
    banner.hidden = true;
    return;
  }
  const shown = state.pending.reduce((sum, r) => sum + r.shown, 0);
  const totals = state.pending.every((r) => typeof r.total === "number");
  const total = totals ? state.pending.reduce((sum, r) => sum + r.total, 0) : null;
  const more = state.pending.some((r) => r.cursor);
  const budget = state.pending.some((r) => r.budgetExhausted);
  let text = `Showing ${plural(shown, "node")} of a larger neighbourhood`;
  if (total !== null && total > shown) text = `Showing ${shown.toLocaleString()} of ${total.toLocaleString()} nodes in a larger neighbourhood`;
  text += more ? " — filter by kind or load more." : " — filter by kind to see the rest.";
  if (budget) text += " The server's expansion budget was reached.";
  $("#banner-truncated-text").textContent = text;
  $("#truncated-more").hidden = !more;
  banner.hidden = false;
}

/* Collapse: remove what expanding these nodes added (and what expanding those added, and so on),
 * except nodes still linked to something that stays. */
export function collapse(seedIds = null) {
  const seeds = seedIds || selectedNodes().map((n) => n.id());
  if (!seeds.length) return announce("Select a node to collapse.");
  const candidates = new Set();
  const queue = [...seeds];
  while (queue.length) {
    const id = queue.shift();
    for (const child of state.addedBy.get(id) || []) {
      if (!candidates.has(child) && !seeds.includes(child)) {
        candidates.add(child);
        queue.push(child);
      }
    }
  }
  if (!candidates.size) {
    announce("Nothing to collapse: expanding this node added no nodes that are still on the canvas.");
    toast("Nothing to collapse here.", { kind: "info", timeout: 4000 });
    return;
  }
  // Keep a candidate linked to a node that stays (neither a candidate nor a seed); repeat until stable.
  const stays = (id) => !candidates.has(id) && !seeds.includes(id);
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of Array.from(candidates)) {
      const node = cy.getElementById(id);
      if (node.empty()) {
        candidates.delete(id);
        continue;
      }
      if (node.neighborhood("node").some((n) => stays(n.id()))) {
        candidates.delete(id);
        changed = true;
      }
    }
  }
  const collection = cy.collection(Array.from(candidates).map((id) => cy.getElementById(id)));
  for (const seed of seeds) state.addedBy.delete(seed);
  removeElements(collection);
  fitView();
  announce(`Collapsed ${plural(collection.length, "node")}.`);
}

export function removeSelection() {
  const selected = cy.elements(":selected");
  if (!selected.length) return announce("Nothing selected to remove.");
  const count = selected.nodes().length;
  const label = count === 1 ? nodeName(selected.nodes()[0].id()) : plural(count, "node");
  removeElements(selected);
  announce(count ? `Removed ${label} from the canvas.` : "Removed the edge from the canvas.");
  $("#cy").focus();
}

export function canvasClear() {
  if (!cy.nodes().length) return;
  removeElements(cy.elements());
  state.addedBy.clear();
  state.pending = [];
  renderTruncated();
  announce("Canvas cleared.");
}
