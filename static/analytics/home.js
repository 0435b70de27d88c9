// The home page's filter without an extra click: choosing a program applies it at once.
// Without this file the "Apply" button next to the list does the same.
(function () {
  "use strict";

  var form = document.querySelector("[data-period-form]");
  if (!form) return;
  var apply = form.querySelector("[data-apply-program]");
  var select = form.querySelector("select[name=program]");
  if (!apply || !select) return;
  apply.hidden = true;
  select.addEventListener("change", function () {
    // Submitted by the Apply button, so the current period goes with the program.
    if (form.requestSubmit) form.requestSubmit(apply); else apply.click();
  });
})();
