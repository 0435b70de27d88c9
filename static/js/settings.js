// Settings forms: show only the fields that apply, and add tier rows. Without this file every
// field is shown and an empty tier row comes back after each save; the server decides either way.
(function () {
  "use strict";

  // <div data-show-when="kind=stamp"> is shown while the form's "kind" control equals "stamp".
  function currentValue(form, name) {
    var control = form.elements.namedItem(name);
    if (!control) return null;
    return control.value;
  }

  function refresh(root) {
    (root || document).querySelectorAll("[data-show-when]").forEach(function (el) {
      var form = el.closest("form");
      if (!form) return;
      var rule = el.getAttribute("data-show-when").split("=");
      var value = currentValue(form, rule[0]);
      if (value === null) return;
      el.hidden = value !== rule[1];
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.form) refresh(event.target.form);
  });

  // Tier rows: a formset; a new row is the empty form with the next index.
  function addTier(button) {
    var fieldset = button.closest("[data-tiers]");
    var template = document.getElementById("tier-row-template");
    var total = fieldset && fieldset.querySelector("input[name$='-TOTAL_FORMS']");
    var rows = fieldset && fieldset.querySelector("[data-tier-rows]");
    if (!template || !total || !rows) return;
    var index = parseInt(total.value, 10) || 0;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var body = document.createElement("tbody");
    body.innerHTML = html;
    var row = body.firstElementChild;
    rows.appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("input[type=text]");
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-tier]");
    if (button) {
      event.preventDefault();
      addTier(button);
    }
  });

  function init() {
    document.querySelectorAll("[data-add-tier]").forEach(function (b) { b.hidden = false; });
    refresh(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
