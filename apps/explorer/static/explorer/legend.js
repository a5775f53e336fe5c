/* The legend under the canvas (kinds, sensitivity, states), and the kind icons of the search filters. */

import { $, $$, el } from "./dom.js";
import { KIND_STYLES, SENSITIVITY, kindIcon } from "./vocabulary.js";

export function renderLegend() {
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
