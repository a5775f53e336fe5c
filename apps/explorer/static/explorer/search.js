/* The search panel: the query and kind filters, the tenant chips that scope it, the results list and
 * its Load more (the cursor is bound to the first page's filters). */

import { $, $$, el, plural } from "./dom.js";
import { config, state } from "./state.js";
import { kindIcon, kindLabel, kindStyle, tenantName } from "./vocabulary.js";
import { announce, showError, toast } from "./toasts.js";
import { OP, gql } from "./api.js";
import { cy } from "./canvas.js";
import { addNodes } from "./neighbourhood.js";

const SEARCH_PAGE = 20;

export async function runSearch({ more = false } = {}) {
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

export function markResultsOnCanvas() {
  for (const item of $$("#results .result-item")) {
    const onCanvas = cy.getElementById(item.dataset.id).nonempty();
    item.classList.toggle("on-canvas", onCanvas);
    const button = $(".add-btn", item);
    const name = $(".result-name", item).textContent;
    button.textContent = onCanvas ? "Show" : "Add";
    button.setAttribute("aria-label", `${onCanvas ? "Show" : "Add"} ${name} ${onCanvas ? "on" : "to"} the canvas`);
  }
}

function updateFilterCount() {
  const n = $$("#search-kinds input:checked").length;
  $("#filter-count").textContent = n ? `(${n})` : "";
}

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

export function bindSearch() {
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
  bindTenantChips();
}
