// Live SLA timers: every element with data-deadline shows the time left (or overdue), once a
// second. Our only script besides htmx; without JavaScript the deadline's time is shown.
(function () {
  "use strict";
  function format(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var hours = Math.floor(minutes / 60);
    var days = Math.floor(hours / 24);
    if (days > 0) { return days + "d " + (hours % 24) + "h"; }
    if (hours > 0) { return hours + "h " + (minutes % 60) + "m"; }
    return minutes + "m " + Math.floor((Math.abs(ms) % 60000) / 1000) + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) { return; }
      if (left <= 0) {
        el.textContent = (el.getAttribute("data-overdue") || "overdue") + " " + format(left);
        el.classList.add("late");
      } else {
        el.textContent = format(left);
        el.classList.remove("late");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSwap", tick);
})();
