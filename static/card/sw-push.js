// Push handler of a card's service worker (imported by /c/<token>/sw.js, whose scope is the
// card's page). Shows what the shop sent, opens the card when the notification is tapped,
// and keeps the server's copy of the subscription current when the browser replaces it.
"use strict";

(function () {
  // A service worker has no page to load the script catalogue into: the card's sw.js, rendered
  // in the customer's language, sets the few texts first.
  var texts = self.CARD_TEXTS || {};
  var scope = self.registration.scope; // https://host/c/<token>/
  var subscribeUrl = scope + "push/subscribe/";

  function base64UrlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // The payload (pushes/channels.py): {title, body, url, tag, id}.
  self.addEventListener("push", function (event) {
    var data = {};
    if (event.data) {
      try { data = event.data.json(); } catch (e) { data = { body: event.data.text() }; }
    }
    var url = new URL(data.url || scope, self.location.origin).href;
    event.waitUntil(
      self.registration.showNotification(data.title || texts.newMessage || "New message", {
        body: data.body || "",
        tag: data.tag || undefined,
        icon: scope + "icon-192.png",
        badge: scope + "icon-192.png",
        data: { url: url, id: data.id }
      })
    );
  });

  // Tapping opens the card: focus a window already showing it (reloaded, so it shows the
  // latest message), or open one.
  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var url = (event.notification.data && event.notification.data.url) || scope;
    event.waitUntil(
      self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
        for (var i = 0; i < windows.length; i++) {
          var client = windows[i];
          if (client.url.indexOf(url) === 0 && "focus" in client) {
            return client.focus().then(function (focused) {
              return focused && focused.navigate ? focused.navigate(url).catch(function () { return focused; }) : focused;
            });
          }
        }
        return self.clients.openWindow ? self.clients.openWindow(url) : undefined;
      })
    );
  });

  // The browser replaced (or dropped) the subscription: subscribe again with the site's key
  // and tell the server, naming the old endpoint so it stops sending there.
  self.addEventListener("pushsubscriptionchange", function (event) {
    var oldEndpoint = event.oldSubscription ? event.oldSubscription.endpoint : "";
    event.waitUntil(
      fetch(subscribeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("config " + response.status);
          return response.json();
        })
        .then(function (config) {
          var renewed = event.newSubscription
            ? Promise.resolve(event.newSubscription)
            : self.registration.pushManager.subscribe({
                userVisibleOnly: true,
                applicationServerKey: base64UrlToBytes(config.vapid_public_key)
              });
          return renewed.then(function (subscription) {
            var data = subscription.toJSON();
            return fetch(subscribeUrl, {
              method: "POST",
              credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf_token },
              body: JSON.stringify({ endpoint: data.endpoint, keys: data.keys, old_endpoint: oldEndpoint })
            });
          });
        })
    );
  });
})();
