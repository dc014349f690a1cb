// The planning page: draws the power curves the server computed (no inline script: strict CSP).
(function () {
  "use strict";
  var target = document.getElementById("power-figure");
  var source = document.getElementById("power-figure-data");
  if (!target || !source || typeof Plotly === "undefined") { return; }
  var figure = JSON.parse(source.textContent);
  Plotly.newPlot(target, figure.data, figure.layout, { displaylogo: false, responsive: true });
})();
