"""Grading the questions of a study's design in headless Chromium: a diagnosis among the seven
HAM10000 classes by keyboard and mouse, the diagnosis and the management decision on one case,
a searchable picker for a long class list, and the plain form without JavaScript. What is
stored must be exactly what was entered."""

from __future__ import annotations

import pytest

from readerstudy.reading.models import Decision
from readerstudy.studies.design import ANSWER_FIELDS, scheme_builtin, scheme_from_mapping
from tests.support.a11y import AXE, accessibility_violations
from tests.support.browser import browser_login, press_keys
from tests.support.reading import enrol
from tests.support.realcases import real_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HAM7 = scheme_builtin("ham7").to_dict()


def case_heading(page, number: int, total: int):
    return page.get_by_role("heading", name=f"Case {number} of {total}")


def start_grading(page, study, reader):
    enrolment = enrol(study, reader)
    browser_login(page, reader.username)
    page.goto(f"/reading/studies/{study.pk}/")
    case_heading(page, 1, study.cases.count()).wait_for()
    return enrolment


def is_submit(request) -> bool:
    return request.method == "POST" and request.url.endswith("/decisions/")


def stored_answers(enrolment) -> list[dict[str, object]]:
    """The reader's answers (every answer field) in the order they were submitted."""
    decisions = Decision.objects.filter(enrolment=enrolment).order_by("submitted_at")
    return [{name: getattr(d, name) for name in ANSWER_FIELDS} for d in decisions]


def diagnosis(code: str, confidence: int | None = None) -> dict[str, object]:
    return {
        "decision": None,
        "confidence": None,
        "diagnosis_class": code,
        "diagnosis_confidence": confidence,
    }


def test_a_reader_names_ham7_classes_by_keyboard_and_mouse(page, reader_a, artifacts):
    study = real_study(4, design="diagnosis", diagnosis_scheme=HAM7, show_feedback=True)
    page.add_init_script(path=str(AXE))
    enrolment = start_grading(page, study, reader_a)
    assert accessibility_violations(page) == []
    # The seven classes, each with its key on the button, in the scheme's order; no
    # management question and no confidence.
    labels = page.locator("#diagnosis_class-choices label")
    assert [" ".join(text.split()) for text in labels.all_inner_texts()] == [
        "A Actinic keratosis / Bowen's disease (akiec)",
        "C Basal cell carcinoma (bcc)",
        "K Benign keratosis (bkl)",
        "D Dermatofibroma (df)",
        "M Melanoma (mel)",
        "N Melanocytic nevus (nv)",
        "V Vascular lesion (vasc)",
    ]
    assert page.locator("input[name=decision]").count() == 0
    assert page.locator("input[name=confidence]").count() == 0
    shortcuts = page.locator(".shortcuts")
    assert "M" in shortcuts.locator("dt").all_inner_texts()
    assert "Melanoma (mel)" in shortcuts.inner_text()

    # An Enter with no class chosen is refused on the page; nothing is sent. (A digit, which
    # this study gives no meaning, shows the Enter is meant.)
    press_keys(page, "5 Enter")
    page.locator("#form-status").filter(has_text="Choose a diagnosis.").wait_for()
    assert stored_answers(enrolment) == []

    # Keyboard: the class's key, then Enter (either case of the letter). The page sends the
    # design's answer fields and nothing else.
    with page.expect_request(is_submit) as sent:
        press_keys(page, "m Enter")
    assert set(sent.value.post_data_json) == {"token", "active_ms", "diagnosis_class"}
    case_heading(page, 2, 4).wait_for()
    assert not page.locator("#diagnosis_class-mel").is_checked(), "a new case starts empty"
    press_keys(page, "Shift+N Enter")
    case_heading(page, 3, 4).wait_for()
    # Mouse: the class's button, then Submit.
    page.locator("label[for=diagnosis_class-bkl]").click()
    assert page.get_by_label("Benign keratosis (bkl)").is_checked()
    page.get_by_role("button", name="Submit answer").click()
    case_heading(page, 4, 4).wait_for()
    # A key changes the choice until Enter.
    press_keys(page, "c v")
    assert page.get_by_label("Vascular lesion (vasc)").is_checked()
    page.get_by_role("button", name="Submit answer").click()
    page.get_by_role("heading", name="Thank you — you have answered all 4 cases").wait_for()
    page.get_by_text("You named the right class in").wait_for()
    assert accessibility_violations(page) == []
    page.screenshot(path=str(artifacts / "feedback-page-diagnosis.png"), full_page=True)
    assert stored_answers(enrolment) == [
        diagnosis("mel"),
        diagnosis("nv"),
        diagnosis("bkl"),
        diagnosis("vasc"),
    ]


