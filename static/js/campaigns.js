// The campaign form: only the details of the chosen audience are shown (segments, a tier or
// the list's filter). Without this file every detail shows and the server reads the ones the
// chosen audience needs; the audience size updates through htmx as the merchant picks.
(function () {
  "use strict";

  document.querySelectorAll("form[data-campaign-form]").forEach(function (form) {
    var radios = form.querySelectorAll("input[name=audience]");
    var details = form.querySelectorAll("[data-audience-detail]");
    var show = function () {
      var chosen = form.querySelector("input[name=audience]:checked");
      var value = chosen ? chosen.value : "";
      details.forEach(function (detail) {
        detail.hidden = detail.getAttribute("data-audience-detail") !== value;
      });
    };
    radios.forEach(function (radio) { radio.addEventListener("change", show); });
    show();
  });
})();
