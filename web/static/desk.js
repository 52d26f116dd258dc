// Live SLA timers: every element with data-deadline shows the time left (or overdue), once a
// second, in the page's language (data-units: "#d|#h|#m|#s", "#" is the number). Our only
// script besides htmx; without JavaScript the deadline's time is shown.
(function () {
  "use strict";
  function format(ms, units) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var hours = Math.floor(minutes / 60);
    var days = Math.floor(hours / 24);
    function part(n, i) { return units[i].replace("#", String(n)); }
    if (days > 0) { return part(days, 0) + " " + part(hours % 24, 1); }
    if (hours > 0) { return part(hours, 1) + " " + part(minutes % 60, 2); }
    return part(minutes, 2) + " " + part(Math.floor((Math.abs(ms) % 60000) / 1000), 3);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) { return; }
      var units = (el.getAttribute("data-units") || "").split("|");
      if (units.length !== 4) { units = ["#d", "#h", "#m", "#s"]; }
      if (left <= 0) {
        el.textContent = (el.getAttribute("data-overdue") || "overdue") + " " + format(left, units);
        el.classList.add("late");
      } else {
        el.textContent = format(left, units);
        el.classList.remove("late");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSwap", tick);
})();
