// The Send push tab: a live character counter for the message and a submit button that says
// "Schedule" once a time is picked. The form works without this file.
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\((\w+)\)s/g, function (match, name) { return String(obj[name]); });
  };

  document.querySelectorAll("form[data-push-form]").forEach(function (form) {
    var body = form.querySelector("textarea[data-counter]");
    var counter = body && document.getElementById(body.getAttribute("data-counter"));
    if (body && counter) {
      var max = parseInt(counter.getAttribute("data-max"), 10);
      var update = function () {
        // Characters as the server counts them: code points, line breaks as one.
        var length = Array.from(body.value.replace(/\r\n/g, "\n")).length;
        counter.textContent = interpolate(
          ngettext("%(length)s / %(max)s character", "%(length)s / %(max)s characters", max),
          { length: length, max: max }, true);
        counter.classList.toggle("is-over", length > max);
      };
      body.addEventListener("input", update);
      update();
    }

    var when = form.querySelector("input[type=datetime-local]");
    var button = form.querySelector("[data-label-now]");
    if (when && button) {
      var label = function () {
        button.textContent = button.getAttribute(when.value ? "data-label-later" : "data-label-now");
      };
      when.addEventListener("input", label);
      when.addEventListener("change", label);
      label();
    }
  });
})();
