// Push notifications on the card page: explain, ask for permission only when the customer
// taps the button (browsers ignore or penalise prompts without a gesture), subscribe with the
// site's VAPID key and give the subscription to the server. The card's service worker
// (sw-push.js) shows what arrives.
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };

  var section = document.querySelector("[data-push]");
  if (!section) return;
  var button = section.querySelector("[data-action=enable_push]");
  var status = section.querySelector("[data-push-status]");
  var explain = section.querySelector("[data-push-explain]");
  var subscribeUrl = section.getAttribute("data-subscribe-url");

  function say(text) { if (status) status.textContent = text; }
  function showButton(visible) { if (button) button.hidden = !visible; }

  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!supported) {
    // iPhones and iPads take web pushes only from a card added to the home screen.
    var iOS = /iPhone|iPad|iPod/.test(navigator.userAgent);
    if (iOS && !window.navigator.standalone) {
      section.hidden = false;
      showButton(false);
      say(gettext("To get messages on this iPhone or iPad, add this card to your home screen first, then open it from there."));
    }
    return;
  }
  section.hidden = false;

  function base64UrlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function bytesToBase64Url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken(config) {
    var meta = document.querySelector("meta[name=csrf-token]");
    return (meta && meta.getAttribute("content")) || config.csrf_token || "";
  }

  function config() {
    return fetch(subscribeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("config " + response.status);
        return response.json();
      });
  }

  function post(subscription, settings, oldEndpoint) {
    var data = subscription.toJSON();
    return fetch(subscribeUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(settings) },
      body: JSON.stringify({ endpoint: data.endpoint, keys: data.keys, old_endpoint: oldEndpoint || "" })
    }).then(function (response) {
      if (!response.ok) throw new Error("subscribe " + response.status);
    });
  }

  // Subscribe (or keep the current subscription when it uses the site's current key) and
  // give it to the server; a subscription made with an old key is replaced.
  function subscribe(settings) {
    var key = base64UrlToBytes(settings.vapid_public_key);
    return navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription().then(function (existing) {
        var current = existing && existing.options && existing.options.applicationServerKey;
        if (existing && (!current || bytesToBase64Url(current) === settings.vapid_public_key)) {
          return post(existing, settings);
        }
        var oldEndpoint = existing ? existing.endpoint : "";
        var drop = existing ? existing.unsubscribe() : Promise.resolve();
        return drop.then(function () {
          return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        }).then(function (subscription) { return post(subscription, settings, oldEndpoint); });
      });
    });
  }

  function turnedOn() {
    showButton(false);
    if (explain) explain.hidden = true;
    section.setAttribute("data-push-state", "on");
    say(gettext("Notifications are on. You will get messages from this shop here."));
  }

  function blocked() {
    showButton(false);
    section.setAttribute("data-push-state", "blocked");
    say(gettext("Notifications are blocked for this page. To get messages, allow them in your browser's site settings and reload."));
  }

  function failed() {
    showButton(true);
    if (button) button.disabled = false;
    section.setAttribute("data-push-state", "error");
    say(gettext("Notifications could not be turned on. Check your connection and try again."));
  }

  function enable() {
    if (button) button.disabled = true;
    say(gettext("Turning notifications on…"));
    // Ask inside the tap: requestPermission must run in the user's gesture.
    var asked = Notification.permission === "granted"
      ? Promise.resolve("granted")
      : new Promise(function (resolve) {
          var result = Notification.requestPermission(resolve);
          if (result && result.then) result.then(resolve);
        });
    asked.then(function (permission) {
      if (permission !== "granted") {
        if (button) button.disabled = false;
        if (permission === "denied") blocked(); else say(gettext("Notifications stay off."));
        return;
      }
      return config().then(subscribe).then(turnedOn);
    }).catch(failed);
  }

  if (button) button.addEventListener("click", enable);

  // On every visit: keep the server's copy of an existing subscription current.
  if (Notification.permission === "denied") {
    blocked();
  } else if (Notification.permission === "granted") {
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (existing) {
      if (!existing) return;
      turnedOn();
      return config().then(subscribe);
    }).catch(function () { /* the button stays for a manual retry */ });
  }
})();
