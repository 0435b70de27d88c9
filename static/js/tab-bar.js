// Tab bars that scroll sideways on a phone: the current tab starts in view, not off the edge.
(function () {
  "use strict";

  function showCurrent() {
    document.querySelectorAll(".tabs").forEach(function (bar) {
      var current = bar.querySelector("[aria-current=page]");
      if (!current || bar.scrollWidth <= bar.clientWidth) return;
      var left = current.offsetLeft - bar.offsetLeft;
      if (left + current.offsetWidth > bar.scrollLeft + bar.clientWidth || left < bar.scrollLeft) {
        bar.scrollLeft = left - (bar.clientWidth - current.offsetWidth) / 2;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", showCurrent);
})();
