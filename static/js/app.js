// Small progressive enhancements for the dashboard. Everything works without this file;
// it adds copy buttons, modal dialogs loaded by htmx, confirmations and auto-submit.
(function () {
  "use strict";

  // Django's JavaScript catalogue (loaded before this file) translates; without it, English.
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\((\w+)\)s/g, function (match, name) { return String(obj[name]); });
  };

  function toast(text) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.hidden = true; }, 2500);
  }

  // Copy buttons: <button data-copy="text"> or <button data-copy-target="#id">.
  function copyFrom(button) {
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var target = document.querySelector(button.getAttribute("data-copy-target"));
      text = target ? (target.value || target.textContent).trim() : "";
    }
    var done = function () {
      button.setAttribute("data-copied", "true");
      toast(interpolate(gettext("Copied: %(text)s"), { text: text }, true));
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the toast still shows the text */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy], [data-copy-target]");
    if (copy) {
      event.preventDefault();
      copyFrom(copy);
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) { event.preventDefault(); dialog.close(); }
    }
    var reveal = event.target.closest("[data-reveal]");
    if (reveal) {
      var hidden = document.getElementById(reveal.getAttribute("data-reveal"));
      if (hidden) {
        event.preventDefault();
        hidden.hidden = !hidden.hidden;
        reveal.setAttribute("aria-expanded", String(!hidden.hidden));
      }
    }
  });

  // Forms and buttons that destroy something ask first (the server asks again without JS).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });

  // A <dialog> swapped in by htmx opens as a modal; removing it on close keeps one at a time.
  function openDialogs(root) {
    var dialogs = (root || document).querySelectorAll("dialog[data-modal]:not([open])");
    dialogs.forEach(function (dialog) {
      if (!dialog.isConnected) return;
      dialog.showModal();
      var first = dialog.querySelector("[autofocus], input:not([type=hidden]), select, textarea");
      if (first) first.focus();
      dialog.addEventListener("close", function () {
        if (dialog.hasAttribute("data-remove-on-close")) dialog.remove();
      });
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) { openDialogs(event.target); });
  document.addEventListener("DOMContentLoaded", function () { openDialogs(document); });

  // Server events (HX-Trigger): close the open dialog after a successful change and say so.
  // The script is deferred, so the body exists by now.
  document.body.addEventListener("ledger-changed", onChanged);
  function onChanged(event) {
    document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
    var detail = event.detail && event.detail.message;
    if (detail) toast(detail);
  }

  // htmx swaps 422 responses (validation errors re-render the form) and nothing else unusual.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  window.loyaltyToast = toast;
})();
