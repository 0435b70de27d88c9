// Runs in the card page's <head>, before the first paint (a blocking script, so it stays this
// small): it says on <html> what this browser can do, so card.css gives the parts that scripts
// fill in later their final place at once and nothing moves under the customer's thumb.
(function (root) {
  "use strict";
  root.classList.add("js");
  if ("serviceWorker" in navigator && "PushManager" in window && "Notification" in window) {
    root.classList.add("can-push");
  } else if (/iPhone|iPad|iPod/.test(navigator.userAgent) && !window.navigator.standalone) {
    // push.js explains there how to get messages: from the home screen.
    root.classList.add("push-from-home-screen");
  }
})(document.documentElement);