def test_an_answer_that_arrives_after_another_for_the_same_case_says_which_answer_is_kept(
    page, reader_a
):
    study = real_study(2, design="diagnosis", diagnosis_scheme=HAM7)
    enrolment = start_grading(page, study, reader_a)
    # The same case answered elsewhere first (another tab, a retry that got through).
    token = page.locator("#token").input_value()
    status = page.evaluate(
        """async ([url, token]) => {
            const csrf = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const answer = await fetch(url, {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                body: JSON.stringify({token, diagnosis_class: 'akiec'})});
            return answer.status;
        }""",
        [f"/api/v1/reading/studies/{study.pk}/decisions/", token],
    )
    assert status == 201
    press_keys(page, "m Enter")
    case_heading(page, 2, 2).wait_for()
    assert page.locator("#form-status").inner_text() == (
        "That case had already been answered (Actinic keratosis / Bowen's disease (akiec)); "
        "that answer is kept. 1 of 2 answered."
    )
    assert stored_answers(enrolment) == [diagnosis("akiec")]


def test_the_diagnosis_and_the_management_decision_are_both_asked_and_both_stored(
    page, reader_a, artifacts
):
    study = real_study(
        3,
        design="diagnosis_management",
        diagnosis_scheme=HAM7,
        ask_diagnosis_confidence=True,
        confidence_scale="0-100",
        allow_answer_changes=True,
    )
    page.add_init_script(path=str(AXE))
    enrolment = start_grading(page, study, reader_a)
    assert accessibility_violations(page) == []
    # The diagnosis comes first, then the management decision.
    legends = page.locator("#decision-form fieldset > legend").all_inner_texts()
    assert legends == [
        "Diagnosis",
        "How sure are you of this diagnosis?",
        "Decision",
        "How likely is this lesion malignant?",
    ]
    status = page.locator("#form-status")

    # Refused on the page while either question is unanswered: nothing is sent.
    press_keys(page, "m 8 0 Enter")
    status.filter(has_text="Choose Biopsy / further testing (B) or Reassure (R).").wait_for()
    assert page.locator("#diagnosis_confidence").input_value() == "80"
    assert page.locator("#confidence").input_value() == ""
    press_keys(page, "b Enter")
    status.filter(has_text="How likely is this lesion malignant? Give a confidence").wait_for()
    assert stored_answers(enrolment) == []
    # Digits go to the confidence of the question answered last.
    press_keys(page, "7 0 Enter")
    case_heading(page, 2, 3).wait_for()

    press_keys(page, "b 5 0 Enter")
    status.filter(has_text="Choose a diagnosis.").wait_for()
    # A diagnosis confidence of 0 contradicts nothing; only the management answer is asked about.
    press_keys(page, "k 0 r 1 0 0 Enter")
    dialog = page.get_by_role("dialog", name="Reassure with 100% confidence of malignancy?")
    dialog.wait_for()
    page.keyboard.press("Enter")
    case_heading(page, 3, 3).wait_for()

    # Mouse: both questions, the confidences typed into their boxes.
    page.locator("label[for=diagnosis_class-bcc]").click()
    page.locator("#diagnosis_confidence").fill("65")
    page.locator("label[for=decision-biopsy]").click()
    page.locator("#confidence").fill("90")
    with page.expect_request(is_submit) as sent:
        page.get_by_role("button", name="Submit answer").click()
    assert set(sent.value.post_data_json) == {"token", "active_ms", *ANSWER_FIELDS}
    page.get_by_role("heading", name="Thank you — you have answered all 3 cases").wait_for()
    first, second, third = stored_answers(enrolment)
    assert [first, second, third] == [
        {
            "decision": "biopsy",
            "confidence": 70,
            "diagnosis_class": "mel",
            "diagnosis_confidence": 80,
        },
        {
            "decision": "reassure",
            "confidence": 100,
            "diagnosis_class": "bkl",
            "diagnosis_confidence": 0,
        },
        {
            "decision": "biopsy",
            "confidence": 90,
            "diagnosis_class": "bcc",
            "diagnosis_confidence": 65,
        },
    ]

    # A revisit shows every answer field of the answer being changed.
    last = Decision.objects.filter(enrolment=enrolment).latest("submitted_at").case
    page.goto(f"/reading/studies/{study.pk}/back/")
    case_heading(page, 3, 3).wait_for()
    assert page.locator("#case-image").get_attribute("data-display-src").split("/")[3] == str(
        last.public_id
    )
    assert page.locator("#revisit-answer").inner_text() == (
        "Basal cell carcinoma (bcc), confidence 65%; Biopsy / further testing, confidence 90%"
    )
    assert page.locator("#diagnosis_class-bcc").is_checked()
    assert page.locator("#diagnosis_confidence").input_value() == "65"
    assert page.locator("#decision-biopsy").is_checked()
    assert page.locator("#confidence").input_value() == "90"
    page.screenshot(path=str(artifacts / "grading-diagnosis-management.png"), full_page=True)
    press_keys(page, "d 4 0 Enter")
    page.get_by_role("heading", name="Thank you — you have answered all 3 cases").wait_for()
    changed = Decision.objects.filter(enrolment=enrolment).latest("submitted_at")
    assert changed.revision == 2 and changed.case == last
    assert (changed.diagnosis_class, changed.diagnosis_confidence) == ("df", 40)
    assert (changed.decision, changed.confidence) == ("biopsy", 90)


