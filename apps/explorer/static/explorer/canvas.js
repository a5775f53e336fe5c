/* The graph canvas: Cytoscape.js (with fCoSE) setup and styles, layouts, fitting, and merging API nodes
 * and edges into what is drawn. `cy` is a live binding: null until canvasCreate() runs. */

import { $, debounce, plural } from "./dom.js";
import { state } from "./state.js";
import { DELETED_IMAGE, kindStyle, sensitivityOf } from "./vocabulary.js";

const SMALL_GRAPH = 40; // at or below, new elements re-run the layout on the whole canvas
const FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif";
const FIT_MAX_ZOOM = 1.4;

export let cy = null;

const CANVAS_STYLE = [
  {
    selector: "node",
    style: {
      "background-color": "data(color)",
      shape: "data(shape)",
      width: 30,
      height: 30,
      label: "data(display)",
      "font-family": FONT,
      "font-size": 10,
      color: "#0f172a",
      "text-valign": "bottom",
      "text-halign": "center",
      "text-margin-y": 4,
      "text-wrap": "ellipsis",
      "text-max-width": 120,
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.85,
      "text-background-padding": 2,
      "text-background-shape": "round-rectangle",
      "min-zoomed-font-size": 6,
      "border-width": "data(borderWidth)",
      "border-color": "data(borderColor)",
      "border-style": "data(borderStyle)",
      "transition-property": "background-color, border-color, opacity",
      "transition-duration": 200,
    },
  },
  {
    selector: "node.masked",
    style: {
      "background-color": "#e2e8f0",
      "border-style": "dashed",
      "border-color": "#94a3b8",
      "border-width": 2,
      width: 24,
      height: 24,
      color: "#64748b",
      "font-style": "italic",
    },
  },
  {
    selector: "node.merged",
    style: { "border-style": "dashed", "border-color": "#7c3aed", "border-width": 3, "background-opacity": 0.45 },
  },
  {
    selector: "node.deleted",
    style: {
      "background-color": "#fee2e2",
      "background-image": DELETED_IMAGE,
      "background-fit": "contain",
      "background-clip": "none",
      "border-color": "#dc2626",
      "border-style": "solid",
      "border-width": 2,
      color: "#b91c1c",
      opacity: 0.85,
    },
  },
  {
    selector: "node.changed",
    style: { "underlay-color": "#f59e0b", "underlay-opacity": 0.3, "underlay-padding": 7, "underlay-shape": "ellipse" },
  },
  {
    selector: "node.flash",
    style: { "overlay-color": "#f59e0b", "overlay-opacity": 0.45, "overlay-padding": 10, "overlay-shape": "ellipse" },
  },
  {
    selector: "node:selected",
    style: {
      "outline-width": 3,
      "outline-color": "#2563eb",
      "outline-offset": 3,
      "outline-opacity": 1,
      "font-weight": "bold",
      "min-zoomed-font-size": 0, // the selection keeps its label when zoomed out
      "z-index": 10,
    },
  },
  { selector: "node.faded", style: { opacity: 0.25 } },
  {
    selector: "edge",
    style: {
      width: 1.5,
      "curve-style": "bezier",
      "line-color": "data(lineColor)",
      "target-arrow-color": "data(lineColor)",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.8,
      label: "data(display)",
      "font-family": FONT,
      "font-size": 8,
      color: "#475569",
      "text-rotation": "autorotate",
      "text-background-color": "#f8fafc",
      "text-background-opacity": 1,
      "text-background-padding": 1,
      "min-zoomed-font-size": 7,
    },
  },
  {
    selector: "edge.masked",
    style: { "line-style": "dashed", "line-color": "#cbd5e1", "target-arrow-color": "#cbd5e1", color: "#94a3b8" },
  },
  { selector: "edge.faded", style: { opacity: 0.15 } },
  {
    selector: "edge:selected",
    style: { width: 3, "line-color": "#2563eb", "target-arrow-color": "#2563eb", color: "#1d4ed8" },
  },
];

function nodeData(node) {
  const kind = kindStyle(node.kind);
  const sensitivity = sensitivityOf(node.sensitivity);
  return {
    id: node.id,
    kind: node.kind,
    display: node.masked ? `${node.kind} · masked` : node.label || node.id.slice(0, 8),
    color: kind.color,
    shape: kind.shape,
    borderWidth: sensitivity.width,
    borderColor: sensitivity.color,
    borderStyle: sensitivity.style,
    masked: !!node.masked,
  };
}

function edgeData(edge) {
  const sensitivity = sensitivityOf(edge.sensitivity);
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    kind: edge.kind,
    display: edge.masked ? "masked" : edge.kind,
    lineColor: edge.masked ? "#cbd5e1" : sensitivity.level >= 2 ? sensitivity.color : "#94a3b8",
    masked: !!edge.masked,
  };
}

