// callqa workspace, alert queue: "all shown" ticks or clears every alert's checkbox for the bulk form.
// Loaded with <script defer> (CSP: script-src 'self'); the page works without it.
"use strict";
(function () {
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var all = document.getElementById("select-all");
    if (!all) return;
    var picks = function () { return Array.prototype.slice.call(document.querySelectorAll("input.pick")); };
    all.addEventListener("change", function () {
      picks().forEach(function (box) { box.checked = all.checked; });
    });
    document.addEventListener("change", function (e) {
      if (!e.target.classList || !e.target.classList.contains("pick")) return;
      var boxes = picks();
      all.checked = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
    });
  });
})();
