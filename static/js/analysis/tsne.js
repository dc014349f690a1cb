// t-SNE map of the CNN's embeddings: a worker computes it; this polls, then draws it.
(function () {
  "use strict";
  var section = document.getElementById("tsne");
  if (!section || typeof Plotly === "undefined") { return; }
  var target = document.getElementById("tsne-figure");
  var status = document.getElementById("tsne-status");
  var colour = document.getElementById("tsne-colour");
  var thumb = document.getElementById("tsne-thumb");
  var caption = document.getElementById("tsne-caption");
  var points = [];
  var palette = ["#1f4e5f", "#c0392b", "#b07d12", "#2e7d32", "#6a1b9a", "#00838f", "#5d4037", "#455a64"];

  function traces() {
    var mode = colour.value;
    if (mode === "score") {
      return [{
        type: "scatter", mode: "markers", name: "CNN score",
        x: points.map(function (p) { return p.x; }), y: points.map(function (p) { return p.y; }),
        customdata: points.map(function (_, i) { return i; }),
        marker: { size: 7, color: points.map(function (p) { return p.score; }), colorscale: "Viridis", cmin: 0, cmax: 1, showscale: true, colorbar: { title: { text: "P(pos)" } } },
        hovertemplate: "P(positive) %{marker.color:.3f}<extra></extra>"
      }];
    }
    var groups = {};
    points.forEach(function (p, i) {
      var key = mode === "truth" ? (p.truth ? "positive" : "negative") : p.diagnosis;
      (groups[key] = groups[key] || []).push(i);
    });
    return Object.keys(groups).sort().map(function (key, n) {
      var idx = groups[key];
      return {
        type: "scatter", mode: "markers", name: key,
        x: idx.map(function (i) { return points[i].x; }), y: idx.map(function (i) { return points[i].y; }),
        customdata: idx, marker: { size: 7, color: palette[n % palette.length] },
        hovertemplate: key + "<extra></extra>"
      };
    });
  }

  function draw() {
    Plotly.react(target, traces(), {
      template: "plotly_white", height: 560, margin: { l: 30, r: 10, t: 10, b: 30 },
      xaxis: { showticklabels: false, zeroline: false }, yaxis: { showticklabels: false, zeroline: false },
      legend: { orientation: "h" }
    }, { displaylogo: false, responsive: true });
    target.on("plotly_hover", function (event) {
      var p = points[event.points[0].customdata];
      if (!p) { return; }
      thumb.src = p.thumbnail;
      thumb.classList.remove("hidden");
      thumb.alt = "Case " + p.case;
      caption.textContent = (p.truth ? "positive" : "negative") + ", " + p.diagnosis +
        (p.score === null ? "" : ", CNN " + p.score.toFixed(3));
    });
    target.on("plotly_click", function (event) {
      var p = points[event.points[0].customdata];
      if (p && p.url) { window.location.assign(p.url); }
    });
  }

  function poll(attempt) {
    fetch(section.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { status: "failed", error: "HTTP " + r.status }; })
      .then(function (body) {
        if (body.status === "ready") {
          points = body.points;
          status.textContent = points.length + " cases (" + body.model + ")";
          draw();
        } else if (body.status === "pending" && attempt < 120) {
          status.textContent = "Computing the map…";
          window.setTimeout(function () { poll(attempt + 1); }, 2000);
        } else {
          status.textContent = "The map could not be computed: " + (body.error || body.status);
        }
      });
  }
  colour.addEventListener("change", function () { if (points.length) { draw(); } });
  poll(0);
})();