export function nodeClasses(node) {
  const classes = [];
  if (node.masked) classes.push("masked");
  const change = state.changes.get(node.id);
  if (node.mergedInto || (change && change.op === "merged")) classes.push("merged");
  if (change && (change.op === "deleted" || change.op === "hidden")) classes.push("deleted");
  else if (change && (change.op === "updated" || change.op === "split")) classes.push("changed");
  return classes.join(" ");
}

function layoutOptions(name, overrides = {}) {
  const count = cy.nodes().length;
  const animate = count <= 400;
  // fit: false: runLayout fits afterwards with a zoom cap (fitting a handful of nodes would zoom far in).
  const common = { padding: 48, animate, animationDuration: 450, fit: false };
  const fcose = !!(window.cytoscape && cytoscapeHasLayout("fcose"));
  switch (name) {
    case "concentric":
      return { ...common, name, concentric: (n) => n.degree(), levelWidth: () => 2, minNodeSpacing: 36, ...overrides };
    case "breadthfirst": {
      const roots = cy.nodes(":selected").length ? cy.nodes(":selected") : undefined;
      return { ...common, name, directed: false, roots, spacingFactor: 1.15, ...overrides };
    }
    case "grid":
      return { ...common, name, avoidOverlap: true, avoidOverlapPadding: 20, ...overrides };
    case "circle":
      return { ...common, name, avoidOverlap: true, ...overrides };
    default:
      if (!fcose) return { ...common, name: "cose", randomize: false, ...overrides };
      return {
        ...common,
        name: "fcose",
        quality: count > 600 ? "draft" : "default",
        randomize: true,
        nodeRepulsion: () => 12000,
        idealEdgeLength: () => 115,
        nodeSeparation: 110,
        gravity: 0.3,
        packComponents: true,
        ...overrides,
      };
  }
}

function cytoscapeHasLayout(name) {
  try {
    return !!window.cytoscape("layout", name);
  } catch (error) {
    return false;
  }
}

export function runLayout(overrides = {}) {
  if (!cy.nodes().length) return;
  const name = $("#layout-select").value;
  let layout;
  try {
    layout = cy.layout(layoutOptions(name, overrides));
  } catch (error) {
    // A layout failing must not break the page: fall back to a grid.
    layout = cy.layout({ name: "grid", padding: 48, fit: false });
  }
  layout.one("layoutstop", () => fitView());
  layout.run();
}

/* Fit these elements (default: all) in the view, never zooming in past FIT_MAX_ZOOM. */
export function fitView(eles = cy.elements(), padding = 48) {
  if (!eles.length) return;
  const box = eles.boundingBox();
  const width = Math.max(cy.width() - 2 * padding, 1);
  const height = Math.max(cy.height() - 2 * padding, 1);
  const zoom = Math.max(cy.minZoom(), Math.min(FIT_MAX_ZOOM, width / Math.max(box.w, 1), height / Math.max(box.h, 1)));
  const pan = { x: cy.width() / 2 - zoom * (box.x1 + box.w / 2), y: cy.height() / 2 - zoom * (box.y1 + box.h / 2) };
  cy.stop(); // a running viewport animation would fight this one
  cy.animate({ zoom, pan, duration: 250 });
}

/* Place new nodes around their seed, then lay out only them (seed fixed) on a large canvas, so
 * the analyst's mental map of what was already there survives an expansion. */
export function layoutNew(newNodes, seedIds) {
  if (!newNodes.length) return;
  const total = cy.nodes().length;
  const name = $("#layout-select").value;
  if (total <= SMALL_GRAPH || newNodes.length >= total * 0.6 || name !== "fcose" || !cytoscapeHasLayout("fcose")) {
    runLayout(); // small: a fresh layout of everything reads better than an incremental one
    return;
  }
  const seeds = cy.collection(seedIds.map((id) => cy.getElementById(id)).filter((n) => n.nonempty()));
  const subset = newNodes.union(seeds);
  const edges = subset.connectedEdges().filter((e) => subset.contains(e.source()) && subset.contains(e.target()));
  try {
    const layout = subset.union(edges).layout({
      name: "fcose",
      randomize: false,
      fit: false,
      animate: true,
      animationDuration: 450,
      packComponents: false,
      nodeRepulsion: () => 12000,
      idealEdgeLength: () => 115,
      fixedNodeConstraint: seeds.map((s) => ({ nodeId: s.id(), position: { ...s.position() } })),
    });
    layout.one("layoutstop", () => fitView());
    layout.run();
  } catch (error) {
    fitView(); // positions from placeAround stay
  }
}

