// The customer's card page: the feedback form's Send button, copy buttons, the offline
// notice, the service worker and "Add to home screen". The page works without this file.
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };
  var body = document.body;

  // Feedback: "Send" waits for a star (without JS it always sends, and the server asks for a
  // star). The comment box for ratings below 5 is card.css's job.
  var feedbackForm = document.querySelector("[data-feedback-form]");
  var sendButton = feedbackForm && feedbackForm.querySelector("[data-feedback-send]");
  if (sendButton) {
    var updateSend = function () {
      sendButton.disabled = !feedbackForm.querySelector("input[name=rating]:checked");
    };
    feedbackForm.addEventListener("change", updateSend);
    updateSend();
  }
  // A comment typed stays in view, whatever the stars then say.
  var commentBox = feedbackForm && feedbackForm.querySelector("[data-comment-box]");
  if (commentBox) {
    commentBox.addEventListener("input", function (event) {
      commentBox.classList.toggle("has-comment", !!event.target.value.trim());
    });
  }

  // Copy buttons: <button data-copy-target="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) return;
    event.preventDefault();
    var value = target.value || target.textContent;
    var done = function () {
      button.setAttribute("data-copied", "true");
      button.textContent = gettext("Copied");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, function () { target.select(); });
    } else if (target.select) {
      target.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
    }
  });

  if (!body.hasAttribute("data-card-page")) return;

  // Offline: the service worker served the last copy; say how old it is.
  var banner = document.getElementById("offline-banner");
  var updateOnline = function () { if (banner) banner.hidden = navigator.onLine; };
  window.addEventListener("online", updateOnline);
  window.addEventListener("offline", updateOnline);
  updateOnline();

  var cardUrl = body.getAttribute("data-card-url");
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(body.getAttribute("data-sw-url"), { scope: cardUrl })
      .catch(function () { /* the page still works online */ });
  }

  // Installed as an app: when the browser says so, or when running from the home screen.
  var reported = false;
  var csrf = document.querySelector("meta[name=csrf-token]");
  var reportInstalled = function () {
    if (reported) return;
    reported = true;
    var note = document.querySelector("[data-installed-note]");
    var help = document.querySelector("[data-install-help]");
    if (note) note.hidden = false;
    if (help) help.hidden = true;
    fetch(body.getAttribute("data-installed-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.getAttribute("content") : "" }
    }).catch(function () { reported = false; });
  };
  var standalone = (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches) ||
    window.navigator.standalone === true;
  if (standalone) reportInstalled();
  window.addEventListener("appinstalled", reportInstalled);

  // Browsers that offer their own install prompt get a button for it.
  var deferredPrompt = null;
  var installButton = document.querySelector("[data-install-button]");
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    deferredPrompt = event;
    if (installButton) installButton.hidden = false;
  });
  if (installButton) {
    installButton.addEventListener("click", function () {
      if (!deferredPrompt) return;
      deferredPrompt.prompt();
      deferredPrompt.userChoice.then(function () {
        deferredPrompt = null;
        installButton.hidden = true;
      });
    });
  }
})();
