/* The selection panel (#selection-panel): which of its views shows (nothing, one or several nodes, an
 * edge), the node's head and state banner (changed, merged, deleted), and its connections on the canvas. */

import { $, debounce, el } from "./dom.js";
import { state } from "./state.js";
import { REASONS, kindIcon, kindLabel, kindStyle, nodeName, sensitivityBadge, sensitivityOf, tenantName } from "./vocabulary.js";
import { cy, selectOnly } from "./canvas.js";
import { renderHopFilters, renderPreview } from "./preview.js";
import { addNodes } from "./neighbourhood.js";
import { loadDetails } from "./details.js";

export const renderSelection = debounce(() => renderSelectionNow(), 30);

function showPanel(which) {
  $("#panel-empty").hidden = which !== "empty";
  $("#panel-nodes").hidden = which !== "nodes";
  $("#panel-edge").hidden = which !== "edge";
}

let lastPanelKey = "";

export function renderSelectionNow({ force = false } = {}) {
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
