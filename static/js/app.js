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

  // Links styled as buttons (role=button) take Space like Enter, as a real button does.
  document.addEventListener("keydown", function (event) {
    if (event.key !== " " || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    var link = event.target.closest && event.target.closest("a[role=button]");
    if (!link || link !== event.target) return;
    event.preventDefault();  // not a page scroll
    link.click();
  });

  // The control that opened the dialog (hx-target #dialog-slot) gets the focus back when the
  // dialog closes, applied or cancelled. The metrics may be re-rendered meanwhile, so it is
  // found again by its data-action and its rank among the controls with that data-action.
  var opener = null;
  function openerKey(el) {
    var action = el.getAttribute("data-action");
    if (!action) return null;
    var same = document.querySelectorAll('[data-action="' + action + '"]');
    return { action: action, index: Array.prototype.indexOf.call(same, el) };
  }
  function openerNow() {
    if (!opener) return null;
    if (opener.el.isConnected) return opener.el;
    if (!opener.key) return null;
    var same = document.querySelectorAll('[data-action="' + opener.key.action + '"]');
    return same[opener.key.index] || same[0] || null;
  }
  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected || !!active.closest("dialog");
  }
  function returnFocus() {
    var el = openerNow();
    if (el && focusLost()) el.focus();
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = event.detail.elt;
    if (el && el.getAttribute && el.getAttribute("hx-target") === "#dialog-slot") {
      opener = { el: el, key: openerKey(el) };
    }
  });
  // After a change the page re-renders the opener: focus its new self, unless it went elsewhere.
  document.addEventListener("htmx:afterSettle", function () {
    if (!opener || !opener.changed || document.querySelector("dialog[open]")) return;
    var el = openerNow();
    if (el && el !== opener.el) {
      if (focusLost()) el.focus();
      opener = null;
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
        returnFocus();
      });
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) { openDialogs(event.target); });
  document.addEventListener("DOMContentLoaded", function () { openDialogs(document); });

  // Server events (HX-Trigger): close the open dialog after a successful change and say so.
  // The script is deferred, so the body exists by now.
  document.body.addEventListener("ledger-changed", onChanged);
  function onChanged(event) {
    if (opener) opener.changed = true;
    document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
    var detail = event.detail && event.detail.message;
    if (detail) toast(detail);
  }

  // A field's error from the last Apply goes once the field is edited: the live preview says
  // what the new value would do (or what is wrong with it), so each message shows once.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.closest || !field.closest("#ledger-form")) return;
    if (field.getAttribute("aria-invalid") !== "true") return;
    var errors = document.getElementById(field.id + "_error");
    if (errors) errors.remove();
    field.removeAttribute("aria-invalid");
  });

  // htmx swaps 422 responses (validation errors re-render the form) and 409 (a dialog the card
  // cannot take now, saying why), and nothing else unusual.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  window.loyaltyToast = toast;
})();
