// The analysis page: draws the plotly figure and refreshes it as decisions and scores arrive.
(function () {
  "use strict";
  var root = document.getElementById("analysis");
  var target = document.getElementById("roc-figure");
  var tables = document.getElementById("analysis-tables");
  var initial = document.getElementById("roc-figure-data");
  if (!root || !target || typeof Plotly === "undefined") { return; }
  var fingerprint = root.dataset.fingerprint;
  var config = { displaylogo: false, responsive: true };

  function draw(figure) {
    if (!figure) { return; }
    target.textContent = "";
    Plotly.react(target, figure.data, figure.layout, config);
  }

  function poll() {
    var url = new URL(root.dataset.url, window.location.href);
    url.searchParams.set("since", fingerprint);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !body.changed) { return; }
        fingerprint = body.fingerprint;
        draw(body.figure);
        tables.innerHTML = body.tables_html;
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .finally(function () { window.setTimeout(poll, 10000); });
  }

  draw(JSON.parse(initial.textContent));
  window.setTimeout(poll, 10000);
})();
