// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // A pressed button greys out, so a second click is less likely (the server refuses repeats anyway).
  // Disabled after the submit has started, so the button's own name and value still go with it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // Coming back with the browser's Back button shows the page as it was left: buttons usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[disabled]").forEach(function (b) { b.disabled = false; });
  });
  // Say when someone else has acted, without reloading under a person who is typing.
  var shown = document.body.getAttribute("data-version");
  var banner = document.getElementById("stale");
  if (!banner || !window.fetch) { return; }
  setInterval(function () {
    fetch("/version", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && String(data.version) !== shown) { banner.hidden = false; } })
      .catch(function () {});
  }, 5000);
})();
