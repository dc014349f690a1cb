// Shows a form's field only where it applies: a control with data-shown-when names the
// other controls and the values under which it means something, e.g. the washout only for
// crossover reading (readerstudy/studies/forms.py declares them). The server ignores such a
// field elsewhere, so without this script the form works the same with every field shown.
(function () {
  "use strict";
  function valueOf(form, name) {
    var control = form.elements.namedItem(name);
    return control ? control.value : null;
  }
  document.querySelectorAll("form").forEach(function (form) {
    var dependants = form.querySelectorAll("[data-shown-when]");
    if (!dependants.length) { return; }
    function update() {
      dependants.forEach(function (control) {
        var rule = JSON.parse(control.dataset.shownWhen);
        var shown = Object.keys(rule).every(function (name) {
          return rule[name].indexOf(valueOf(form, name)) !== -1;
        });
        var field = control.closest(".field");
        // A field with an error stays in view, whatever the choice.
        if (field && !field.querySelector(".errorlist")) { field.hidden = !shown; }
      });
    }
    form.addEventListener("change", update);
    update();
  });
})();
