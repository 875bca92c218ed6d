// The portal's only script (a static file: the CSP allows no inline script).
// Progressive enhancement: every page works without it.
(function () {
  "use strict";

  // Countdowns to a due time: the server renders the first value, this keeps it current.
  function updateCountdowns() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var seconds = Math.floor((due - now) / 1000);
      if (seconds <= 0) {
        el.textContent = el.getAttribute("data-label-overdue");
        return;
      }
      var hours = Math.floor(seconds / 3600);
      var minutes = Math.floor((seconds % 3600) / 60);
      el.textContent = el.getAttribute("data-format")
        .replace("%(hours)d", String(hours)).replace("%(minutes)d", String(minutes));
    });
  }

  // The chain verification's progress bar: polled instead of reloading the page.
  function followVerification() {
    var bar = document.querySelector("progress[data-status]");
    if (!bar) { return; }
    var text = document.getElementById("progress-text");
    function poll() {
      fetch(bar.getAttribute("data-status"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.max = s.total || 1;
          bar.value = s.total ? s.checked : (s.done ? 1 : 0);
          if (text) { text.textContent = s.checked + " / " + s.total; }
          if (s.done) { window.location.reload(); } else { window.setTimeout(poll, 500); }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    if (!document.querySelector("p.ok, p.error")) { poll(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateCountdowns();
    window.setInterval(updateCountdowns, 30000);
    followVerification();
  });
})();
