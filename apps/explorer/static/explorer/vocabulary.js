/* How kinds, sensitivities, denial reasons, tenants and nodes are drawn and named: colours and shapes per
 * kind (the shape carries the kind too, for colour-blind analysts and grey prints), sensitivity rings,
 * the icons the results list, legend and panel share with the canvas. */

import { el } from "./dom.js";
import { config, state } from "./state.js";

// Colour and shape per kind: shape carries the kind too, for colour-blind analysts and grey prints.
export const KIND_STYLES = {
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
export const SENSITIVITY = [
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

export const REASONS = {
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

export const DELETED_IMAGE =
  "data:image/svg+xml;utf8," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><path d="M5 5l10 10M15 5L5 15" ' +
      'stroke="#dc2626" stroke-width="3" stroke-linecap="round"/></svg>'
  );
export const LOCK_ICON =
  '<svg class="lock" viewBox="0 0 16 16" aria-hidden="true"><rect x="3" y="7" width="10" height="7" rx="1.5"/>' +
  '<path d="M5.5 7V5a2.5 2.5 0 015 0v2" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>';

export const kindStyle = (kind) => KIND_STYLES[kind] || DEFAULT_KIND;
export const kindLabel = (kind) => (KIND_STYLES[kind] ? KIND_STYLES[kind].label : kind || "Unknown");

export function sensitivityOf(value) {
  if (value === null || value === undefined) return UNKNOWN_SENSITIVITY;
  if (typeof value === "number") return SENSITIVITY[value] || UNKNOWN_SENSITIVITY;
  const upper = String(value).toUpperCase().replace(/\s+/g, "_");
  return SENSITIVITY.find((s) => s.name === upper || String(s.level) === upper) || UNKNOWN_SENSITIVITY;
}

export function kindIcon(kind, extraClass = "") {
  const style = kindStyle(kind);
  const span = el("span", { class: `kind-icon ${extraClass}`.trim(), "aria-hidden": "true" });
  span.innerHTML =
    `<svg viewBox="0 0 20 20" fill="${style.color}" stroke="${style.color}" stroke-width="1">` +
    `${SHAPE_PATHS[style.shape] || SHAPE_PATHS.ellipse}</svg>`;
  return span;
}

export function tenantName(slug) {
  const tenant = config.tenants.find((t) => t.slug === slug);
  return tenant ? tenant.name : slug;
}

export function nodeName(id) {
  const node = state.nodes.get(id);
  if (!node) return id;
  return node.masked ? `${kindLabel(node.kind)} (masked)` : node.label || id;
}

export function sensitivityBadge(value) {
  const s = sensitivityOf(value);
  return el(
    "span",
    { class: `badge badge-sens sens-${s.level === null ? "unknown" : s.level}`, title: "Sensitivity" },
    s.label
  );
}
