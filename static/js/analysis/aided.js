// The AI-assistance page: draws its plotly figures from the page's JSON (no inline script).
(function () {
  "use strict";
  var source = document.getElementById("aided-figures-data");
  if (!source || typeof Plotly === "undefined") { return; }
  var figures = JSON.parse(source.textContent) || {};
  var config = { displaylogo: false, responsive: true };
  [["aided-figure", figures.roc], ["experience-figure", figures.experience]].forEach(function (pair) {
    var target = document.getElementById(pair[0]);
    if (!target || !pair[1]) { return; }
    target.textContent = "";
    Plotly.react(target, pair[1].data, pair[1].layout, config);
  });
})();