def ten_classes():
    """A coordinator's grouping of more than nine classes: the seven HAM10000 classes and three
    that hold no diagnosis of the taxonomy (offered to readers, never a case's truth)."""
    ham7 = scheme_builtin("ham7")
    classes = [
        {"code": c.code, "label": c.label, "key": c.key, "diagnoses": sorted(c.diagnoses)}
        for c in ham7.classes
    ]
    classes += [
        {"code": "lentigo", "label": "Solar lentigo", "diagnoses": []},
        {"code": "wart", "label": "Viral wart", "diagnoses": []},
        {"code": "other", "label": "Other lesion", "diagnoses": []},
    ]
    return scheme_from_mapping({"name": "ten", "classes": classes})


def test_a_long_class_list_has_a_filter_box_and_keys_still_work(page, reader_a, artifacts):
    scheme = ten_classes()
    assert len(scheme.classes) == 10 and [c.key for c in scheme.classes][7:] == ["S", "I", "O"]
    study = real_study(3, design="diagnosis", diagnosis_scheme=scheme.to_dict())
    page.add_init_script(path=str(AXE))
    enrolment = start_grading(page, study, reader_a)
    search = page.get_by_role("searchbox", name="Filter the 10 choices")
    assert search.get_attribute("aria-controls") == "diagnosis_class-choices"
    assert accessibility_violations(page) == []
    count = page.locator("#diagnosis_class-filter-count")
    assert count.get_attribute("aria-live") == "polite"
    assert count.inner_text() == "All 10 shown."
    choices = page.locator("#diagnosis_class-choices .choice-item")

    def shown() -> list[str]:
        return [item.get_attribute("data-choice") for item in choices.all() if item.is_visible()]

    search.fill("LES")
    assert shown() == ["vasc", "other"]  # "Vascular lesion", "Other lesion"
    assert count.inner_text() == "2 of 10 shown."
    page.screenshot(path=str(artifacts / "grading-class-filter.png"), full_page=True)
    assert accessibility_violations(page) == []
    search.fill("wart")
    assert shown() == ["wart"]
    # Enter in the box picks the one class left, and a second Enter submits.
    search.press("Enter")
    assert page.get_by_label("Viral wart").is_checked()
    search.press("Enter")
    case_heading(page, 2, 3).wait_for()
    # The next case starts with an empty filter and every class shown.
    assert search.input_value() == "" and len(shown()) == 10
    assert count.inner_text() == "All 10 shown."

    # Keys still work outside the box, also for a class the filter hides.
    search.fill("mel")
    page.locator("#case-heading").focus()
    press_keys(page, "s")
    assert page.get_by_label("Solar lentigo").is_checked()
    assert len(shown()) == 10, "a key that picks a hidden class clears the filter"
    page.keyboard.press("Enter")
    case_heading(page, 3, 3).wait_for()
    # Letters typed into the box are text, not keys.
    search.fill("")
    search.type("melanoma")
    assert page.locator("#diagnosis_class-choices input:checked").count() == 0
    assert shown() == ["mel"]
    page.locator("label[for=diagnosis_class-mel]").click()
    page.get_by_role("button", name="Submit answer").click()
    page.get_by_role("heading", name="Thank you — you have answered all 3 cases").wait_for()
    assert stored_answers(enrolment) == [
        diagnosis("wart"),
        diagnosis("lentigo"),
        diagnosis("mel"),
    ]


def test_a_diagnosis_study_is_graded_as_a_plain_form_without_javascript(
    browser, live_server, reader_a
):
    study = real_study(
        2,
        design="diagnosis",
        diagnosis_scheme=ten_classes().to_dict(),
        ask_diagnosis_confidence=True,
        confidence_scale="1-5",
    )
    enrolment = enrol(study, reader_a)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    try:
        browser_login(page, "reader_a")
        page.goto(f"/reading/studies/{study.pk}/")
        case_heading(page, 1, 2).wait_for()
        # The filter box needs the script: without it the page shows the plain list.
        assert not page.locator("#diagnosis_class-filter").is_visible()
        assert page.locator("#diagnosis_class-choices .choice-item").count() == 10
        assert page.get_by_text("fairly sure").is_visible()
        # The browser itself refuses a form with a question left unanswered.
        page.locator("label[for=diagnosis_class-mel]").click()
        page.get_by_role("button", name="Submit answer").click()
        case_heading(page, 1, 2).wait_for()
        assert not Decision.objects.exists()
        page.get_by_text("fairly sure").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Submit answer").click()
        case_heading(page, 2, 2).wait_for()
        page.locator("label[for=diagnosis_class-df]").click()
        page.get_by_text("certain", exact=True).click()
        with page.expect_navigation():
            page.get_by_role("button", name="Submit answer").click()
        page.get_by_role("heading", name="Thank you — you have answered all 2 cases").wait_for()
    finally:
        context.close()
    assert stored_answers(enrolment) == [diagnosis("mel", 3), diagnosis("df", 5)]
