/* The declared purpose in the header: posted without reloading the canvas, then the selection's details
 * are read again, since purpose-bound attributes depend on it. */

import { $ } from "./dom.js";
import { state } from "./state.js";
import { announce, toast } from "./toasts.js";
import { csrfToken } from "./api.js";
import { cy } from "./canvas.js";
import { loadDetails } from "./details.js";
import { renderSelectionNow } from "./selection.js";

export function bindPurpose() {
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
