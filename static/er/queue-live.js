/* Decision center live updates: claims and decisions by other reviewers appear without a reload. */
(function () {
  "use strict";
  const me = document.body.dataset.erUser || "";
  const current = document.querySelector("[data-pair]") && document.querySelector("#content-main[data-pair]");
  let delay = 1000;
  function banner(text) {
    let box = document.getElementById("er-live-banner");
    if (!box) {
      box = document.createElement("div");
      box.id = "er-live-banner";
      box.setAttribute("role", "status");
      box.style.cssText = "background:#fef3c7;border:1px solid #f59e0b;padding:8px 12px;margin:0 0 12px;border-radius:4px";
      const main = document.getElementById("content-main") || document.body;
      main.prepend(box);
    }
    box.textContent = text;
  }
  function apply(message) {
    document.querySelectorAll(`.er-claim[data-pair="${message.pair}"]`).forEach((cell) => {
      cell.textContent = message.claimed_by || "—";
      cell.dataset.status = message.status;
      const row = cell.closest("tr");
      if (row && !["pending", "deferred"].includes(message.status)) row.style.opacity = "0.45";
      cell.style.background = "#fef3c7";
      setTimeout(() => (cell.style.background = ""), 1500);
    });
    if (current && String(message.pair) === current.dataset.pair) {
      if (!["pending", "deferred"].includes(message.status)) banner(`This pair was just decided: ${message.status}.`);
      else if (message.claimed_by && message.claimed_by !== me) banner(`${message.claimed_by} is now working on this pair.`);
    }
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/er/queue/`);
    socket.onopen = () => { delay = 1000; document.body.dataset.erLive = "live"; };
    socket.onmessage = (event) => { const m = JSON.parse(event.data); if (m.type === "pair") apply(m); };
    socket.onclose = (event) => {
      document.body.dataset.erLive = "reconnecting";
      if (event.code === 4401 || event.code === 4403) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
