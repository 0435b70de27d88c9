{% load static %}// Service worker of one card. It keeps the last card page seen, so the card still opens
// without a connection, and loads the push handler. Its scope is this card's path only.
"use strict";

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
  "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">" +
  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
  "<title>Offline</title><h1>You are offline</h1>" +
  "<p>Your card will show here again once you are back online.</p></html>";

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
    event.respondWith(networkFirst(request, url.pathname));
  }
});

// The network when there is one (the card is always current), else the last copy kept.
function networkFirst(request, key) {
  return caches.open(CACHE).then(function (cache) {
    return fetch(request).then(function (response) {
      if (response.ok) {
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
