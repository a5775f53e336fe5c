/* Keyboard shortcuts (the #shortcuts-dialog list): page-wide keys, and arrow keys in the canvas that move
 * the selection to the nearest node in that direction. */

import { $, plural } from "./dom.js";
import { state } from "./state.js";
import { kindLabel, nodeName } from "./vocabulary.js";
import { announce } from "./toasts.js";
import { cy, fitView, revealNode, zoomBy } from "./canvas.js";
import { preview } from "./preview.js";
import { collapse, expand, removeSelection } from "./neighbourhood.js";

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

export function bindKeyboard() {
  $("#shortcuts-open").addEventListener("click", () => $("#shortcuts-dialog").showModal());
  $("#cy").addEventListener("keydown", onCanvasKey);
  document.addEventListener("keydown", onGlobalKey);
}
