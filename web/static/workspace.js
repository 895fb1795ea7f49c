// callqa workspace: transcript synced to the redacted audio (click a line or an evidence link to seek;
// the line being played is highlighted). No framework, no build step.
"use strict";
(function () {
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var player = document.getElementById("player");
    var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript li[data-start]"));
    function seek(seconds) {
      if (!player || isNaN(seconds)) return;
      player.currentTime = seconds;
      var played = player.play();
      if (played && played.catch) played.catch(function () { /* autoplay refused: the position is set */ });
    }
    lines.forEach(function (li) {
      li.addEventListener("click", function () { seek(parseFloat(li.dataset.start)); });
      li.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); seek(parseFloat(li.dataset.start)); }
      });
    });
    var playhead = document.getElementById("playhead");
    var timeline = document.getElementById("timeline");
    document.querySelectorAll(".seek[data-start]").forEach(function (a) {
      a.addEventListener("click", function (e) { e.preventDefault(); seek(parseFloat(a.dataset.start)); });
    });
    if (player) {
      player.addEventListener("timeupdate", function () {
        var t = player.currentTime;
        if (playhead && timeline) {
          var x = String(Math.min(1000, t / parseFloat(timeline.dataset.duration) * 1000));
          playhead.setAttribute("x1", x);
          playhead.setAttribute("x2", x);
        }
        lines.forEach(function (li) {
          var on = t >= parseFloat(li.dataset.start) && t < parseFloat(li.dataset.end);
          li.classList.toggle("current", on);
          if (on) li.setAttribute("aria-current", "true"); else li.removeAttribute("aria-current");
        });
      });
    }
  });
})();
