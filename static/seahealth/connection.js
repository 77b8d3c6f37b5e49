// Says so when the page's live part cannot be refreshed: without it, a page whose server is
// gone keeps reading "just now" while its figures age, and the failed polls show only in
// the browser's console. Any page polling through htmx gets it by loading this script.
(function () {
  "use strict";

  const BANNER_ID = "connection-lost";
  let lastUpdate = updatedAt(document.querySelector("[data-updated]")) || new Date();

  function updatedAt(element) {
    const seconds = element && Number(element.dataset.updated);
    return seconds ? new Date(seconds * 1000) : null;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function clock(moment) {
    const hms = [moment.getUTCHours(), moment.getUTCMinutes(), moment.getUTCSeconds()];
    return hms.map(pad).join(":") + " UTC";
  }

  function ago(moment) {
    const seconds = Math.max(0, Math.round((Date.now() - moment) / 1000));
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    return Math.floor(seconds / 3600) + " h ago";
  }

  function banner() {
    let element = document.getElementById(BANNER_ID);
    if (!element) {
      element = document.createElement("div");
      element.id = BANNER_ID;
      element.className = "alert alert-connection";
      element.setAttribute("role", "status");
      element.hidden = true;
      (document.querySelector("main") || document.body).prepend(element);
    }
    return element;
  }

  function isRead(event) {
    const config = event.detail.requestConfig;
    return !config || String(config.verb).toLowerCase() === "get";
  }

  function failed(event, why) {
    if (!isRead(event)) return; // a refused form is the form's business, not the connection's
    const element = banner();
    element.textContent =
      why + ": last update " + clock(lastUpdate) + " (" + ago(lastUpdate) + "), retrying";
    element.hidden = false;
    if (event.detail.elt) event.detail.elt.classList.add("disconnected");
  }

  document.addEventListener("htmx:sendError", (event) => failed(event, "connection lost"));
  document.addEventListener("htmx:timeout", (event) => failed(event, "connection lost"));
  document.addEventListener("htmx:responseError", (event) =>
    failed(event, "updates failing (the server answered " + event.detail.xhr.status + ")"),
  );
  // A 204 (the status page's poll when nothing changed: dashboard/live_state.py) swaps
  // nothing, and is a success like any other: what is shown was confirmed current.
  document.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail.successful || !isRead(event)) return;
    lastUpdate = new Date();
    document.querySelectorAll(".disconnected").forEach((e) => e.classList.remove("disconnected"));
    const element = document.getElementById(BANNER_ID);
    if (element) element.hidden = true;
  });
})();
