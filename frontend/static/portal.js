/* Knopfdruck portal enhancements. Every page works without this file; it only saves clicks:
   - a case being decided updates itself in place (no full reload, announced politely);
   - a chosen file that is too large is reported before it is sent. */
(function () {
  "use strict";

  function pollCase() {
    var region = document.querySelector("[data-case-region][data-poll]");
    var announce = document.querySelector("[data-announce]");
    if (!region || !window.fetch || !window.DOMParser) {
      return;
    }
    var interval = parseInt(region.getAttribute("data-poll"), 10) || 2000;
    var attempts = 0;
    var maxAttempts = 90;

    function schedule() {
      attempts += 1;
      if (attempts <= maxAttempts) {
        window.setTimeout(check, interval);
      }
    }

    function check() {
      window.fetch(window.location.pathname, {
        credentials: "same-origin",
        headers: { "Accept": "text/html" }
      }).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (!html) {
          schedule();
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html")
          .querySelector("[data-case-region]");
        if (!fresh) {
          schedule();
          return;
        }
        // Swap on a new status, and when polling ends without one (a case handed over to a
        // Fachverfahren stays "processing", but the page now says what happens next).
        if (fresh.getAttribute("data-status") !== region.getAttribute("data-status") ||
            !fresh.hasAttribute("data-poll")) {
          region.innerHTML = fresh.innerHTML;
          region.setAttribute("data-status", fresh.getAttribute("data-status"));
          var label = region.querySelector("[data-status-label]");
          if (announce && label) {
            announce.textContent = label.textContent;
          }
        }
        if (fresh.hasAttribute("data-poll")) {
          schedule();
        } else {
          region.removeAttribute("data-poll");
        }
      }).catch(schedule);
    }

    schedule();
  }

  function checkFileSizes() {
    var inputs = document.querySelectorAll("input[type=file][data-max-bytes]");
    Array.prototype.forEach.call(inputs, function (input) {
      var message = document.createElement("p");
      message.className = "field-error";
      message.id = input.id + "-size-error";
      message.hidden = true;
      message.textContent = input.getAttribute("data-too-large") || "";
      input.parentNode.insertBefore(message, input);
      input.addEventListener("change", function () {
        var max = parseInt(input.getAttribute("data-max-bytes"), 10);
        var file = input.files && input.files[0];
        var tooLarge = Boolean(file && max && file.size > max);
        message.hidden = !tooLarge;
        var described = (input.getAttribute("aria-describedby") || "").split(" ")
          .filter(function (id) { return id && id !== message.id; });
        if (tooLarge) {
          described.push(message.id);
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
        input.setAttribute("aria-describedby", described.join(" "));
      });
    });
  }

  pollCase();
  checkFileSizes();
}());
