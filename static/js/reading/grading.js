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
  var percentScale = settings.confidence_scale !== "1-5";
  var numberInput = document.getElementById("confidence");
  var rangeInput = document.getElementById("confidence-range");

  form.noValidate = true; // this script explains what is missing in the status line

  var DECISION_LABELS = { biopsy: "Biopsy / further testing", reassure: "Reassure" };

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

  /* ---- The answer: decision and confidence. ---- */
  function selectDecision(value) {
    var input = document.getElementById("decision-" + value);
    if (input) input.checked = true;
  }
  function currentDecision() {
    var checked = form.querySelector("input[name=decision]:checked");
    return checked ? checked.value : null;
  }
  /* Until the reader gives a confidence the slider shows no thumb and reads "not set", so a
   * thumb resting in the middle never passes for an answer of 50. */
  function showSliderSet(isSet) {
    rangeInput.classList.toggle("unset", !isSet);
    if (isSet) rangeInput.removeAttribute("aria-valuetext");
    else rangeInput.setAttribute("aria-valuetext", "not set");
  }
  function setConfidence(value) {
    if (percentScale) {
      numberInput.value = String(value);
      rangeInput.value = String(value);
      showSliderSet(true);
    } else {
      var radio = document.getElementById("confidence-" + value);
      if (radio) radio.checked = true;
    }
  }
  function currentConfidence() {
    if (percentScale) {
      if (numberInput.value.trim() === "") return null;
      var number = Number(numberInput.value);
      return Number.isInteger(number) ? number : NaN;
    }
    var checked = form.querySelector("input[name=confidence]:checked");
    return checked ? Number(checked.value) : null;
  }
  if (percentScale) {
    rangeInput.addEventListener("input", function () {
      numberInput.value = rangeInput.value;
      showSliderSet(true);
    });
    numberInput.addEventListener("input", function () {
      var number = Number(numberInput.value);
      if (numberInput.value === "") showSliderSet(false);
      else if (number >= 0 && number <= 100) {
        rangeInput.value = String(number);
        showSliderSet(true);
      }
    });
  }
  /* Typed digits build one number ("7" then "5" is 75) until a pause. The buffer belongs to
   * the case it was typed on: a new case starts with none. */
  var digits = { buffer: "", timer: null };
  function clearDigits() {
    window.clearTimeout(digits.timer);
    digits.buffer = "";
    digits.timer = null;
  }
  /* Every case change starts from nothing: no decision, no confidence, no typed digits. */
  function clearAnswer() {
    clearDigits();
    form.querySelectorAll("input[type=radio]").forEach(function (input) { input.checked = false; });
    if (percentScale) {
      numberInput.value = "";
      rangeInput.value = "50";
      showSliderSet(false);
    }
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
    clearAnswer();
    if (item.current_answer) {
      selectDecision(item.current_answer.decision);
      setConfidence(item.current_answer.confidence);
      revisitAnswer.textContent = DECISION_LABELS[item.current_answer.decision] + ", confidence " + item.current_answer.confidence;
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

  function contradiction(decision, confidence) {
    return settings.contradictory_answers.filter(function (answer) {
      return answer.decision === decision && answer.confidence === confidence;
    })[0] || null;
  }
  function askToConfirm(answer) {
    clearDigits(); // digits typed after going back start a new number
    pendingAnswer = answer;
    dialogQuestion.textContent = answer.question;
    setStatus("", false);
    dialog.showModal();
    confirmButton.focus();
  }
  confirmButton.addEventListener("click", function () {
    var answer = pendingAnswer;
    pendingAnswer = null;
    dialog.close();
    if (answer) sendAnswer(answer.decision, answer.confidence);
  });
  document.getElementById("contradiction-back").addEventListener("click", function () {
    dialog.close();
  });
  dialog.addEventListener("close", function () {
    if (!pendingAnswer) return; // confirmed
    pendingAnswer = null;
    setStatus("Not saved. Change the decision or the confidence, then submit.", false);
    var field = percentScale ? numberInput : form.querySelector("input[name=confidence]:checked");
    (field || heading).focus();
  });

  function submitAnswer() {
    if (busy || dialog.open) return; // a second click while the first is on its way does nothing
    var decision = currentDecision();
    var confidence = currentConfidence();
    var low = settings.confidence_min, high = settings.confidence_max;
    if (!decision) {
      setStatus("Choose Biopsy / further testing (B) or Reassure (R).", true);
      return;
    }
    if (confidence === null || Number.isNaN(confidence) || confidence < low || confidence > high) {
      setStatus("Give your confidence that the lesion is malignant, from " + low + " to " + high + ".", true);
      return;
    }
    var contradictory = contradiction(decision, confidence);
    if (contradictory) askToConfirm(contradictory);
    else sendAnswer(decision, confidence);
  }

  function sendAnswer(decision, confidence) {
    if (busy) return;
    busy = true;
    submitButton.disabled = true;
    setStatus("Saving…", false);
    var token = tokenInput.value;
    var body = JSON.stringify({
      token: token,
      decision: decision,
      confidence: confidence,
      active_ms: activeTimer.total()
    });
    request(root.getAttribute("data-submit-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken },
      body: body
    }).then(jsonOrThrow).then(function (result) {
      activeTimer.forget(token);
      var stored = result.decision;
      var note = "Saved.";
      if (result.replayed && (stored.decision !== decision || stored.confidence !== confidence)) {
        note = "That case had already been answered (" + DECISION_LABELS[stored.decision] + ", " + stored.confidence + "); that answer is kept.";
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

  /* ---- Keyboard shortcuts: B, R, digits, Enter, +, -, F. ---- */
  function typeDigit(digit) {
    if (!percentScale) {
      if (Number(digit) >= settings.confidence_min && Number(digit) <= settings.confidence_max) setConfidence(Number(digit));
      return;
    }
    window.clearTimeout(digits.timer);
    digits.buffer = Number(digits.buffer + digit) > 100 ? digit : digits.buffer + digit;
    setConfidence(Number(digits.buffer));
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
    if (key === "b" || key === "B") selectDecision("biopsy");
    else if (key === "r" || key === "R") selectDecision("reassure");
    else typeDigit(key);
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
    var typing = tag === "TEXTAREA" || (tag === "INPUT" && (target.type === "number" || target.type === "text"));
    var key = event.key;
    if (key === "Enter") {
      if (tag === "BUTTON" || tag === "A" || tag === "TEXTAREA") return; // let them do their own thing
      event.preventDefault();
      if (!event.repeat) answerKey(key); // a held-down Enter is one press
      return;
    }
    if (typing) return;
    if (/^[bBrR0-9]$/.test(key)) { answerKey(key); event.preventDefault(); }
    else if (key === "+" || key === "=") { zoomCentre(1.5); event.preventDefault(); }
    else if (key === "-" || key === "_") { zoomCentre(1 / 1.5); event.preventDefault(); }
    else if (key === "f" || key === "F") { showFullResolution(fullButton.getAttribute("aria-pressed") !== "true"); event.preventDefault(); }
  });

  /* ---- Start. ---- */
  activeTimer.start(serving.case.token);
  if (serving.upcoming_image_url) {
    var ahead = new Image();
    ahead.src = serving.upcoming_image_url;
  }
})();
