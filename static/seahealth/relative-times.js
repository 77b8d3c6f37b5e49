// Keeps "25 s ago" true between renders. The status page's live part is rendered again only
// when the state it shows has changed, or a minute has passed (dashboard/live_state.py); an
// unchanged poll swaps nothing, while its relative times age by the second. Each
// <time data-relative> (formatting.when's) is written again from its datetime, as
// formatting.relative writes it, on the server's clock as the last render gave it.
(function () {
  "use strict";

  const UNITS = [
    [86400, "d"],
    [3600, "h"],
    [60, "min"],
  ];
  let skew = 0; // the server's clock minus this browser's, in ms

  function rough(seconds) {
    for (const [size, unit] of UNITS) {
      if (seconds >= size) return Math.floor(seconds / size) + " " + unit;
    }
    return Math.floor(seconds) + " s";
  }

  function relative(moment, now) {
    const seconds = (now - moment) / 1000;
    const span = Math.abs(seconds);
    if (span < 10) return seconds >= 0 ? "just now" : "in a moment";
    return seconds >= 0 ? rough(span) + " ago" : "in " + rough(span);
  }

  function learnSkew() {
    const rendered = document.querySelector("[data-updated]");
    const seconds = rendered && Number(rendered.dataset.updated);
    // Whole seconds: a skew under one is not worth a jump in the text.
    if (seconds) skew = Math.round((seconds * 1000 - Date.now()) / 1000) * 1000;
  }

  function refresh() {
    const now = Date.now() + skew;
    document.querySelectorAll("time[data-relative]").forEach((element) => {
      const moment = Date.parse(element.dateTime);
      if (Number.isNaN(moment)) return;
      const text = relative(moment, now);
      if (element.textContent !== text) element.textContent = text;
    });
  }

  learnSkew();
  document.addEventListener("htmx:afterSettle", learnSkew);
  setInterval(refresh, 1000);
})();
