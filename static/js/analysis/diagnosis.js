// The diagnosis analysis page: draws each plotly figure from the JSON the page carries, and
// shows the chosen reader's confusion matrix when the reader select changes.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var config = { displaylogo: false, responsive: true };
  document.querySelectorAll("[data-figure]").forEach(function (target) {
    var source = document.getElementById(target.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    if (!figure) { return; }
    target.textContent = "";
    Plotly.react(target, figure.data, figure.layout, config);
  });
  var select = document.getElementById("confusion-reader");
  if (select && select.form) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
})();
