/* Knopfdruck portal enhancements. Every page works without this file; it only saves clicks:
   - a case being decided updates itself in place (no full reload, announced politely);
   - a chosen file that is too large is reported before it is sent;
   - two minutes before an idle session ends, a dialog offers to extend it (WCAG 2.2.1), and
     what was typed on an application page survives the session's end (kept in this tab's
     sessionStorage, put back after the new login, then deleted). */
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
        // The whole case view is swapped whenever any of it changed (status, reasons, payment,
        // actions, timeline), so the page never shows half old and half new; the new status is
        // announced once.
        var newStatus = fresh.getAttribute("data-status") !== region.getAttribute("data-status");
        if (newStatus || fresh.innerHTML !== region.innerHTML || !fresh.hasAttribute("data-poll")) {
          region.innerHTML = fresh.innerHTML;
          region.setAttribute("data-status", fresh.getAttribute("data-status"));
          var label = region.querySelector("[data-status-label]");
          if (announce && label && newStatus) {
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

  var KEEP = "kd-keep:";

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null;
    }
  }

  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      var skip = !el.name || el.disabled || el.name === "csrf_token" || el.name === "shown" ||
        /^(file|submit|button|hidden|password)$/.test(el.type);
      if (skip) {
        return;
      }
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) {
          (values[el.name] = values[el.name] || []).push(el.value);
        }
        return;
      }
      values[el.name] = [el.value];
    });
    return values;
  }

  function keepForm(form, expired) {
    var store = storage();
    if (!store) {
      return;
    }
    var entry = { values: formValues(form), expired: expired, at: Date.now() };
    try {
      store.setItem(KEEP + form.getAttribute("action"), JSON.stringify(entry));
    } catch (e) { /* storage full or refused: the page still works */ }
  }

  function restoreForm(form, values) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !Object.prototype.hasOwnProperty.call(values, el.name)) {
        return;
      }
      var wanted = values[el.name];
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = wanted.indexOf(el.value) !== -1;
      } else if (!/^(file|submit|button|hidden|password)$/.test(el.type)) {
        el.value = wanted[0];
      }
    });
  }

  function keptInput() {
    // Every keep is deleted once it has done its work: after its form's post got an answer
    // (a logged-in page), or after it was put back. A session-expired page marks the keeps
    // of the post that met it, and they wait for the next login.
    var store = storage();
    if (!store) {
      return;
    }
    var expiredPage = document.querySelector("[data-session-expired]");
    var keys = [];
    for (var i = 0; i < store.length; i += 1) {
      if (store.key(i).indexOf(KEEP) === 0) {
        keys.push(store.key(i));
      }
    }
    keys.forEach(function (key) {
      var entry;
      try {
        entry = JSON.parse(store.getItem(key));
      } catch (e) {
        store.removeItem(key);
        return;
      }
      var tooOld = !entry || Date.now() - entry.at > 24 * 3600 * 1000;
      if (tooOld) {
        store.removeItem(key);
        return;
      }
      if (expiredPage) {
        entry.expired = true;
        store.setItem(key, JSON.stringify(entry));
        var note = document.querySelector("[data-kept-note]");
        if (note) {
          note.hidden = false;
        }
        return;
      }
      var form = document.querySelector("form[data-keep][action=\"" + key.slice(KEEP.length) + "\"]");
      if (entry.expired && form && document.querySelector("[data-session]")) {
        restoreForm(form, entry.values);
        var told = document.createElement("p");
        told.className = "restored-note";
        told.setAttribute("role", "status");
        told.textContent = document.querySelector("[data-session]").getAttribute("data-restored");
        form.parentNode.insertBefore(told, form);
        store.removeItem(key);
      } else if (!entry.expired) {
        store.removeItem(key);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("form[data-keep]"), function (form) {
      form.addEventListener("submit", function () {
        keepForm(form, false);
      });
    });
  }

  function sessionTimer() {
    var note = document.querySelector("[data-session]");
    var dialog = document.getElementById("session-dialog");
    if (!note || !dialog || typeof dialog.showModal !== "function") {
      return;
    }
    var lang = document.documentElement.lang || "de";
    var warn = parseInt(note.getAttribute("data-warn"), 10) || 120;
    var deadline = Date.now() + (parseInt(note.getAttribute("data-seconds-left"), 10) || 0) * 1000;
    var countdown = dialog.querySelector("[data-countdown]");
    var extendButton = dialog.querySelector("[data-extend]");
    var relogin = dialog.querySelector("[data-relogin]");
    var returnFocus = null;
    var warnTimer = null;
    var ticker = null;
    var ended = false;

    function endTime() {
      var time = new Date(deadline).toLocaleTimeString(lang === "de" ? "de-DE" : "en-GB", {
        hour: "2-digit", minute: "2-digit", timeZone: "Europe/Berlin"
      });
      return lang === "de" ? time + " Uhr" : time;
    }

    function showNote() {
      var text = note.querySelector("[data-note-text]");
      if (text) {
        text.textContent = text.getAttribute("data-template").replace("{time}", endTime());
      }
    }

    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      countdown.textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
      if (left <= 0) {
        expire();
      }
    }

    function open() {
      if (!dialog.open) {
        returnFocus = document.activeElement;
        dialog.showModal();
      }
      tick();
      window.clearInterval(ticker);
      ticker = window.setInterval(tick, 1000);
      extendButton.focus();
    }

    function close() {
      window.clearInterval(ticker);
      if (dialog.open) {
        dialog.close();
      }
    }

    function schedule() {
      window.clearTimeout(warnTimer);
      warnTimer = window.setTimeout(open, Math.max(0, deadline - warn * 1000 - Date.now()));
    }

    function expire() {
      if (ended) {
        return;
      }
      ended = true;
      window.clearInterval(ticker);
      Array.prototype.forEach.call(document.querySelectorAll("form[data-keep]"), function (form) {
        keepForm(form, true);
      });
      dialog.querySelector("[data-warning-title]").hidden = true;
      dialog.querySelector("[data-warning-text]").hidden = true;
      dialog.querySelector("[data-expired-title]").hidden = false;
      dialog.querySelector("[data-expired-text]").hidden = false;
      dialog.setAttribute("aria-labelledby", "session-dialog-expired-title");
      extendButton.hidden = true;
      relogin.hidden = false;
      if (!dialog.open) {
        returnFocus = document.activeElement;
        dialog.showModal();
      }
      relogin.focus();
    }

    extendButton.addEventListener("click", function () {
      var body = new URLSearchParams();
      body.set("csrf_token", note.getAttribute("data-csrf"));
      window.fetch("/session/extend", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: body
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        if (!answer) {
          expire();
          return;
        }
        deadline = Date.now() + answer.seconds_left * 1000;
        showNote();
        close();
        schedule();
      }).catch(function () {
        extendButton.focus();
      });
    });
    dialog.querySelector("[data-dismiss]").addEventListener("click", close);
    dialog.addEventListener("close", function () {
      window.clearInterval(ticker);
      if (returnFocus && returnFocus.focus) {
        returnFocus.focus();
      }
    });
    // The session ends on the server whether the dialog is open or not.
    window.setInterval(function () {
      if (!ended && Date.now() >= deadline) {
        expire();
      }
    }, 1000);
    schedule();
  }

  pollCase();
  checkFileSizes();
  keptInput();
  sessionTimer();
}());
