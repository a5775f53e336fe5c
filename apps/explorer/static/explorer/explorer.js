/* IntelGraph Explorer: search, graph canvas (Cytoscape.js + fCoSE), selection panel, live updates.
 *
 * Plain ES2017+, no build step. Data comes from the GraphQL API (/graphql) with the session cookie and
 * the CSRF token; changes arrive over a WebSocket (/ws/explorer/). The server decides what may be seen:
 * masked nodes and redacted attributes are drawn as the API returns them, never guessed here.
 *
 * Tests drive the page through stable ids (see explorer.html) and window.explorer = {cy, state, api}.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------ settings and constants

  const config = JSON.parse(document.getElementById("explorer-config").textContent);
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  const SEARCH_PAGE = 20;
  const NEIGHBOURHOOD_LIMIT = 100; // the API's default page; hubs come in further pages ("Load more")
  const GRAPH_NODES_MAX = 500; // graphNodes(ids) takes at most this many ids
  const SMALL_GRAPH = 40;
  const FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif";
  const FIT_MAX_ZOOM = 1.4;
  const WATCH_MAX = 5000; // the live-update socket watches at most this many ids // at or below, new elements re-run the layout on the whole canvas

  // Colour and shape per kind: shape carries the kind too, for colour-blind analysts and grey prints.
  const KIND_STYLES = {
    person: { color: "#2563eb", shape: "ellipse", label: "Person" },
    organization: { color: "#7c3aed", shape: "round-rectangle", label: "Organization" },
    address: { color: "#059669", shape: "round-diamond", label: "Address" },
    phone: { color: "#0891b2", shape: "round-triangle", label: "Phone" },
    email: { color: "#d97706", shape: "round-tag", label: "Email" },
    account: { color: "#db2777", shape: "round-hexagon", label: "Account" },
    vehicle: { color: "#4d7c0f", shape: "round-pentagon", label: "Vehicle" },
    event: { color: "#ea580c", shape: "star", label: "Event" },
  };
  const DEFAULT_KIND = { color: "#64748b", shape: "ellipse", label: "Other" };

  // Sensitivity 0..4 as the node's border (and an edge's line from confidential up).
  const SENSITIVITY = [
    { level: 0, name: "PUBLIC", label: "Public", width: 1, color: "#cbd5e1", style: "solid" },
    { level: 1, name: "INTERNAL", label: "Internal", width: 2, color: "#64748b", style: "solid" },
    { level: 2, name: "CONFIDENTIAL", label: "Confidential", width: 3, color: "#d97706", style: "solid" },
    { level: 3, name: "SECRET", label: "Secret", width: 4, color: "#dc2626", style: "solid" },
    { level: 4, name: "TOP_SECRET", label: "Top secret", width: 6, color: "#7f1d1d", style: "double" },
  ];
  // Labels from the server (apps.core.choices.Sensitivity), so the page says what the admin says.
  for (const choice of config.sensitivities || []) {
    if (SENSITIVITY[choice.value]) SENSITIVITY[choice.value].label = choice.label;
  }
  const UNKNOWN_SENSITIVITY = { level: null, label: "Unknown", width: 1, color: "#cbd5e1", style: "solid" };

  const REASONS = {
    TENANT: "belongs to a tenant you are not a member of",
    CLEARANCE: "is above your clearance",
    COMPARTMENT: "carries a compartment you are not granted",
    EDGE_ROLE: "is a relationship kind your role may not see",
    FIELD_CLEARANCE: "needs a higher clearance",
    FIELD_ROLE: "needs a higher role",
    PURPOSE_REQUIRED: "needs a declared investigative purpose",
    POLICY_ERROR: "could not be decided (the policy engine failed; access is denied)",
  };

  const SHAPE_PATHS = {
    // 20x20 SVG glyphs matching the canvas shapes, for the results list, legend and panel.
    ellipse: '<circle cx="10" cy="10" r="7.5"/>',
    "round-rectangle": '<rect x="2.5" y="3.5" width="15" height="13" rx="3"/>',
    "round-diamond": '<path d="M10 2l8 8-8 8-8-8z" stroke-linejoin="round"/>',
    "round-triangle": '<path d="M10 2.5l8 14.5H2z" stroke-linejoin="round"/>',
    "round-tag": '<path d="M2.5 4.5h10l5 5.5-5 5.5h-10z" stroke-linejoin="round"/>',
    "round-hexagon": '<path d="M6 2.5h8l4 7.5-4 7.5H6l-4-7.5z" stroke-linejoin="round"/>',
    "round-pentagon": '<path d="M10 2l8 6-3 9.5H5L2 8z" stroke-linejoin="round"/>',
    star: '<path d="M10 1.8l2.4 5.3 5.8.6-4.3 3.9 1.2 5.7L10 14.4l-5.1 2.9 1.2-5.7-4.3-3.9 5.8-.6z" stroke-linejoin="round"/>',
  };

  const DELETED_IMAGE =
    "data:image/svg+xml;utf8," +
    encodeURIComponent(
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><path d="M5 5l10 10M15 5L5 15" ' +
        'stroke="#dc2626" stroke-width="3" stroke-linecap="round"/></svg>'
    );
  const LOCK_ICON =
    '<svg class="lock" viewBox="0 0 16 16" aria-hidden="true"><rect x="3" y="7" width="10" height="7" rx="1.5"/>' +
    '<path d="M5.5 7V5a2.5 2.5 0 015 0v2" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>';

  // ------------------------------------------------------------------ GraphQL operations
  // Persisted operations only (graphql/safelist.json, documents in graphql/operations/): the page works
  // where GRAPHQL_REQUIRE_PERSISTED refuses ad-hoc documents, and the server knows every query it runs.

  const OP = {
    search: "explorer-search:v1",
    graphNodes: "graph-nodes:v1",
    neighborhood: "neighborhood:v1",
    preview: "neighborhood-preview:v1",
    graphKinds: "graph-kinds:v1",
    entity: "entity-detail:v1",
  };

  // ------------------------------------------------------------------ state

  const state = {
    config,
    tenants: new Set(config.tenants.map((t) => t.slug)), // searched tenants (chips)
    purpose: config.purpose || "",
    search: { q: "", kinds: [], filters: null, cursor: null, hits: [], total: null, capped: false, loading: false, seq: 0 },
    nodes: new Map(), // id -> GraphNode as the API returned it
    edges: new Map(), // id -> GraphEdge
    addedBy: new Map(), // seed id -> Set of node ids its expansions added (for Collapse)
    pending: [], // truncated neighbourhood requests that "Load more" continues
    changes: new Map(), // id -> {op, into, at} from live updates
    graphKinds: { edgeKinds: [], nodeKinds: config.kinds.map((k) => k.value) },
    excludedEdgeKinds: new Set(),
    excludedNodeKinds: new Set(),
    preview: null, // {id, total, masked, byEdgeKind, byNodeKind, degraded}
    degraded: false,
    live: "offline",
    missingGraphApi: false,
    busy: 0,
    panelSeq: 0,
  };

  let cy = null;

  // ------------------------------------------------------------------ small helpers

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "html") node.innerHTML = value; // only for our own constant markup
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const kindStyle = (kind) => KIND_STYLES[kind] || DEFAULT_KIND;
  const kindLabel = (kind) => (KIND_STYLES[kind] ? KIND_STYLES[kind].label : kind || "Unknown");

  function sensitivityOf(value) {
    if (value === null || value === undefined) return UNKNOWN_SENSITIVITY;
    if (typeof value === "number") return SENSITIVITY[value] || UNKNOWN_SENSITIVITY;
    const upper = String(value).toUpperCase().replace(/\s+/g, "_");
    return SENSITIVITY.find((s) => s.name === upper || String(s.level) === upper) || UNKNOWN_SENSITIVITY;
  }

  function kindIcon(kind, extraClass = "") {
    const style = kindStyle(kind);
    const span = el("span", { class: `kind-icon ${extraClass}`.trim(), "aria-hidden": "true" });
    span.innerHTML =
      `<svg viewBox="0 0 20 20" fill="${style.color}" stroke="${style.color}" stroke-width="1">` +
      `${SHAPE_PATHS[style.shape] || SHAPE_PATHS.ellipse}</svg>`;
    return span;
  }

  function tenantName(slug) {
    const tenant = config.tenants.find((t) => t.slug === slug);
    return tenant ? tenant.name : slug;
  }

  function plural(n, one, many) {
    return `${n.toLocaleString()} ${n === 1 ? one : many || one + "s"}`;
  }

  function formatDate(value) {
    if (!value) return "—";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  function nodeName(id) {
    const node = state.nodes.get(id);
    if (!node) return id;
    return node.masked ? `${kindLabel(node.kind)} (masked)` : node.label || id;
  }

  // ------------------------------------------------------------------ announcements and toasts

  const announcer = $("#announcer");
  function announce(message) {
    // Clear first so the same message twice is still read out.
    announcer.textContent = "";
    window.setTimeout(() => (announcer.textContent = message), 30);
  }

  function toast(message, { kind = "error", code = null, timeout = null } = {}) {
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

  function showError(error, context) {
    const code = error.code || "ERROR";
    let message = error.message || String(error);
    if (code === "UNAUTHENTICATED" || code === "CSRF_FAILED") message += " Reload the page to sign in again.";
    toast(context ? `${context}: ${message}` : message, { code });
  }

  function setBusy(on, message) {
    state.busy = Math.max(0, state.busy + (on ? 1 : -1));
    const busy = $("#canvas-busy");
    busy.hidden = state.busy === 0;
    $("#cy").setAttribute("aria-busy", state.busy > 0 ? "true" : "false");
    if (on && message) {
      $("#canvas-busy-text").textContent = message;
      announce(message);
    }
  }

  // ------------------------------------------------------------------ GraphQL client

  class GraphQLError extends Error {
    constructor(message, code, extensions, data) {
      super(message);
      this.code = code;
      this.extensions = extensions || {};
      this.data = data;
    }
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value; // the cookie is HttpOnly: the page carries the token
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function gql(operation, variables = {}, { signal } = {}) {
    let response;
    try {
      response = await fetch(config.urls.graphql, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ id: operation, variables }),
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new GraphQLError("The server could not be reached; check your connection.", "NETWORK_ERROR");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      throw new GraphQLError(`The server answered ${response.status} without JSON.`, `HTTP_${response.status}`);
    }
    if (body.errors && body.errors.length) {
      const first = body.errors[0];
      const extensions = first.extensions || {};
      throw new GraphQLError(first.message, extensions.code || "ERROR", extensions, body.data);
    }
    return body.data;
  }

  function isMissingField(error, field) {
    return (
      error instanceof GraphQLError &&
      error.code === "GRAPHQL_VALIDATION_FAILED" &&
      error.message.includes(`'${field}'`)
    );
  }

  function graphApiMissing(error) {
    if (["graphNodes", "neighborhood", "neighborhoodPreview", "graphKinds"].some((f) => isMissingField(error, f))) {
      state.missingGraphApi = true;
      toast("The graph API (graphNodes, neighborhood) is not available on this server yet.", {
        code: "UNAVAILABLE",
      });
      return true;
    }
    return false;
  }


  // ------------------------------------------------------------------ canvas

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

  function nodeClasses(node) {
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
      return !!cytoscape("layout", name);
    } catch (error) {
      return false;
    }
  }

  function runLayout(overrides = {}) {
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
  function fitView(eles = cy.elements(), padding = 48) {
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
  function layoutNew(newNodes, seedIds) {
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
  function mergeGraph({ nodes = [], edges = [] }, { seed = null } = {}) {
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

  function removeElements(collection) {
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

  const canvasChanged = debounce(() => {
    const nodes = cy.nodes().length;
    const edges = cy.edges().length;
    $("#canvas-count").textContent = `${plural(nodes, "node")} · ${plural(edges, "edge")}`;
    $("#canvas-empty").hidden = nodes > 0;
    markResultsOnCanvas();
    renderTruncated();
    liveWatch();
    renderSelection();
  }, 40);

  // ------------------------------------------------------------------ adding and expanding

  async function addNodes(ids, { select = true, quiet = false } = {}) {
    const wanted = Array.from(new Set(ids.filter(Boolean)));
    if (!wanted.length) return [];
    const already = wanted.filter((id) => cy.getElementById(id).nonempty());
    const missing = wanted.filter((id) => cy.getElementById(id).empty());
    let fetched = [];
    if (missing.length) {
      setBusy(true, missing.length === 1 ? "Adding to the canvas…" : `Adding ${missing.length} nodes…`);
      try {
        for (let i = 0; i < missing.length; i += GRAPH_NODES_MAX) {
          const data = await gql(OP.graphNodes, { ids: missing.slice(i, i + GRAPH_NODES_MAX) });
          fetched = fetched.concat(data.graphNodes || []);
        }
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

  function selectedNodes() {
    return cy.nodes(":selected");
  }

  function kindFilters() {
    const edgeKinds = knownEdgeKinds();
    const nodeKinds = knownNodeKinds();
    const edgeFilter = state.excludedEdgeKinds.size ? edgeKinds.filter((k) => !state.excludedEdgeKinds.has(k)) : null;
    const nodeFilter = state.excludedNodeKinds.size ? nodeKinds.filter((k) => !state.excludedNodeKinds.has(k)) : null;
    return { edgeKinds: edgeFilter, nodeKinds: nodeFilter };
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

  async function expand(hops, seedIds = null) {
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

  async function loadMoreNeighborhood() {
    const requests = state.pending.filter((r) => r.cursor);
    if (!requests.length) return;
    await runNeighborhoods(requests, "Loading more of the neighbourhood…");
  }

  function renderTruncated() {
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

  function setDegraded(degraded) {
    if (degraded === undefined || degraded === null) return;
    state.degraded = !!degraded;
    const banner = $("#banner-degraded");
    if (banner.hidden === state.degraded) {
      banner.hidden = !state.degraded;
      if (state.degraded) announce("Graph store unavailable: answers come from PostgreSQL, slower.");
    }
  }

  /* Collapse: remove what expanding these nodes added (and what expanding those added, and so on),
   * except nodes still linked to something that stays. */
  function collapse(seedIds = null) {
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

  function removeSelection() {
    const selected = cy.elements(":selected");
    if (!selected.length) return announce("Nothing selected to remove.");
    const count = selected.nodes().length;
    const label = count === 1 ? nodeName(selected.nodes()[0].id()) : plural(count, "node");
    removeElements(selected);
    announce(count ? `Removed ${label} from the canvas.` : "Removed the edge from the canvas.");
    $("#cy").focus();
  }

  async function preview(seedId = null) {
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

  function renderPreview() {
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

  function renderHopFilters() {
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

  // ------------------------------------------------------------------ search

  async function runSearch({ more = false } = {}) {
    const input = $("#explorer-search");
    const q = more ? state.search.q : input.value.trim();
    if (!q) {
      announce("Type a name, number or address to search for.");
      input.focus();
      return;
    }
    // "Load more" repeats the first page's filters: the cursor is bound to them.
    const kinds = more ? state.search.kinds : $$("#search-kinds input:checked").map((i) => i.value);
    const filters = more ? state.search.filters : { tenant: Array.from(state.tenants) };
    if (!more && kinds.length) filters.kind = kinds;
    const seq = ++state.search.seq;
    state.search.loading = true;
    $("#results-summary").textContent = more ? "Loading more…" : "Searching…";
    $("#search-submit").disabled = true;
    try {
      const data = await gql(OP.search, {
        q,
        filters: JSON.stringify(filters),
        first: SEARCH_PAGE,
        after: more ? state.search.cursor : null,
      });
      if (seq !== state.search.seq) return; // a newer search won
      const result = data.search;
      state.search.q = q;
      state.search.kinds = kinds;
      state.search.filters = filters;
      state.search.cursor = result.nextCursor;
      state.search.total = result.totalEstimate;
      state.search.capped = !!result.totalCapped;
      state.search.hits = more ? state.search.hits.concat(result.hits) : result.hits;
      renderResults({ append: more ? result.hits : null });
      const shown = state.search.hits.length;
      const total = result.totalEstimate === null || result.totalEstimate === undefined ? shown : result.totalEstimate;
      announce(shown ? `${plural(total, "result")}${state.search.capped ? " or more" : ""}.` : `No results for ${q}.`);
    } catch (error) {
      if (seq !== state.search.seq) return;
      $("#results-summary").textContent = "";
      showError(error, "Search failed");
    } finally {
      if (seq === state.search.seq) {
        state.search.loading = false;
        $("#search-submit").disabled = false;
      }
    }
  }

  function snippetNodes(snippet) {
    // The API sends HTML-escaped text with matches in <mark>: keep the marks, treat the rest as text.
    const doc = new DOMParser().parseFromString(`<div>${snippet}</div>`, "text/html");
    const out = [];
    for (const child of doc.body.firstChild ? doc.body.firstChild.childNodes : []) {
      if (child.nodeType === Node.ELEMENT_NODE && child.tagName === "MARK") out.push(el("mark", {}, child.textContent));
      else out.push(document.createTextNode(child.textContent));
    }
    return out;
  }

  function resultItem(hit) {
    const onCanvas = cy.getElementById(hit.id).nonempty();
    const add = el(
      "button",
      {
        type: "button",
        class: "btn btn-small add-btn",
        "data-testid": "result-add",
        "aria-label": `${onCanvas ? "Show" : "Add"} ${hit.displayName} ${onCanvas ? "on" : "to"} the canvas`,
      },
      onCanvas ? "Show" : "Add"
    );
    add.addEventListener("click", (event) => {
      event.stopPropagation();
      addNodes([hit.id]);
    });
    const item = el(
      "li",
      {
        class: `result-item${onCanvas ? " on-canvas" : ""}`,
        tabindex: "0",
        dataset: { id: hit.id, kind: hit.kind },
        "aria-label": `${hit.displayName}, ${kindLabel(hit.kind)}, ${tenantName(hit.tenant)}. Enter adds it to the canvas.`,
      },
      kindIcon(hit.kind),
      el(
        "div",
        { class: "result-main" },
        el("div", { class: "result-name", title: hit.displayName }, hit.displayName),
        el(
          "div",
          { class: "result-meta" },
          el("span", { class: "kind-tag", style: `color:${kindStyle(hit.kind).color}` }, kindLabel(hit.kind)),
          config.tenants.length > 1 ? el("span", { class: "tenant-tag" }, tenantName(hit.tenant)) : null
        ),
        hit.snippet ? el("div", { class: "result-snippet" }, snippetNodes(hit.snippet)) : null
      ),
      add
    );
    item.addEventListener("keydown", (event) => {
      if (event.target !== item) return;
      if (event.key === "Enter") {
        event.preventDefault();
        addNodes([hit.id]);
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const sibling = event.key === "ArrowDown" ? item.nextElementSibling : item.previousElementSibling;
        if (sibling) sibling.focus();
        else if (event.key === "ArrowUp") $("#explorer-search").focus();
      }
    });
    item.addEventListener("dblclick", () => addNodes([hit.id]));
    return item;
  }

  function renderResults({ append = null } = {}) {
    const list = $("#results");
    if (!append) list.replaceChildren();
    for (const hit of append || state.search.hits) list.append(resultItem(hit));
    const shown = state.search.hits.length;
    const total = state.search.total;
    let summary = "";
    if (!shown) summary = `No results for “${state.search.q}”.`;
    else if (total !== null && total !== undefined) {
      summary = `${shown.toLocaleString()} of ${total.toLocaleString()}${state.search.capped ? "+" : ""} results`;
    } else summary = plural(shown, "result");
    $("#results-summary").textContent = summary;
    $("#results-empty").hidden = shown > 0 || !!state.search.q;
    $("#results-more").hidden = !state.search.cursor;
  }

  function markResultsOnCanvas() {
    for (const item of $$("#results .result-item")) {
      const onCanvas = cy.getElementById(item.dataset.id).nonempty();
      item.classList.toggle("on-canvas", onCanvas);
      const button = $(".add-btn", item);
      const name = $(".result-name", item).textContent;
      button.textContent = onCanvas ? "Show" : "Add";
      button.setAttribute("aria-label", `${onCanvas ? "Show" : "Add"} ${name} ${onCanvas ? "on" : "to"} the canvas`);
    }
  }

  // ------------------------------------------------------------------ selection panel

  const renderSelection = debounce(() => renderSelectionNow(), 30);

  function showPanel(which) {
    $("#panel-empty").hidden = which !== "empty";
    $("#panel-nodes").hidden = which !== "nodes";
    $("#panel-edge").hidden = which !== "edge";
  }

  let lastPanelKey = "";

  function renderSelectionNow({ force = false } = {}) {
    const nodes = cy.nodes(":selected");
    const edges = cy.edges(":selected");
    const key = nodes.map((n) => n.id()).join(",") + "|" + edges.map((e) => e.id()).join(",");
    const same = key === lastPanelKey && !force;
    lastPanelKey = key;
    if (!nodes.length && edges.length === 1) return renderEdgePanel(edges[0]);
    if (!nodes.length) {
      showPanel("empty");
      return;
    }
    showPanel("nodes");
    $("#panel-single-head").hidden = nodes.length !== 1;
    $("#panel-single-body").hidden = nodes.length !== 1;
    $("#panel-multi-head").hidden = nodes.length === 1;
    $("#multi-list").hidden = nodes.length === 1;
    renderPreview();
    if (!same) renderHopFilters();
    if (nodes.length === 1) {
      renderNodeHead(nodes[0].id());
      renderConnections(nodes[0]);
      if (!same) loadDetails(nodes[0].id());
    } else {
      $("#multi-title").textContent = `${nodes.length} nodes selected`;
      renderStateBanner(null);
      const list = $("#multi-list");
      list.replaceChildren(
        ...nodes.slice(0, 100).map((n) =>
          el("li", {}, nodeButton(n.id(), () => selectOnly(n.id())))
        )
      );
    }
  }

  function selectOnly(id) {
    const node = cy.getElementById(id);
    if (node.empty()) return;
    cy.elements(":selected").unselect();
    node.select();
    revealNode(node);
  }

  /* Pan to a node only when it is outside (or at the edge of) the view: the analyst's view stays put. */
  function revealNode(node) {
    const p = node.renderedPosition();
    const margin = 40;
    if (p.x < margin || p.y < margin || p.x > cy.width() - margin || p.y > cy.height() - margin) {
      cy.animate({ center: { eles: node }, duration: 200 });
    }
  }

  function nodeButton(id, onClick, prefix = null) {
    const node = state.nodes.get(id) || { kind: "unknown" };
    return el(
      "button",
      { type: "button", class: "node-link", onclick: onClick, title: nodeName(id) },
      prefix ? el("span", { class: "edge-kind" }, prefix) : null,
      kindIcon(node.kind),
      el("span", { class: "node-link-text" }, nodeName(id))
    );
  }

  function renderNodeHead(id) {
    const node = state.nodes.get(id) || { id, kind: "unknown" };
    const icon = kindIcon(node.kind, "kind-icon-lg");
    icon.id = "panel-kind-icon";
    $("#panel-kind-icon").replaceWith(icon);
    $("#panel-title").textContent = node.masked ? `${kindLabel(node.kind)} · masked` : node.label || id;
    const sub = $("#panel-sub");
    sub.replaceChildren(
      el("span", { class: "kind-tag", style: `color:${kindStyle(node.kind).color}` }, kindLabel(node.kind)),
      el("span", { class: "tenant-tag" }, tenantName(node.tenant)),
      node.masked
        ? el("span", { class: "badge badge-masked" }, "masked")
        : sensitivityBadge(node.sensitivity),
      ...(node.labels || []).map((label) => el("span", { class: "badge badge-label" }, label))
    );
    renderStateBanner(id);
  }

  function sensitivityBadge(value) {
    const s = sensitivityOf(value);
    return el(
      "span",
      { class: `badge badge-sens sens-${s.level === null ? "unknown" : s.level}`, title: "Sensitivity" },
      s.label
    );
  }

  function renderStateBanner(id) {
    const box = $("#panel-state");
    const change = id ? state.changes.get(id) : null;
    const node = id ? state.nodes.get(id) : null;
    box.replaceChildren();
    box.className = "panel-state";
    const mergedInto = (change && change.op === "merged" && change.into) || (node && node.mergedInto);
    if (!change && !mergedInto) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    if (change && change.op === "deleted") {
      box.classList.add("state-deleted");
      box.append(el("strong", {}, "Deleted."), " This entity was deleted while you were looking at it.");
    } else if (change && change.op === "hidden") {
      box.classList.add("state-deleted");
      box.append(el("strong", {}, "No longer visible."), " It changed and you may no longer see it.");
    } else if (mergedInto) {
      box.classList.add("state-merged");
      box.append(el("strong", {}, "Merged."), " Entity resolution merged this into another entity.");
      const onCanvas = cy.getElementById(mergedInto).nonempty();
      box.append(
        el(
          "button",
          { type: "button", class: "btn btn-small", id: "add-survivor", onclick: () => addNodes([mergedInto]) },
          onCanvas ? "Show the surviving entity" : "Add the surviving entity"
        )
      );
    } else if (change) {
      box.classList.add("state-changed");
      const when = new Date(change.at).toLocaleTimeString();
      const what = change.op === "split" ? "Split by entity resolution" : "Changed";
      box.append(el("strong", { class: "changed-marker" }, `${what}`), ` at ${when}; the details below are refreshed.`);
    }
  }

  function renderConnections(node) {
    const list = $("#panel-connections");
    const edges = node.connectedEdges();
    list.replaceChildren();
    if (!edges.length) {
      list.append(el("li", { class: "muted small" }, "No edges on the canvas. Expand to see neighbours."));
      return;
    }
    const id = node.id();
    for (const edge of edges.slice(0, 60)) {
      const other = edge.source().id() === id ? edge.target().id() : edge.source().id();
      const outgoing = edge.source().id() === id;
      const label = `${outgoing ? "→" : "←"} ${edge.data("display")}`;
      list.append(el("li", {}, nodeButton(other, () => selectOnly(other), label)));
    }
    if (edges.length > 60) list.append(el("li", { class: "muted small" }, `and ${edges.length - 60} more`));
  }

  async function loadDetails(id) {
    const seq = ++state.panelSeq;
    const details = $("#panel-details");
    details.replaceChildren(el("div", { class: "skeleton" }), el("div", { class: "skeleton short" }));
    $("#panel-provenance-section").hidden = true;
    $("#panel-cluster-section").hidden = true;
    $("#panel-meta").replaceChildren();
    let entity = null;
    try {
      const data = await gql(OP.entity, { id });
      entity = data.entity;
    } catch (error) {
      if (seq !== state.panelSeq) return;
      renderDetailsError(id, error);
      return;
    }
    if (seq !== state.panelSeq) return;
    renderDetails(id, entity);
  }

  function whyBlock(id, title, rows, message) {
    const body = el(
      "div",
      { class: "why", id, hidden: true },
      el("dl", {}, ...rows.flatMap(([term, value]) => (value ? [el("dt", {}, term), el("dd", {}, value)] : []))),
      message ? el("p", {}, message) : null
    );
    const toggle = el(
      "button",
      { type: "button", class: "why-toggle", "aria-expanded": "false", "aria-controls": id },
      title
    );
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      body.hidden = !open;
    });
    return [toggle, body];
  }

  function renderDetailsError(id, error) {
    const details = $("#panel-details");
    details.replaceChildren();
    const node = state.nodes.get(id);
    if (error.code === "FORBIDDEN") {
      const reason = error.extensions.reason || (node && node.reason) || "";
      const [toggle, body] = whyBlock(
        "why-entity",
        "Why can't I see this?",
        [
          ["Reason", reason ? `${reason} — this record ${REASONS[reason] || reason.toLowerCase()}` : null],
          ["Rule", error.extensions.rule],
        ],
        error.message
      );
      body.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      details.append(
        el(
          "div",
          { class: "masked-note", "data-testid": "why-trace" },
          el("div", { class: "masked-title", html: `${LOCK_ICON}<span>You may not read this entity</span>` }),
          el("p", { class: "muted small" }, "It is drawn as a masked stub so you know it exists and how it connects."),
          toggle,
          body
        )
      );
    } else if (error.code === "NOT_FOUND") {
      details.append(el("p", { class: "muted" }, "This entity no longer exists, or you may no longer see it."));
    } else if (error.code === "BAD_USER_INPUT" && error.extensions.reason) {
      details.append(
        el("div", { class: "masked-note" }, el("p", {}, error.message),
          el("p", { class: "muted small" }, "Change the purpose in the header to continue."))
      );
    } else {
      details.append(
        el("p", { class: "error-text" }, `Could not load details: ${error.message}`),
        el("button", { type: "button", class: "btn btn-small", onclick: () => loadDetails(id) }, "Try again")
      );
    }
    renderMeta(id, null);
  }

  function renderDetails(id, entity) {
    const details = $("#panel-details");
    details.replaceChildren();
    if (!entity) {
      details.append(el("p", { class: "muted" }, "No details."));
      return;
    }
    // The entity answer is richer than the graph node: refresh the head from it.
    $("#panel-title").textContent = entity.displayName;
    const redactions = new Map((entity.redactions || []).map((r) => [r.field, r]));
    const attributes = entity.attributeList || [];
    if (!attributes.length) details.append(el("p", { class: "muted small" }, "No attributes."));
    const table = el("div", { class: "attrs", role: "list" });
    attributes.forEach((attribute, index) => {
      const row = el("div", { class: "attr-row", role: "listitem", dataset: { name: attribute.name } });
      row.append(el("div", { class: "attr-name" }, attribute.name));
      if (attribute.redacted) {
        row.classList.add("is-redacted");
        const redaction = redactions.get(attribute.name) || {};
        const reason = attribute.reason || redaction.reason || "";
        const value = el(
          "div",
          { class: "attr-value" },
          el("span", {
            class: "redacted",
            title: `Withheld: ${reason}`,
            dataset: { reason },
            html: `<span class="redacted-word">${LOCK_ICON}redacted</span><span class="reason-code">${escapeHtml(reason)}</span>`,
          })
        );
        const [toggle, body] = whyBlock(
          `why-attr-${index}`,
          "Why can't I see this?",
          [
            ["Reason", reason],
            ["Rule", redaction.rule],
          ],
          redaction.explanation || (REASONS[reason] ? `${attribute.name} ${REASONS[reason]}.` : null)
        );
        value.append(toggle);
        row.append(value, body);
      } else {
        row.append(el("div", { class: "attr-value", title: attribute.text || "" }, attribute.text || "—"));
      }
      table.append(row);
    });
    if (attributes.length) details.append(table);
    renderProvenance(entity.provenance);
    renderCluster(id, entity);
    renderMeta(id, entity);
    $("#panel-sub").replaceChildren(
      el("span", { class: "kind-tag", style: `color:${kindStyle(entity.kind).color}` }, kindLabel(entity.kind)),
      el("span", { class: "tenant-tag" }, entity.tenant ? entity.tenant.name : ""),
      sensitivityBadge(entity.sensitivity),
      ...(entity.labels || []).map((label) => el("span", { class: "badge badge-label" }, label))
    );
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function renderProvenance(provenance) {
    const section = $("#panel-provenance-section");
    const box = $("#panel-provenance");
    box.replaceChildren();
    const items = provenance === null || provenance === undefined ? [] : Array.isArray(provenance) ? provenance : [provenance];
    section.hidden = items.length === 0;
    for (const item of items.slice(0, 50)) {
      if (typeof item !== "object" || item === null) {
        box.append(el("div", { class: "prov-item" }, String(item)));
        continue;
      }
      // An empty list means the source gave every attribute (apps.core.models.Provenance.fields).
      const fields = Array.isArray(item.fields) ? item.fields.join(", ") || "all" : item.fields;
      box.append(
        el(
          "div",
          { class: "prov-item" },
          el(
            "div",
            { class: "prov-head" },
            el("strong", {}, item.source || "Unknown source"),
            item.sourceKind ? el("span", { class: "badge badge-muted" }, item.sourceKind) : null,
            item.method ? el("span", { class: "muted small" }, `via ${item.method}`) : null
          ),
          fields ? el("div", { class: "small" }, el("span", { class: "muted" }, "Fields: "), fields) : null,
          item.recordRef ? el("div", { class: "small mono" }, item.recordRef) : null,
          item.recordedAt ? el("div", { class: "muted small" }, formatDate(item.recordedAt)) : null
        )
      );
    }
  }

  function memberId(value) {
    return value && typeof value === "object" ? value.id : value;
  }

  function memberLabel(value) {
    if (value && typeof value === "object") return value.displayName || value.id;
    return state.nodes.has(value) ? nodeName(value) : String(value).slice(0, 8) + "…";
  }

  function renderCluster(id, entity) {
    const section = $("#panel-cluster-section");
    const box = $("#panel-cluster");
    box.replaceChildren();
    const into = entity.mergedInto;
    const members = Array.isArray(entity.mergedMembers) ? entity.mergedMembers : [];
    section.hidden = !into && !members.length;
    const addButton = (value) => {
      const target = memberId(value);
      const onCanvas = cy.getElementById(target).nonempty();
      return el(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          onclick: () => addNodes([target]),
          "aria-label": `${onCanvas ? "Show" : "Add"} ${memberLabel(value)}`,
        },
        onCanvas ? "Show" : "Add"
      );
    };
    if (into) {
      box.append(
        el(
          "div",
          { class: "cluster-row" },
          el("span", {}, "Merged into ", el("strong", {}, memberLabel(into))),
          addButton(into)
        )
      );
    }
    if (members.length) {
      box.append(el("p", { class: "muted small" }, `Resolved from ${plural(members.length, "record")}:`));
      const list = el("ul", { class: "cluster-list" });
      for (const member of members.slice(0, 50)) {
        list.append(el("li", { class: "cluster-row" }, el("span", {}, memberLabel(member)), addButton(member)));
      }
      box.append(list);
    }
  }

  function renderMeta(id, entity) {
    const meta = $("#panel-meta");
    const node = state.nodes.get(id) || {};
    const rows = [
      ["Id", el("span", { class: "mono" }, id), copyButton(id)],
      ["Tenant", entity && entity.tenant ? entity.tenant.name : tenantName(node.tenant)],
    ];
    if (entity) {
      rows.push(["Created", formatDate(entity.createdAt)], ["Updated", formatDate(entity.updatedAt)]);
    }
    if (node.masked && node.reason) rows.push(["Masked", `${node.reason} — ${REASONS[node.reason] || ""}`]);
    if (typeof node.hop === "number") rows.push(["Hop", String(node.hop)]);
    meta.replaceChildren(...rows.flatMap(([term, ...value]) => [el("dt", {}, term), el("dd", {}, ...value)]));
  }

  function copyButton(text) {
    const button = el("button", { type: "button", class: "icon-btn icon-btn-small copy-btn", "aria-label": "Copy id", title: "Copy id" });
    button.innerHTML =
      '<svg viewBox="0 0 16 16" aria-hidden="true"><rect x="5" y="5" width="8" height="9" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.5"/>' +
      '<path d="M3 11V3.5A1.5 1.5 0 014.5 2H10" fill="none" stroke="currentColor" stroke-width="1.5"/></svg>';
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text);
        announce("Id copied.");
      } catch (error) {
        announce("Copying is not allowed here.");
      }
    });
    return button;
  }

  function renderEdgePanel(edge) {
    showPanel("edge");
    const data = state.edges.get(edge.id()) || {};
    $("#edge-title").textContent = data.masked ? "Masked relationship" : data.kind || edge.data("kind");
    $("#edge-sub").replaceChildren(
      data.masked ? el("span", { class: "badge badge-masked" }, "masked") : sensitivityBadge(data.sensitivity)
    );
    const ends = $("#edge-ends");
    ends.replaceChildren(
      el("li", {}, nodeButton(edge.source().id(), () => selectOnly(edge.source().id()), "from")),
      el("li", {}, nodeButton(edge.target().id(), () => selectOnly(edge.target().id()), "to"))
    );
    const rows = [
      ["Kind", data.masked ? "withheld" : data.kind],
      ["Id", el("span", { class: "mono" }, edge.id())],
    ];
    if (data.masked) {
      rows.push(["Masked", data.reason ? `${data.reason} — this relationship ${REASONS[data.reason] || ""}` : "yes"]);
    } else {
      rows.push(["Sensitivity", sensitivityOf(data.sensitivity).label]);
    }
    $("#edge-meta").replaceChildren(...rows.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
    const state_ = $("#edge-state");
    state_.hidden = !data.masked;
    state_.className = "panel-state state-masked";
    state_.textContent = data.masked ? "You may not see this relationship's details; it is drawn so the path is visible." : "";
  }

  // ------------------------------------------------------------------ live updates

  const live = { socket: null, attempts: 0, timer: null, watched: null };

  function setLive(status, detail = "") {
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

  function liveConnect() {
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

  function liveWatch(force = false) {
    if (!live.socket || live.socket.readyState !== WebSocket.OPEN) return;
    const ids = cy.nodes().map((n) => n.id()).sort().slice(0, WATCH_MAX);
    const key = ids.join(",");
    if (!force && key === live.watched) return;
    live.watched = key;
    live.socket.send(JSON.stringify({ watch: ids }));
  }

  async function applyChanges(changes) {
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
        let fetched = [];
        for (let i = 0; i < refetch.length; i += GRAPH_NODES_MAX) {
          const data = await gql(OP.graphNodes, { ids: refetch.slice(i, i + GRAPH_NODES_MAX) });
          fetched = fetched.concat(data.graphNodes || []);
        }
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

  // ------------------------------------------------------------------ export

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

  async function exportPng() {
    if (!cy.nodes().length) return announce("The canvas is empty: nothing to export.");
    if (!(await exportAllowed("png"))) return;
    const blob = cy.png({ full: true, scale: 2, output: "blob", bg: "#ffffff" });
    download(blob, `intelgraph-explorer-${stamp()}.png`);
    announce("Canvas exported as PNG.");
  }

  async function exportJson() {
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

  // ------------------------------------------------------------------ keyboard

  /* Arrow keys in the canvas move to the nearest node in that direction (a cone of +-60 degrees). */
  function moveSelection(direction) {
    const nodes = cy.nodes();
    if (!nodes.length) return;
    const current = cy.nodes(":selected").first();
    let next = null;
    if (current.empty()) {
      const extent = cy.extent();
      const centre = { x: (extent.x1 + extent.x2) / 2, y: (extent.y1 + extent.y2) / 2 };
      next = nodes.min((n) => Math.hypot(n.position().x - centre.x, n.position().y - centre.y)).ele;
    } else {
      const from = current.position();
      const [dx, dy] = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[direction];
      let best = Infinity;
      nodes.forEach((n) => {
        if (n.same(current)) return;
        const vx = n.position().x - from.x;
        const vy = n.position().y - from.y;
        const along = vx * dx + vy * dy;
        const across = Math.abs(vx * dy - vy * dx);
        if (along <= 0 || across > along * 1.8) return;
        const score = along + across * 2;
        if (score < best) {
          best = score;
          next = n;
        }
      });
    }
    if (!next) return announce("No node that way.");
    cy.elements(":selected").unselect();
    next.select();
    revealNode(next);
    const node = state.nodes.get(next.id()) || {};
    announce(`${nodeName(next.id())}, ${kindLabel(node.kind)}, ${plural(next.degree(), "connection")} on the canvas.`);
  }

  function onCanvasKey(event) {
    if (event.key.startsWith("Arrow")) {
      event.preventDefault();
      moveSelection(event.key);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (cy.nodes(":selected").length === 1) $("#panel-title").focus();
      else if (cy.edges(":selected").length === 1) $("#edge-title").focus();
    }
  }

  function onGlobalKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if ($("#shortcuts-dialog").open) return;
    const typing = target.closest && target.closest("input, select, textarea, [contenteditable='true']");
    if (typing) {
      if (event.key === "Escape" && target.id === "explorer-search") target.blur();
      if (event.key === "ArrowDown" && target.id === "explorer-search") {
        const first = $("#results .result-item");
        if (first) {
          event.preventDefault();
          first.focus();
        }
      }
      return;
    }
    const actions = {
      "/": () => $("#explorer-search").focus(),
      1: () => expand(1),
      2: () => expand(2),
      3: () => expand(3),
      Delete: removeSelection,
      Backspace: removeSelection,
      f: () => fitView(),
      "+": () => zoomBy(1.25),
      "=": () => zoomBy(1.25),
      "-": () => zoomBy(0.8),
      p: () => preview(),
      c: () => collapse(),
      "?": () => $("#shortcuts-dialog").showModal(),
      Escape: () => {
        cy.elements(":selected").unselect();
        announce("Selection cleared.");
      },
    };
    const action = actions[event.key];
    if (!action) return;
    // Keys a focused result item or button handles itself are left to it.
    if (event.key === "Backspace" && target.tagName === "BUTTON") return;
    event.preventDefault();
    action();
  }

  function zoomBy(factor) {
    const zoom = cy.zoom() * factor;
    cy.animate({ zoom: { level: zoom, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } }, duration: 150 });
  }

  // ------------------------------------------------------------------ header: tenants and purpose

  function bindTenantChips() {
    for (const chip of $$(".tenant-chip")) {
      chip.addEventListener("click", () => {
        const slug = chip.dataset.slug;
        const on = chip.getAttribute("aria-pressed") === "true";
        if (on && state.tenants.size === 1) {
          announce("At least one tenant must stay searched.");
          toast("At least one tenant must stay searched.", { kind: "info", timeout: 3000 });
          return;
        }
        if (on) state.tenants.delete(slug);
        else state.tenants.add(slug);
        chip.setAttribute("aria-pressed", String(!on));
        chip.title = `${slug}: ${on ? "excluded from" : "included in"} searches (press to ${on ? "include" : "exclude"})`;
        announce(`${chip.textContent.trim()} ${on ? "excluded from" : "included in"} searches.`);
        if (state.search.q) runSearch();
      });
    }
  }

  function bindPurpose() {
    const form = $("#purpose-form");
    const select = $("#purpose-select");
    let previous = select.value;
    select.addEventListener("change", async () => {
      const body = new FormData(form);
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body,
          credentials: "same-origin",
          redirect: "manual", // the endpoint redirects to "next"; the canvas must not reload
          headers: { "X-CSRFToken": csrfToken() },
        });
        if (!(response.type === "opaqueredirect" || response.ok)) throw new Error(`the server answered ${response.status}`);
        previous = select.value;
        state.purpose = select.value;
        announce(select.value ? `Purpose declared: ${select.value}.` : "Purpose cleared.");
        toast(select.value ? `Purpose declared: ${select.value}. Purpose-bound attributes follow.` : "Purpose cleared.", {
          kind: "info",
          timeout: 4000,
        });
        renderSelectionNow({ force: true });
        const nodes = cy.nodes(":selected");
        if (nodes.length === 1) loadDetails(nodes[0].id());
      } catch (error) {
        select.value = previous;
        toast(`The purpose could not be declared: ${error.message}.`, { code: "PURPOSE" });
      }
    });
  }

  // ------------------------------------------------------------------ legend

  function renderLegend() {
    const kinds = $("#legend-kinds");
    for (const [kind, style] of Object.entries(KIND_STYLES)) {
      kinds.append(el("li", {}, kindIcon(kind), style.label));
    }
    kinds.append(el("li", {}, kindIcon("other"), "Other"));
    const sens = $("#legend-sensitivity");
    for (const s of SENSITIVITY) {
      sens.append(
        el(
          "li",
          {},
          el("span", {
            class: "legend-ring",
            style: `border: ${Math.min(s.width, 5)}px ${s.style} ${s.color}`,
            "aria-hidden": "true",
          }),
          `${s.level} ${s.label}`
        )
      );
    }
    const states = $("#legend-states");
    states.append(
      el("li", {}, el("span", { class: "legend-ring legend-masked", "aria-hidden": "true" }), "Masked (no access)"),
      el("li", {}, el("span", { class: "legend-line legend-line-masked", "aria-hidden": "true" }), "Masked edge"),
      el("li", {}, el("span", { class: "legend-ring legend-merged", "aria-hidden": "true" }), "Merged"),
      el("li", {}, el("span", { class: "legend-ring legend-deleted", "aria-hidden": "true" }), "Deleted"),
      el("li", {}, el("span", { class: "legend-ring legend-changed", "aria-hidden": "true" }), "Changed")
    );
    for (const icon of $$("#search-kinds .kind-icon")) icon.replaceWith(kindIcon(icon.dataset.kind));
  }

  // ------------------------------------------------------------------ start

  async function loadGraphKinds() {
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

  function bind() {
    $("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      runSearch();
    });
    $("#results-more").addEventListener("click", () => runSearch({ more: true }));
    $("#filters-clear").addEventListener("click", () => {
      for (const input of $$("#search-kinds input")) input.checked = false;
      updateFilterCount();
      if (state.search.q) runSearch();
    });
    $("#search-kinds").addEventListener("change", updateFilterCount);
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
    $("#canvas-clear").addEventListener("click", () => {
      if (!cy.nodes().length) return;
      removeElements(cy.elements());
      state.addedBy.clear();
      state.pending = [];
      renderTruncated();
      announce("Canvas cleared.");
    });
    $("#shortcuts-open").addEventListener("click", () => $("#shortcuts-dialog").showModal());
    $("#cy").addEventListener("keydown", onCanvasKey);
    document.addEventListener("keydown", onGlobalKey);
    bindTenantChips();
    bindPurpose();
  }

  function updateFilterCount() {
    const n = $$("#search-kinds input:checked").length;
    $("#filter-count").textContent = n ? `(${n})` : "";
  }

  function start() {
    if (typeof window.cytoscape !== "function") {
      toast("The graph library did not load; reload the page.", { code: "SCRIPT" });
      return;
    }
    cy = cytoscape({
      container: $("#cy"),
      elements: [],
      style: CANVAS_STYLE,
      minZoom: 0.08,
      maxZoom: 4,
      boxSelectionEnabled: true,
      selectionType: "single",
    });
    cy.on("select unselect", renderSelection);
    cy.on("dbltap", "node", (event) => expand(1, [event.target.id()]));
    cy.on("mouseover", "node", (event) => {
      const neighbourhood = event.target.closedNeighborhood();
      if (cy.nodes().length > 3) cy.elements().not(neighbourhood).addClass("faded");
    });
    cy.on("mouseout", "node", () => cy.elements().removeClass("faded"));
    renderLegend();
    bind();
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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
