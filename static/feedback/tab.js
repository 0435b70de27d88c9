// Feedback tab: the dates show only while the custom period is chosen, typing a date picks the
// custom period, picking another period clears and hides the dates, and with htmx the Apply
// button is not needed (every change updates the list).
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var form = event.target.closest("[data-feedback-filters]");
    if (!form) return;
    var input = event.target;
    if (input.type === "date") {
      var custom = form.querySelector("input[name=period][value=custom]");
      if (custom) custom.checked = true;
    } else if (input.name === "period") {
      if (input.value !== "custom") {
        form.querySelectorAll("input[type=date]").forEach(function (date) { date.value = ""; });
      }
      var dates = form.querySelector("[data-custom-dates]");
      if (dates) dates.hidden = input.value !== "custom";
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    document.querySelectorAll("[data-apply-filters]").forEach(function (button) {
      button.hidden = true;
    });
  });
})();
