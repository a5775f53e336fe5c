/* One entity's details in the selection panel (entity-detail:v1): attributes with redactions and "Why
 * can't I see this?", sources, entity resolution and the record's metadata. */

import { $, el, escapeHtml, formatDate, plural } from "./dom.js";
import { state } from "./state.js";
import { LOCK_ICON, REASONS, kindLabel, kindStyle, nodeName, sensitivityBadge, tenantName } from "./vocabulary.js";
import { announce } from "./toasts.js";
import { OP, gql } from "./api.js";
import { cy } from "./canvas.js";
import { addNodes } from "./neighbourhood.js";

export async function loadDetails(id) {
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
