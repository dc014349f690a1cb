// Live CNN-scoring progress on the study page: scored / total, failures and ETA.
(function () {
  "use strict";
  var box = document.getElementById("scoring");
  if (!box || !box.dataset.progressUrl) { return; }
  var bar = box.querySelector("progress");
  var counts = box.querySelector(".scoring-counts");
  var eta = box.querySelector(".scoring-eta");
  var failures = box.querySelector(".scoring-failures");
  var done = box.dataset.done === "true";

  function render(p) {
    if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.scored + p.failed; }
    counts.textContent = p.scored + " of " + p.total + " cases scored" + (p.failed ? ", " + p.failed + " failed" : "");
    eta.textContent = p.eta_seconds ? ", about " + Math.round(p.eta_seconds) + " s left" : "";
    failures.textContent = "";
    p.failures.forEach(function (f) {
      var item = document.createElement("li");
      item.textContent = (f.source_id || f.case) + ": " + f.error;
      failures.appendChild(item);
    });
  }

  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p) { render(p); done = p.done; }
      })
      .catch(function () {})
      .finally(function () { window.setTimeout(poll, done ? 15000 : 2000); });
  }
  window.setTimeout(poll, done ? 15000 : 1000);
})();