function placeAround(seedId, index) {
  const seed = seedId ? cy.getElementById(seedId) : null;
  const extent = cy.extent(); // the visible area in model coordinates
  const centre =
    seed && seed.nonempty() ? seed.position() : { x: (extent.x1 + extent.x2) / 2, y: (extent.y1 + extent.y2) / 2 };
  const angle = index * 2.39996; // golden angle: spread without collisions
  const radius = 70 + 16 * Math.sqrt(index);
  return { x: centre.x + radius * Math.cos(angle), y: centre.y + radius * Math.sin(angle) };
}

/* Merge API nodes and edges into the canvas: update what is there, add what is new, never duplicate.
 * Edges are added only when both ends are on the canvas. Returns the new node collection. */
export function mergeGraph({ nodes = [], edges = [] }, { seed = null } = {}) {
  let added = cy.collection();
  let addedEdges = 0;
  cy.batch(() => {
    let index = 0;
    for (const node of nodes) {
      if (!node || !node.id) continue;
      state.nodes.set(node.id, node);
      const existing = cy.getElementById(node.id);
      if (existing.nonempty()) {
        existing.data(nodeData(node));
        existing.classes(keepTransient(existing, nodeClasses(node)));
      } else {
        const created = cy.add({
          group: "nodes",
          data: nodeData(node),
          classes: nodeClasses(node),
          position: placeAround(seed, index++),
        });
        added = added.union(created);
      }
    }
    for (const edge of edges) {
      if (!edge || !edge.id) continue;
      if (cy.getElementById(edge.source).empty() || cy.getElementById(edge.target).empty()) continue;
      state.edges.set(edge.id, edge);
      const existing = cy.getElementById(edge.id);
      if (existing.nonempty()) {
        existing.data(edgeData(edge));
        existing.toggleClass("masked", !!edge.masked);
      } else {
        cy.add({ group: "edges", data: edgeData(edge), classes: edge.masked ? "masked" : "" });
        addedEdges++;
      }
    }
  });
  canvasChanged();
  return { added, addedEdges };
}

function keepTransient(element, classes) {
  return element.hasClass("flash") ? `${classes} flash` : classes;
}

export function removeElements(collection) {
  if (!collection.length) return;
  const nodes = collection.nodes();
  const edges = collection.edges().union(nodes.connectedEdges());
  for (const edge of edges) state.edges.delete(edge.id());
  for (const node of nodes) {
    const id = node.id();
    state.nodes.delete(id);
    state.addedBy.delete(id);
    state.changes.delete(id);
  }
  for (const set of state.addedBy.values()) for (const node of nodes) set.delete(node.id());
  cy.remove(edges.union(nodes));
  canvasChanged();
}

/* Called (debounced) after every change to what is drawn; the other modules subscribe in explorer.js,
 * so this module needs none of them. */
const canvasListeners = [];
export function onCanvasChanged(listener) {
  canvasListeners.push(listener);
}

export const canvasChanged = debounce(() => {
  const nodes = cy.nodes().length;
  const edges = cy.edges().length;
  $("#canvas-count").textContent = `${plural(nodes, "node")} · ${plural(edges, "edge")}`;
  $("#canvas-empty").hidden = nodes > 0;
  for (const listener of canvasListeners) listener();
}, 40);

/* The Cytoscape instance, on #cy. The library is the vendored UMD build, loaded as a classic script. */
export function canvasCreate() {
  cy = window.cytoscape({
    container: $("#cy"),
    elements: [],
    style: CANVAS_STYLE,
    minZoom: 0.08,
    maxZoom: 4,
    boxSelectionEnabled: true,
    selectionType: "single",
  });
  cy.on("mouseover", "node", (event) => {
    const neighbourhood = event.target.closedNeighborhood();
    if (cy.nodes().length > 3) cy.elements().not(neighbourhood).addClass("faded");
  });
  cy.on("mouseout", "node", () => cy.elements().removeClass("faded"));
  return cy;
}

export function selectedNodes() {
  return cy.nodes(":selected");
}

export function selectOnly(id) {
  const node = cy.getElementById(id);
  if (node.empty()) return;
  cy.elements(":selected").unselect();
  node.select();
  revealNode(node);
}

/* Pan to a node only when it is outside (or at the edge of) the view: the analyst's view stays put. */
export function revealNode(node) {
  const p = node.renderedPosition();
  const margin = 40;
  if (p.x < margin || p.y < margin || p.x > cy.width() - margin || p.y > cy.height() - margin) {
    cy.animate({ center: { eles: node }, duration: 200 });
  }
}

export function zoomBy(factor) {
  const zoom = cy.zoom() * factor;
  cy.animate({ zoom: { level: zoom, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } }, duration: 150 });
}
