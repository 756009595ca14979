/* Counter handover page (DESIGN §3.3): sends the Start/Resume form in the
   background and polls the committed progress, so the officer sees each step as
   it happens. Without JavaScript the form posts normally and the page comes back
   when the run stops; nothing here is needed for the handover to work. */
(function () {
  "use strict";
  var list = document.getElementById("handover-steps");
  if (!list || !window.fetch) { return; }
  var url = list.getAttribute("data-progress-url");
  var status = document.getElementById("handover-status");
  var running = document.getElementById("handover-running");
  var watching = list.getAttribute("data-running") === "1";
  var submitting = false;
  var timer = null;

  function apply(p) {
    p.steps.forEach(function (s) {
      var li = list.querySelector('li[data-step="' + s.step + '"]');
      if (!li) { return; }
      li.className = s.state;
      if (s.state === "current") { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
    });
    if (status) { status.textContent = p.step_label; }
    if (running) { running.hidden = !(p.running || submitting); }
    if (watching && !p.running && !submitting) { window.location.reload(); }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p) { apply(p); } })
      .catch(function () { /* the next tick tries again */ });
  }

  function startPolling() {
    if (timer === null) { poll(); timer = window.setInterval(poll, 400); }
  }

  var form = document.getElementById("run-form");
  if (form && window.FormData) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (submitting) { return; }
      submitting = true;
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      if (running) { running.hidden = false; }
      startPolling();
      // The server answers this request with where to go next (JSON) instead of a
      // redirect, so the page it names is loaded once, with its messages.
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"X-Handover-Fetch": "1", "Accept": "application/json"}})
        .then(function (r) {
          var json = r.ok && (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
          return json ? r.json() : null;
        })
        .then(function (next) {
          if (next && next.location) { window.location.assign(next.location); return; }
          // Refused before anything ran (a weak PIN, a mistyped repeat): post it the
          // plain way so the page shows why.
          submitting = false; form.submit();
        })
        .catch(function () { submitting = false; form.submit(); });
    });
  }
  if (watching) { startPolling(); }
}());
