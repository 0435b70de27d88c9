// The counter's scanner: the phone's camera reads the QR code on the customer's card and opens
// /scan/?code=<what it read>; the server decides what the code names (a card of ours opens its
// counter view, anything else is explained on this page). The browser's own BarcodeDetector
// reads the frames where it can read QR codes (Chrome on Android); elsewhere the vendored jsQR
// decoder does, loaded only then. Without a camera (refused, missing, or a page not served over
// https) the page says why, and the form below, which needs none of this file, stays the way in.
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };
  var root = document.querySelector("[data-scanner]");
  if (!root) return;
  var camera = root.querySelector("[data-scanner-camera]");
  var video = root.querySelector("[data-scanner-video]");
  var status = root.querySelector("[data-scanner-status]");
  var problem = root.querySelector("[data-scanner-problem]");
  var input = root.querySelector("[data-scanner-input]");
  // The code this page was just given and explained: reading it again must not reload the page.
  var explained = input.value;
  // Frames are read one at a time, this long apart: enough for a code held up at the counter.
  var FRAME_INTERVAL_MS = 120;
  // Larger frames are scaled down for jsQR: faster, and a card held up close stays readable.
  var JSQR_MAX_SIDE = 640;

  var stream = null;
  var running = false;

  function showProblem(text) {
    camera.hidden = true;
    problem.textContent = text;
    problem.hidden = false;
  }

  function stop() {
    running = false;
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.srcObject = null;
  }

  function open(code) {
    stop();
    status.textContent = gettext("Code read: opening the card…");
    window.location.assign(root.getAttribute("data-scan-url") + "?code=" + encodeURIComponent(code));
  }

  // A reader is a function from the video to a promise of the text of a code in view, or null.
  function nativeReader() {
    if (!("BarcodeDetector" in window) || !window.BarcodeDetector.getSupportedFormats) {
      return Promise.resolve(null);
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") === -1) return null;
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function (source) {
        return detector.detect(source).then(function (codes) {
          return codes.length ? codes[0].rawValue : null;
        });
      };
    }, function () { return null; });
  }

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = root.getAttribute("data-jsqr-src");
      script.onload = function () {
        if (window.jsQR) resolve(window.jsQR); else reject(decoderError());
      };
      script.onerror = function () { reject(decoderError()); };
      document.head.appendChild(script);
    });
  }

  function decoderError() {
    var error = new Error("The QR decoder could not be loaded.");
    error.name = "DecoderError";
    return error;
  }

  function jsQRReader() {
    return loadJsQR().then(function (jsQR) {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      return function (source) {
        var width = source.videoWidth;
        var height = source.videoHeight;
        if (!width || !height) return Promise.resolve(null);
        var scale = Math.min(1, JSQR_MAX_SIDE / Math.max(width, height));
        canvas.width = Math.round(width * scale);
        canvas.height = Math.round(height * scale);
        context.drawImage(source, 0, 0, canvas.width, canvas.height);
        var frame = context.getImageData(0, 0, canvas.width, canvas.height);
        // Both ways: a card page in a dark theme shows a light code on a dark background.
        var code = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "attemptBoth" });
        return Promise.resolve(code && code.data ? code.data : null);
      };
    });
  }

  function sameAgain() {
    if (status.hasAttribute("data-same-code")) return;
    status.setAttribute("data-same-code", "");
    status.textContent = gettext("This is the code explained above. Show the camera another one, or type it below.");
  }

  function scan(read) {
    function next() {
      if (running) window.setTimeout(tick, FRAME_INTERVAL_MS);
    }
    function tick() {
      if (!running) return;
      if (video.readyState < 2) { next(); return; } // no frame yet
      read(video).then(function (text) {
        if (!running) return;
        if (text && text !== explained) { open(text); return; }
        if (text) sameAgain();
        next();
      }, next);
    }
    tick();
  }

  function messageFor(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return gettext("The camera is not allowed for this site. Allow it in the browser's settings, or type the code below.");
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return gettext("No camera was found on this device. Type the code below.");
    }
    if (name === "DecoderError") {
      return gettext("The code reader could not be loaded. Type the code below.");
    }
    return gettext("The camera could not be started. Type the code below.");
  }

  function start() {
    if (running) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      // Browsers offer the camera to secure pages only: plain http on a phone has none.
      showProblem(window.isSecureContext
        ? gettext("This browser cannot use the camera. Type the code below.")
        : gettext("The camera needs a secure (https) connection to this site. Type the code below."));
      return;
    }
    running = true;
    camera.hidden = false;
    problem.hidden = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        if (!running) { // the page was left while the browser asked
          media.getTracks().forEach(function (track) { track.stop(); });
          return null;
        }
        stream = media;
        video.srcObject = media;
        return video.play().then(nativeReader).then(function (read) { return read || jsQRReader(); });
      })
      .then(function (read) { if (read && running) scan(read); })
      .catch(function (error) {
        stop();
        showProblem(messageFor(error));
      });
  }

  // A keyboard-like barcode scanner types wherever the focus is: send its keys to the field (it
  // ends with Enter, which submits the form).
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!event.key || event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    input.focus();
  });

  // Leaving the page turns the camera off; coming back to it (the Back button) turns it on.
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) start();
  });
  start();
})();
