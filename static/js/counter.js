// The counter view: once a dialog applied a change (the server's HX-Trigger "ledger-changed",
// whose message says what was done), say it in one line beside "Scan next" and put the focus
// there, so the next customer is one tap or one Enter away. app.js closes the dialog; the
// balances re-fetch themselves through htmx. Without this file the page still works: the
// dialog's page redirects back here and the message shows at the top.
(function () {
  "use strict";

  var message = document.querySelector("[data-counter-message]");
  if (!message) return;
  var next = document.querySelector('[data-action="scan_next"]');

  document.body.addEventListener("ledger-changed", function (event) {
    var text = event.detail && event.detail.message;
    if (!text) return;
    message.textContent = text;
    message.hidden = false;
    // The line says it where staff look; app.js's toast would cover it with the same words.
    var toast = document.getElementById("toast");
    if (toast) toast.hidden = true;
    if (next) next.focus();
  });
})();
