{% load static i18n %}{% get_current_language as LANGUAGE_CODE %}// Service worker of one card. It keeps the last card page seen, so the card still opens
// without a connection, and loads the push handler. Its scope is this card's path only.
// Rendered per card in the customer's language: the texts below are translated here.
"use strict";

// What the push handler (sw-push.js) shows when a message arrives without its own title.
self.CARD_TEXTS = {
  newMessage: "{% filter escapejs %}{% translate "New message" %}{% endfilter %}"
};

importScripts("{% static 'card/sw-push.js' %}");

var CARD_URL = "{{ card_url|escapejs }}";
var CACHE = "card:" + CARD_URL;
var ASSETS = [
  CARD_URL,
  CARD_URL + "theme.css",
  "{% static 'vendor/pico-2.1.1.min.css' %}",
  "{% static 'card/card.css' %}",
  "{% static 'card/card.js' %}"
];
var OFFLINE_PAGE =
  "<!doctype html><html lang=\"{{ LANGUAGE_CODE|escapejs }}\"><meta charset=\"utf-8\">" +
  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
  "<title>{% filter escapejs %}{% translate "Offline" %}{% endfilter %}</title>" +
  "<h1>{% filter escapejs %}{% translate "You are offline" %}{% endfilter %}</h1>" +
  "<p>{% filter escapejs %}{% translate "Your card will show here again once you are back online." %}{% endfilter %}</p></html>";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(ASSETS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === CARD_URL || ASSETS.indexOf(url.pathname) !== -1) {
    // The "your card is ready" step right after joining is not the copy to keep offline.
    event.respondWith(networkFirst(request, url.pathname, !url.searchParams.has("joined")));
  }
});

// The network when there is one (the card is always current), else the last copy kept.
function networkFirst(request, key, keep) {
  return caches.open(CACHE).then(function (cache) {
    return fetch(request).then(function (response) {
      if (response.ok && keep) {
        cache.put(key, response.clone());
      } else if (key === CARD_URL && (response.status === 404 || response.status === 410)) {
        // A deleted card must not live on offline.
        caches.delete(CACHE);
      }
      return response;
    }).catch(function () {
      return cache.match(key).then(function (cached) {
        if (cached) return cached;
        return new Response(OFFLINE_PAGE, {
          status: 503,
          headers: { "Content-Type": "text/html; charset=utf-8" }
        });
      });
    });
  });
}
