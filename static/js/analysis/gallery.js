// Error gallery and case page: sortable columns and Grad-CAM images that a worker computes on
// first view.
(function () {
  "use strict";
  var table = document.getElementById("gallery");
  var body = table ? table.tBodies[0] : null;
  var direction = {};

  (table ? table.querySelectorAll("button.sort") : []).forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.dataset.key;
      direction[key] = -(direction[key] || -1);
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return cmp * direction[key];
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });

  var select = document.getElementById("saliency-target");

  function load(img, attempt) {
    var url = new URL(img.dataset.src, window.location.href);
    url.searchParams.set("target", select ? select.value : "top");
    var status = img.nextElementSibling;
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (response.status === 200) {
        return response.blob().then(function (blob) {
          img.src = URL.createObjectURL(blob);
          if (status) { status.textContent = ""; }
        });
      }
      if (response.status === 202 && attempt < 60) {
        window.setTimeout(function () { load(img, attempt + 1); }, 2000);
        return;
      }
      if (status) { status.textContent = "not available"; }
    }).catch(function () { if (status) { status.textContent = "not available"; } });
  }

  function loadAll() {
    document.querySelectorAll("img.saliency").forEach(function (img) {
      img.removeAttribute("src");
      if (img.nextElementSibling) { img.nextElementSibling.textContent = "computing…"; }
      load(img, 0);
    });
  }
  if (select) { select.addEventListener("change", loadAll); }
  loadAll();
})();
