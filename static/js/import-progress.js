// Live progress of a running image-set import: polls the job's JSON status once a second
// and updates the <progress> bar; reloads the page (which then shows the report) when done.
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".import-progress[data-status-url]");
  boxes.forEach(function (box) {
    if (box.dataset.finished === "true") { return; }
    var bar = box.querySelector("progress");
    var phase = box.querySelector(".import-phase");
    var failures = 0;
    function poll() {
      fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (status) {
          failures = 0;
          bar.value = status.percent;
          bar.textContent = status.percent + "%";
          var text = status.status_label + (status.phase ? ": " + status.phase : "");
          if (status.total) { text += " (" + status.done + " of " + status.total + ")"; }
          phase.textContent = text;
          if (status.finished) {
            box.dataset.finished = "true";
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 1000);
        })
        .catch(function () {
          failures += 1;
          phase.textContent = "Waiting for the server…";
          window.setTimeout(poll, Math.min(1000 * failures, 10000));
        });
    }
    window.setTimeout(poll, 1000);
  });
})();
