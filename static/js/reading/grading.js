/* The grading page: zoom and pan, keyboard shortcuts, visible-time tracking, and submitting
 * through the reading API so the next case appears without a page load.
 *
 * Without this script the page still works as a plain form. Every submit carries the case's
 * one-time token; the server stores one decision per token, so a retry after a network error
 * is always safe and this script retries on its own.
 */
(function () {
  "use strict";

  var root = document.getElementById("grading");
  if (!root) return;

  var settings = JSON.parse(document.getElementById("study-settings").textContent);
  var serving = JSON.parse(document.getElementById("serving-data").textContent);

  var form = document.getElementById("decision-form");
  var tokenInput = document.getElementById("token");
  var activeInput = document.getElementById("active-ms");
  var submitButton = document.getElementById("submit-button");
  var backButton = document.getElementById("back-button");
  var statusLine = document.getElementById("form-status");
  var heading = document.getElementById("case-heading");
  var caseNumber = document.getElementById("case-number");
  var progressBar = document.getElementById("progress");
  var progressDone = document.getElementById("progress-done");
  var revisitNote = document.getElementById("revisit-note");
  var revisitAnswer = document.getElementById("revisit-answer");
  var stage = document.getElementById("viewer-stage");
  var image = document.getElementById("case-image");
  var fullButton = document.getElementById("full-resolution");
  var csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  form.noValidate = true; // this script explains what is missing in the status line

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  /* ---- Visible time per case: kept in sessionStorage so a reload keeps counting. ---- */
  var activeTimer = {
    token: null,
    since: null,
    key: function () { return "readerstudy.active." + this.token; },
    stored: function () {
      try { return Number(window.sessionStorage.getItem(this.key())) || 0; } catch (e) { return 0; }
    },
    save: function (value) {
      try { window.sessionStorage.setItem(this.key(), String(Math.round(value))); } catch (e) { /* private mode */ }
    },
    start: function (token) {
      this.token = token;
      this.since = document.visibilityState === "visible" ? performance.now() : null;
    },
    pause: function () {
      if (this.since !== null) {
        this.save(this.stored() + performance.now() - this.since);
        this.since = null;
      }
    },
    resume: function () {
      if (this.since === null && document.visibilityState === "visible") this.since = performance.now();
    },
    total: function () {
      var running = this.since !== null ? performance.now() - this.since : 0;
      return Math.round(this.stored() + running);
    },
    forget: function (token) {
      try { window.sessionStorage.removeItem("readerstudy.active." + token); } catch (e) { /* ignore */ }
    }
  };
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") activeTimer.resume(); else activeTimer.pause();
  });
  window.addEventListener("pagehide", function () { activeTimer.pause(); });

  /* ---- Zoom and pan: wheel, pinch, drag; double-click resets. ---- */
  var view = { scale: 1, x: 0, y: 0 };
  var MAX_SCALE = 16;

  function applyView() {
    image.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.scale + ")";
  }
  function clampView() {
    var w = stage.clientWidth, h = stage.clientHeight;
    view.x = Math.min(0, Math.max(w - w * view.scale, view.x));
    view.y = Math.min(0, Math.max(h - h * view.scale, view.y));
  }
  function zoomAt(px, py, factor) {
    var next = Math.min(MAX_SCALE, Math.max(1, view.scale * factor));
    var applied = next / view.scale;
    view.x = px - (px - view.x) * applied;
    view.y = py - (py - view.y) * applied;
    view.scale = next;
    clampView();
    applyView();
  }
  function zoomCentre(factor) { zoomAt(stage.clientWidth / 2, stage.clientHeight / 2, factor); }
  function resetView() { view = { scale: 1, x: 0, y: 0 }; applyView(); }

  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    var rect = stage.getBoundingClientRect();
    var delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(event.clientX - rect.left, event.clientY - rect.top, Math.exp(-delta * 0.0015));
  }, { passive: false });

  var pointers = new Map();
  var pinch = null;
  stage.addEventListener("pointerdown", function (event) {
    stage.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.size === 2) {
      var p = Array.from(pointers.values());
      pinch = { distance: Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y) };
    }
    stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", function (event) {
    var previous = pointers.get(event.pointerId);
    if (!previous) return;
    var current = { x: event.clientX, y: event.clientY };
    pointers.set(event.pointerId, current);
    if (pointers.size === 2 && pinch) {
      var p = Array.from(pointers.values());
      var distance = Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y);
      var rect = stage.getBoundingClientRect();
      if (pinch.distance > 0) {
        zoomAt((p[0].x + p[1].x) / 2 - rect.left, (p[0].y + p[1].y) / 2 - rect.top, distance / pinch.distance);
      }
      pinch.distance = distance;
    } else if (pointers.size === 1) {
      view.x += current.x - previous.x;
      view.y += current.y - previous.y;
      clampView();
      applyView();
    }
  });
  function endPointer(event) {
    pointers.delete(event.pointerId);
    if (pointers.size < 2) pinch = null;
    if (pointers.size === 0) stage.classList.remove("dragging");
  }
  stage.addEventListener("pointerup", endPointer);
  stage.addEventListener("pointercancel", endPointer);
  stage.addEventListener("dblclick", function (event) { event.preventDefault(); resetView(); });
  window.addEventListener("resize", function () { clampView(); applyView(); });

  root.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.getAttribute("data-zoom");
      if (action === "in") zoomCentre(1.5);
      else if (action === "out") zoomCentre(1 / 1.5);
      else resetView();
    });
  });

  function showFullResolution(on) {
    var source = on ? image.getAttribute("data-full-src") : image.getAttribute("data-display-src");
    fullButton.setAttribute("aria-pressed", on ? "true" : "false");
    if (image.getAttribute("src") !== source) {
      stage.classList.add("loading");
      image.src = source;
    }
  }
  image.addEventListener("load", function () { stage.classList.remove("loading"); });
  image.addEventListener("error", function () {
    stage.classList.remove("loading");
    setStatus("The image did not load. Reload the page to try again; your answers are saved.", true);
  });
  fullButton.addEventListener("click", function (event) {
    event.preventDefault();
    showFullResolution(fullButton.getAttribute("aria-pressed") !== "true");
  });

  /* ---- The answer: the questions of the study's design (settings.questions, described once
   * in studies/design.py), each with its choices and keys and, where it has one, a confidence
   * scale. Element ids derive from the answer fields (the page draws one fieldset per
   * question): a slider scale is "<name>-range" with its number box "<name>", a short scale a
   * radio "<name>-<value>" per value. ---- */
  function makeScale(spec) {
    var number = document.getElementById(spec.name);
    var range = document.getElementById(spec.name + "-range");
    var slider = Boolean(range && number);
    var middle = String(Math.round((spec.min + spec.max) / 2));
    /* Until the reader gives a confidence the slider shows no thumb and reads "not set", so a
     * thumb resting in the middle never passes for an answer. */
    function showSliderSet(isSet) {
      range.classList.toggle("unset", !isSet);
      if (isSet) range.removeAttribute("aria-valuetext");
      else range.setAttribute("aria-valuetext", "not set");
    }
    function radios() { return form.querySelectorAll("input[type=radio][name='" + spec.name + "']"); }
    if (slider) {
      range.addEventListener("input", function () {
        number.value = range.value;
        showSliderSet(true);
      });
      number.addEventListener("input", function () {
        var value = Number(number.value);
        if (number.value === "") showSliderSet(false);
        else if (value >= spec.min && value <= spec.max) {
          range.value = String(value);
          showSliderSet(true);
        }
      });
    }
    return {
      spec: spec,
      slider: slider,
      set: function (value) {
        if (slider) {
          number.value = String(value);
          range.value = String(value);
          showSliderSet(true);
          return;
        }
        radios().forEach(function (radio) { if (Number(radio.value) === value) radio.checked = true; });
      },
      /* null when not given, NaN when not a whole number. */
      get: function () {
        if (slider) {
          if (number.value.trim() === "") return null;
          var value = Number(number.value);
          return Number.isInteger(value) ? value : NaN;
        }
        var checked = form.querySelector("input[name='" + spec.name + "']:checked");
        return checked ? Number(checked.value) : null;
      },
      valid: function (value) {
        return value !== null && !Number.isNaN(value) && value >= spec.min && value <= spec.max;
      },
      clear: function () {
        if (slider) {
          number.value = "";
          range.value = middle;
          showSliderSet(false);
        } else {
          radios().forEach(function (radio) { radio.checked = false; });
        }
      },
      field: function () {
        return slider ? number : (form.querySelector("input[name='" + spec.name + "']:checked") || radios()[0]);
      }
    };
  }

  function makeQuestion(spec) {
    function radios() { return form.querySelectorAll("input[type=radio][name='" + spec.name + "']"); }
    var question = {
      spec: spec,
      scale: spec.confidence ? makeScale(spec.confidence) : null,
      filter: null,
      value: function () {
        var checked = form.querySelector("input[name='" + spec.name + "']:checked");
        return checked ? checked.value : null;
      },
      select: function (value) {
        radios().forEach(function (radio) {
          if (radio.value !== value) return;
          radio.checked = true;
          var item = radio.closest(".choice-item");
          if (question.filter && item && item.hidden) question.filter.apply("");
        });
      },
      clear: function () {
        radios().forEach(function (radio) { radio.checked = false; });
        if (question.scale) question.scale.clear();
        if (question.filter) question.filter.apply("");
      }
    };
    if (spec.picker === "search") question.filter = makeFilter(spec, question);
    return question;
  }

  /* A long list of choices gets a filter box (shown only with this script): typing hides the
   * choices whose label, code or key does not contain the text, and the count is announced. */
  function makeFilter(spec, question) {
    var box = document.getElementById(spec.name + "-filter-box");
    var input = document.getElementById(spec.name + "-filter");
    var count = document.getElementById(spec.name + "-filter-count");
    if (!box || !input) return null;
    var items = Array.from(document.querySelectorAll("#" + spec.name + "-choices .choice-item"));
    var total = items.length;
    function shown() { return items.filter(function (item) { return !item.hidden; }); }
    var filter = {
      input: input,
      apply: function (text) {
        var query = text.trim().toLowerCase();
        if (input.value !== text) input.value = text;
        items.forEach(function (item) {
          var haystack = (item.textContent + " " + item.getAttribute("data-choice")).toLowerCase();
          item.hidden = query !== "" && haystack.indexOf(query) === -1;
        });
        var visible = shown().length;
        count.textContent = query === "" ? "All " + total + " shown." :
          (visible === 0 ? "None of " + total + " matches." : visible + " of " + total + " shown.");
      },
      /* Enter in the box picks the one choice left, if one is left and not yet picked (so a
       * second Enter submits). */
      pickSingle: function () {
        var left = shown();
        if (left.length !== 1 || left[0].querySelector("input").checked) return false;
        question.select(left[0].getAttribute("data-choice"));
        lastQuestion = question;
        return true;
      }
    };
    input.addEventListener("input", function () { filter.apply(input.value); });
    input.setAttribute("data-filter-for", spec.name);
    box.hidden = false;
    return filter;
  }

  var questions = settings.questions.map(makeQuestion);
  // Each choice's key (case does not matter) -> its question and value.
  var keyMap = {};
  questions.forEach(function (question) {
    question.spec.choices.forEach(function (choice) {
      if (choice.key) keyMap[choice.key.toUpperCase()] = { question: question, value: choice.value };
    });
  });
  function questionNamed(name) {
    return questions.filter(function (question) { return question.spec.name === name; })[0] || null;
  }
  // Digits type into the confidence of the question answered last, or else the first scale.
  var lastQuestion = null;
  form.addEventListener("change", function (event) {
    var question = event.target && event.target.type === "radio" ? questionNamed(event.target.name) : null;
    if (question) lastQuestion = question;
  });
  function digitScale() {
    if (lastQuestion && lastQuestion.scale) return lastQuestion.scale;
    var first = questions.filter(function (question) { return question.scale; })[0];
    return first ? first.scale : null;
  }

  /* Typed digits build one number ("7" then "5" is 75) until a pause. The buffer belongs to
   * the case and the scale it was typed on: a new case or another scale starts with none. */
  var digits = { buffer: "", timer: null, scale: null };
  function clearDigits() {
    window.clearTimeout(digits.timer);
    digits.buffer = "";
    digits.timer = null;
    digits.scale = null;
  }
  /* Every case change starts from nothing: no answer to any question, no typed digits. */
  function clearAnswer() {
    clearDigits();
    questions.forEach(function (question) { question.clear(); });
    lastQuestion = null;
    enterGuard.shownAt = performance.now();
    enterGuard.touched = false;
  }
  /* A double-pressed Enter: the second press lands on the next case, which has no answer yet.
   * An Enter on an untouched case within a second of it appearing is taken for that and
   * ignored (no "choose a decision" error); any answer key, click or typing lifts this. */
  var enterGuard = { shownAt: performance.now(), touched: false, window: 1000 };
  function enterIsEcho() {
    return !enterGuard.touched && performance.now() - enterGuard.shownAt < enterGuard.window;
  }
  form.addEventListener("input", function () { enterGuard.touched = true; });

  /* The answer fields of the design, as given: the choice of each question and, where it has
   * a scale, its confidence (null when not given). */
  function currentAnswer() {
    var answer = {};
    questions.forEach(function (question) {
      answer[question.spec.name] = question.value();
      if (question.scale) answer[question.scale.spec.name] = question.scale.get();
    });
    return answer;
  }
  function choiceLabel(question, value) {
    var choice = question.spec.choices.filter(function (c) { return c.value === value; })[0];
    return choice ? choice.label : String(value);
  }
  /* A stored answer in words (the server's words come with a served case's current_answer). */
  function answerText(answer) {
    return questions.filter(function (question) {
      return answer[question.spec.name] !== null && answer[question.spec.name] !== undefined;
    }).map(function (question) {
      var text = choiceLabel(question, answer[question.spec.name]);
      var scale = question.scale;
      if (scale && answer[scale.spec.name] !== null && answer[scale.spec.name] !== undefined) {
        text += ", confidence " + answer[scale.spec.name];
      }
      return text;
    }).join("; ");
  }
  /* What is missing or wrong, in words; null when every question is answered. (The focus stays
   * where it is, so the reader's next key still answers.) */
  function answerProblem(answer) {
    for (var i = 0; i < questions.length; i++) {
      var question = questions[i], spec = question.spec;
      if (answer[spec.name] === null) {
        var keyed = spec.choices.every(function (c) { return c.key; });
        var text = spec.choices.length <= 3 && keyed ?
          "Choose " + spec.choices.map(function (c) { return c.label + " (" + c.key + ")"; }).join(" or ") + "." :
          "Choose a " + spec.legend.toLowerCase() + ".";
        return text;
      }
      var scale = question.scale;
      if (scale && !scale.valid(answer[scale.spec.name])) {
        return scale.spec.legend + " Give a confidence from " + scale.spec.min + " to " + scale.spec.max + ".";
      }
    }
    return null;
  }

  /* ---- Showing a served case. ---- */
  function setText(id, value) {
    var element = document.getElementById(id);
    if (element) element.textContent = value;
  }
  function render(next) {
    serving = next;
    if (next.finished || !next.case) {
      window.location.assign(next.finish_url);
      return;
    }
    var item = next.case;
    activeTimer.start(item.token);
    tokenInput.value = item.token;
    activeInput.value = "";
    caseNumber.textContent = String(item.number);
    document.title = document.title.replace(/^Case \d+/, "Case " + item.number);
    progressBar.value = next.progress.done;
    progressDone.textContent = String(next.progress.done);
    stage.setAttribute("aria-label", "Lesion image of case " + item.number);
    image.setAttribute("data-display-src", item.image_url);
    image.setAttribute("data-full-src", item.full_image_url);
    resetView();
    showFullResolution(false);
    if (item.clinical) {
      setText("clinical-age", item.clinical.age === null ? "not recorded" : String(item.clinical.age));
      setText("clinical-sex", item.clinical.sex || "not recorded");
      setText("clinical-site", item.clinical.site || "not recorded");
    }
    renderPhase(item);
    renderAi(item);
    clearAnswer();
    var given = item.current_answer;
    if (given) {
      questions.forEach(function (question) {
        if (given[question.spec.name] !== null) question.select(given[question.spec.name]);
        var scale = question.scale;
        if (scale && given[scale.spec.name] !== null) scale.set(given[scale.spec.name]);
      });
      revisitAnswer.textContent = given.text;
      revisitNote.classList.remove("hidden");
    } else {
      revisitNote.classList.add("hidden");
    }
    backButton.classList.toggle("hidden", !next.can_go_back);
    document.getElementById("back-before").value = item.id;
    if (next.upcoming_image_url) {
      var ahead = new Image();
      ahead.src = next.upcoming_image_url;
    }
  }

  /* ---- AI-assisted studies: what this step is, and in an aided phase the CNN's output (the
   * panel the page draws for the first case, redrawn here for each next one). ---- */
  function percent(probability) { return Math.round(probability * 100) + "%"; }
  function show(id, visible) {
    var element = document.getElementById(id);
    if (element) element.hidden = !visible;
  }
  function renderPhase(item) {
    setText("phase-note", item.phase_note || "");
    show("phase-note", Boolean(item.phase_note));
    var note = document.getElementById("phase-note");
    if (note) note.className = "phase-note phase-" + (item.phase || "unaided");
    setText("ai-unaided-answer-text", item.unaided_answer || "");
    show("ai-unaided-answer", Boolean(item.unaided_answer));
  }
  function renderAi(item) {
    var ai = item.ai;
    show("ai-panel", Boolean(ai));
    if (!ai) return;
    show("ai-unavailable", !ai.available);
    show("ai-probability-block", ai.available && ai.probability !== null);
    if (ai.probability !== null) {
      setText("ai-positive-label", String(ai.positive_label).toLowerCase());
      setText("ai-probability", percent(ai.probability));
      document.getElementById("ai-meter").value = ai.probability;
    }
    var list = document.getElementById("ai-top-classes");
    list.textContent = "";
    (ai.top_classes || []).forEach(function (entry) {
      var li = document.createElement("li");
      var label = document.createElement("span");
      label.className = "ai-class";
      label.textContent = entry.label;
      var value = document.createElement("span");
      value.className = "ai-class-probability";
      value.textContent = percent(entry.probability);
      li.appendChild(label);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(value);
      list.appendChild(li);
    });
    show("ai-classes-block", (ai.top_classes || []).length > 0);
    var positive = String(ai.positive_label).toLowerCase();
    setText("ai-saliency-label", positive);
    document.getElementById("ai-saliency").alt = "Grad-CAM map: the regions of the image that weighed most in the CNN's output for " + positive;
    loadSaliency(ai.saliency_url);
  }

  /* The CNN's Grad-CAM map: a worker may still be drawing it (202), so ask until it is there
     (up to about a minute), then show the PNG; a map that cannot be drawn (404) stays away. */
  var saliencyWanted = null;
  var saliencyObjectUrl = null;
  function loadSaliency(url) {
    saliencyWanted = url || null;
    var img = document.getElementById("ai-saliency");
    if (!img) return;
    if (saliencyObjectUrl) { URL.revokeObjectURL(saliencyObjectUrl); saliencyObjectUrl = null; }
    img.removeAttribute("src");
    show("ai-saliency-figure", false);
    show("ai-saliency-pending", Boolean(url));
    if (!url) return;
    var tries = 0;
    function ask() {
      if (saliencyWanted !== url) return;
      // request() retries network failures and 5xx; a 202 is asked again here.
      request(url, { credentials: "same-origin" }).then(function (response) {
        if (saliencyWanted !== url) return null;
        if (response.status === 202 && tries < 40) {
          tries += 1;
          window.setTimeout(ask, 1500);
          return null;
        }
        if (response.status !== 200) throw new Error("no map");
        return response.blob().then(function (blob) {
          if (saliencyWanted !== url) return;
          saliencyObjectUrl = URL.createObjectURL(blob);
          img.src = saliencyObjectUrl;
          show("ai-saliency-pending", false);
          show("ai-saliency-figure", true);
        });
      }).catch(function () {
        if (saliencyWanted === url) show("ai-saliency-pending", false);
      });
    }
    ask();
  }

  /* ---- Talking to the API, with retries that the one-time token makes safe. ---- */
  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function request(url, options, attempt) {
    attempt = attempt || 0;
    return fetch(url, options).then(function (response) {
      if (response.status >= 500 && attempt < 3) {
        return sleep(500 * Math.pow(2, attempt)).then(function () { return request(url, options, attempt + 1); });
      }
      return response;
    }, function (error) {
      if (attempt < 3) {
        return sleep(500 * Math.pow(2, attempt)).then(function () { return request(url, options, attempt + 1); });
      }
      throw error;
    });
  }

  function jsonOrThrow(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      if (!response.ok) {
        var error = new Error("HTTP " + response.status);
        error.status = response.status;
        error.body = body;
        throw error;
      }
      return body;
    });
  }

  var busy = false;
  // Answer keys pressed while a case is being saved or loaded belong to the case that appears
  // next: they are held and replayed on it, never applied to the case that is leaving.
  var heldKeys = [];

  function describeError(error) {
    if (error.status === 400 && error.body) {
      var messages = [];
      Object.keys(error.body).forEach(function (field) {
        var value = error.body[field];
        messages.push(Array.isArray(value) ? value.join(" ") : String(value));
      });
      return messages.join(" ") || "The answer was not accepted.";
    }
    if (error.status === 403 || error.status === 401) return "Your session has ended. Reload the page to log in again; your answers so far are saved.";
    if (error.status === 409 && error.body && error.body.detail) return String(error.body.detail);
    if (error.status === 404) return "This case is no longer available (the study may have been closed). Reload the page.";
    return "Not saved: the server could not be reached. Check your connection and press Submit again.";
  }

  /* ---- A contradictory answer (a biopsy at "certainly benign", a reassurance at "certainly
   * malignant") is asked about once: Enter stores it, Escape goes back to change it. ---- */
  var dialog = document.getElementById("contradiction-dialog");
  var dialogQuestion = document.getElementById("contradiction-question");
  var confirmButton = document.getElementById("contradiction-confirm");
  var pendingAnswer = null;

  /* The contradictory answers the study lists (settings.contradictory_answers: answer fields
   * and the question to ask) that this answer is. */
  function contradiction(answer) {
    return settings.contradictory_answers.filter(function (listed) {
      return Object.keys(listed).every(function (field) {
        return field === "question" || answer[field] === listed[field];
      });
    })[0] || null;
  }
  function askToConfirm(answer, listed) {
    clearDigits(); // digits typed after going back start a new number
    pendingAnswer = { answer: answer, listed: listed };
    dialogQuestion.textContent = listed.question;
    setStatus("", false);
    dialog.showModal();
    confirmButton.focus();
  }
  confirmButton.addEventListener("click", function () {
    var pending = pendingAnswer;
    pendingAnswer = null;
    dialog.close();
    if (pending) sendAnswer(pending.answer);
  });
  document.getElementById("contradiction-back").addEventListener("click", function () {
    dialog.close();
  });
  dialog.addEventListener("close", function () {
    if (!pendingAnswer) return; // confirmed
    var fields = Object.keys(pendingAnswer.listed);
    pendingAnswer = null;
    setStatus("Not saved. Change the decision or the confidence, then submit.", false);
    // Back to the confidence that contradicts the choice.
    var question = questions.filter(function (q) {
      return q.scale && fields.indexOf(q.scale.spec.name) !== -1;
    })[0];
    var field = question ? question.scale.field() : null;
    (field || heading).focus();
  });

  function submitAnswer() {
    if (busy || dialog.open) return; // a second click while the first is on its way does nothing
    var answer = currentAnswer();
    var problem = answerProblem(answer);
    if (problem) {
      setStatus(problem, true);
      return;
    }
    var listed = contradiction(answer);
    if (listed) askToConfirm(answer, listed);
    else sendAnswer(answer);
  }

  /* Sends the answer fields of the design (and nothing else) with the case's token. */
  function sendAnswer(answer) {
    if (busy) return;
    busy = true;
    submitButton.disabled = true;
    setStatus("Saving…", false);
    var token = tokenInput.value;
    var body = JSON.stringify(Object.assign({ token: token }, answer, { active_ms: activeTimer.total() }));
    request(root.getAttribute("data-submit-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: body
    }).then(jsonOrThrow).then(function (result) {
      activeTimer.forget(token);
      var stored = result.decision;
      var note = "Saved.";
      var differs = Object.keys(answer).some(function (field) { return stored[field] !== answer[field]; });
      if (result.replayed && differs) {
        note = "That case had already been answered (" + answerText(stored) + "); that answer is kept.";
      }
      render(result.next);
      setStatus(note + " " + result.next.progress.done + " of " + result.next.progress.total + " answered.", false);
      heading.focus();
      return true;
    }).catch(function (error) {
      setStatus(describeError(error), true);
      return false;
    }).then(function (changed) {
      busy = false;
      submitButton.disabled = false;
      replayHeldKeys(changed);
    });
  }

  function loadServing(url, failureText) {
    if (busy) return;
    busy = true;
    activeTimer.pause();
    request(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(jsonOrThrow)
      .then(function (next) {
        render(next);
        setStatus("", false);
        heading.focus();
        return true;
      })
      .catch(function (error) {
        activeTimer.resume();
        setStatus(error.status === 404 ? failureText : describeError(error), true);
        return false;
      })
      .then(function (changed) {
        busy = false;
        replayHeldKeys(changed);
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitAnswer();
  });
  backButton.addEventListener("click", function (event) {
    event.preventDefault();
    var url = root.getAttribute("data-previous-url") + "?before=" + encodeURIComponent(serving.case.id);
    loadServing(url, "There is no earlier case to go back to.");
  });
  document.getElementById("return-current").addEventListener("click", function (event) {
    event.preventDefault();
    loadServing(root.getAttribute("data-next-url"), "Reload the page to continue.");
  });

  /* ---- Keyboard shortcuts: each choice's key (settings.questions), digits, Enter, +, -, F. ---- */
  function typeDigit(digit) {
    var scale = digitScale();
    if (!scale) return;
    if (!scale.slider) {
      if (scale.valid(Number(digit))) scale.set(Number(digit));
      return;
    }
    if (digits.scale !== scale) clearDigits();
    window.clearTimeout(digits.timer);
    digits.scale = scale;
    digits.buffer = Number(digits.buffer + digit) > scale.spec.max ? digit : digits.buffer + digit;
    scale.set(Number(digits.buffer));
    digits.timer = window.setTimeout(clearDigits, 1500);
  }

  function answerKey(key) {
    if (dialog.open) return; // held keys after the question opened: the reader must read it
    if (busy) {
      heldKeys.push(key);
      return;
    }
    if (key === "Enter") {
      if (enterIsEcho()) return;
      if (typeof form.requestSubmit === "function") form.requestSubmit(); else submitAnswer();
      return;
    }
    enterGuard.touched = true;
    var choice = keyMap[key.toUpperCase()];
    if (choice) {
      choice.question.select(choice.value);
      lastQuestion = choice.question;
    } else if (/^[0-9]$/.test(key)) {
      typeDigit(key);
    }
  }

  /* Keys held during a save or load: on the case that appeared, in the order they were typed;
   * if the case did not change (an error), they are dropped, since they were meant for the
   * next case. */
  function replayHeldKeys(caseChanged) {
    var keys = heldKeys;
    heldKeys = [];
    if (caseChanged) keys.forEach(answerKey);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (dialog.open) {
      if (event.key === "Enter" && event.repeat) event.preventDefault(); // a held-down Enter is not an answer
      return; // the dialog's buttons: Enter confirms, Escape goes back
    }
    var target = event.target;
    var tag = target && target.tagName;
    var typing = tag === "TEXTAREA" || (tag === "INPUT" && ["number", "text", "search"].indexOf(target.type) !== -1);
    var key = event.key;
    var filter = target && target.getAttribute && target.getAttribute("data-filter-for");
    if (filter && (key === "Enter" || key === "Escape")) {
      var question = questionNamed(filter);
      if (key === "Escape") {
        if (target.value !== "") { question.filter.apply(""); event.preventDefault(); }
        return;
      }
      // Enter in a filter box picks the one choice left; otherwise it submits, as anywhere.
      if (question.filter.pickSingle()) {
        enterGuard.touched = true;
        event.preventDefault();
        return;
      }
    }
    if (key === "Enter") {
      if (tag === "BUTTON" || tag === "A" || tag === "TEXTAREA") return; // let them do their own thing
      event.preventDefault();
      if (!event.repeat) answerKey(key); // a held-down Enter is one press
      return;
    }
    if (typing) return;
    if (key.length === 1 && (keyMap[key.toUpperCase()] || /^[0-9]$/.test(key))) { answerKey(key); event.preventDefault(); }
    else if (key === "+" || key === "=") { zoomCentre(1.5); event.preventDefault(); }
    else if (key === "-" || key === "_") { zoomCentre(1 / 1.5); event.preventDefault(); }
    else if (key === "f" || key === "F") { showFullResolution(fullButton.getAttribute("aria-pressed") !== "true"); event.preventDefault(); }
  });

  /* ---- Start. ---- */
  activeTimer.start(serving.case.token);
  if (serving.case.ai) loadSaliency(serving.case.ai.saliency_url);
  if (serving.upcoming_image_url) {
    var ahead = new Image();
    ahead.src = serving.upcoming_image_url;
  }
})();
