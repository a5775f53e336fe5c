/* The page's settings (json_script "explorer-config", rendered by apps/explorer/views.py) and the one
 * shared state object every module reads and writes. Exposed to tests as window.explorer.state. */

export const config = JSON.parse(document.getElementById("explorer-config").textContent);

export const state = {
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
