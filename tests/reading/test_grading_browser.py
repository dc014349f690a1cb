"""A dermatologist grading real cases in headless Chromium: mouse, keyboard, reload, double
click, a tablet, and an accessibility check (axe-core, WCAG 2.1 A and AA)."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from readerstudy.reading.models import Decision
from readerstudy.reading.ordering import order_extend
from readerstudy.studies.models import Enrolment, Study
from tests.factories import PASSWORD
from tests.support.a11y import AXE, accessibility_violations
from tests.support.browser import press_keys
from tests.support.reading import enrol
from tests.support.realcases import real_study

PERCENT_LABEL = "Confidence (0\u2013100)"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def case_heading(page, number: int, total: int):
    return page.get_by_role("heading", name=f"Case {number} of {total}")


def shown_case_id(page) -> str:
    return page.locator("#case-image").get_attribute("data-display-src").split("/")[3]


def test_a_reader_grades_five_real_cases_with_mouse_and_keyboard(
    page, reader_a, reader_b, artifacts
):
    study = real_study(5, show_clinical_info=True, confidence_scale="0-100")
    enrolment = enrol(study, reader_a)
    enrol(study, reader_b)
    other_study = real_study(1)
    enrol(other_study, reader_b)
    page.add_init_script(path=str(AXE))

    log_in(page, "reader_a")
    page.get_by_role("link", name="Reading", exact=True).click()
    page.get_by_text("0 of 5 cases answered").wait_for()
    page.get_by_role("link", name="Start grading").click()
    case_heading(page, 1, 5).wait_for()
    assert page.get_by_text("Age", exact=True).is_visible()
    assert page.get_by_text("Body site", exact=True).is_visible()
    assert page.get_by_role("progressbar").get_attribute("value") == "0"
    assert accessibility_violations(page) == []

    # Case 1, by mouse: zoom with the wheel, drag, double-click to reset, full resolution.
    stage = page.locator("#viewer-stage")
    image = page.locator("#case-image")
    box = stage.bounding_box()
    assert box["width"] > 700 and box["height"] > 500, "the image should fill the screen"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -600)
    page.wait_for_function("!!document.getElementById('case-image').style.transform")
    assert "scale(1)" not in image.evaluate("el => el.style.transform")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 40)
    page.mouse.up()
    stage.dblclick()
    assert image.evaluate("el => el.style.transform") == "translate(0px, 0px) scale(1)"
    page.get_by_role("button", name="Full resolution").click()
    page.wait_for_function(
        "() => { const i = document.getElementById('case-image');"
        " return i.currentSrc.endsWith('/full/') && i.complete && i.naturalWidth === 600; }"
    )
    page.locator("label[for=decision-biopsy]").click()
    page.get_by_label(PERCENT_LABEL).fill("80")
    first_case = shown_case_id(page)
    page.get_by_role("button", name="Submit answer").click()
    case_heading(page, 2, 5).wait_for()
    assert page.locator("#progress-text").inner_text() == "1 of 5 answered"
    assert "/full/" not in image.get_attribute("src"), "a new case starts at display size"

    # Case 2, by keyboard only: R, digits, Enter.
    page.keyboard.press("r")
    page.keyboard.type("25")
    assert page.get_by_label(PERCENT_LABEL).input_value() == "25"
    page.keyboard.press("Enter")
    case_heading(page, 3, 5).wait_for()

    # Reload midway: the same case comes back, with the same token.
    third_case = shown_case_id(page)
    token = page.locator("#token").input_value()
    page.reload()
    case_heading(page, 3, 5).wait_for()
    assert shown_case_id(page) == third_case
    assert page.locator("#token").input_value() == token

    # Case 3: a double click on Submit stores one decision.
    page.keyboard.press("b")
    page.keyboard.type("60")
    page.get_by_role("button", name="Submit answer").dblclick()
    case_heading(page, 4, 5).wait_for()
    assert Decision.objects.filter(enrolment=enrolment).count() == 3

    # Case 4: the same submit sent twice at once by the browser still stores one decision.
    token = page.locator("#token").input_value()
    statuses = page.evaluate(
        """async ([url, token]) => {
            const csrf = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const send = () => fetch(url, {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                body: JSON.stringify({token, decision: 'reassure', confidence: 5})});
            const answers = await Promise.all([send(), send()]);
            return answers.map(a => a.status).sort();
        }""",
        [f"/api/v1/reading/studies/{study.pk}/decisions/", token],
    )
    assert statuses == [200, 201]
    assert Decision.objects.filter(enrolment=enrolment).count() == 4
    page.reload()
    case_heading(page, 5, 5).wait_for()
    page.screenshot(path=str(artifacts / "grading-page.png"), full_page=True)

    page.keyboard.press("r")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Thank you — you have answered all 5 cases").wait_for()
    assert accessibility_violations(page) == []

    decisions = list(Decision.objects.filter(enrolment=enrolment).order_by("submitted_at"))
    assert len(decisions) == 5
    assert [(d.decision, d.confidence) for d in decisions[:3]] == [
        ("biopsy", 80),
        ("reassure", 25),
        ("biopsy", 60),
    ]
    assert all(d.served_at <= d.submitted_at for d in decisions)
    assert all(d.active_ms and d.active_ms > 0 for d in decisions if d.confidence != 5)
    order = order_extend(enrolment.order_seed, [], study.cases.values_list("pk", "public_id"))
    assert [d.case_id for d in decisions] == order
    assert str(study.cases.get(pk=order[0]).public_id) == first_case


def test_other_readers_cases_and_other_studies_answer_404_in_the_browser(page, reader_a, reader_b):
    study = real_study(2)
    enrol(study, reader_a)
    enrol(study, reader_b)
    other_study = real_study(1)
    enrol(other_study, reader_b)
    reader_b_session = Client()
    reader_b_session.force_login(reader_b)
    b_next = reader_b_session.get(f"/api/v1/reading/studies/{study.pk}/next/")
    assert b_next.status_code == 200, b_next.content
    b_case = b_next.json()["case"]
    other_image = f"/reading/images/{other_study.cases.get().public_id}/"

    log_in(page, "reader_a")
    page.goto(f"/reading/studies/{study.pk}/")
    case_heading(page, 1, 2).wait_for()
    # Requests from the browser context, with its session cookie and CSRF token (a 404 in the
    # page itself would count as a console error).
    csrf = page.locator("#decision-form input[name=csrfmiddlewaretoken]").input_value()
    answer = page.request.post(
        f"/api/v1/reading/studies/{study.pk}/decisions/",
        data={"token": b_case["token"], "decision": "biopsy", "confidence": 50},
        headers={"X-CSRFToken": csrf},
    ).status
    assert answer == 404
    assert page.request.get(other_image).status == 404
    assert page.request.get(f"/reading/studies/{other_study.pk}/").status == 404
    assert page.request.get(f"/api/v1/reading/studies/{other_study.pk}/next/").status == 404
    assert Decision.objects.count() == 0


def test_grading_on_a_tablet_with_a_five_point_scale_and_going_back_to_change_an_answer(
    browser, live_server, reader_a, artifacts
):
    study = real_study(3, confidence_scale="1-5", allow_answer_changes=True, show_feedback=True)
    enrolment = enrol(study, reader_a)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 820, "height": 1180}, has_touch=True
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script(path=str(AXE))
    try:
        log_in(page, "reader_a")
        page.goto(f"/reading/studies/{study.pk}/")
        case_heading(page, 1, 3).wait_for()
        stage = page.locator("#viewer-stage").bounding_box()
        panel = page.locator(".answer-panel").bounding_box()
        assert stage["width"] > 760 and panel["y"] >= stage["y"] + stage["height"]
        submit_button = page.get_by_role("button", name="Submit answer").bounding_box()
        assert submit_button["y"] + submit_button["height"] <= 1180, "answer without scrolling"
        assert accessibility_violations(page) == []

        page.locator("label[for=decision-reassure]").tap()
        page.get_by_text("probably benign").tap()
        page.get_by_role("button", name="Submit answer").tap()
        case_heading(page, 2, 3).wait_for()
        page.get_by_role("button", name="Back").tap()
        case_heading(page, 1, 3).wait_for()
        page.get_by_text("You are changing your answer").wait_for()
        assert page.get_by_label("Reassure").is_checked()
        assert page.locator("#confidence-2").is_checked()
        page.locator("label[for=decision-biopsy]").tap()
        page.keyboard.press("4")
        page.get_by_role("button", name="Submit answer").tap()
        case_heading(page, 2, 3).wait_for()
        page.screenshot(path=str(artifacts / "grading-page-tablet.png"), full_page=True)
        page.keyboard.press("b")
        page.keyboard.press("5")
        page.keyboard.press("Enter")
        case_heading(page, 3, 3).wait_for()
        page.keyboard.press("b")
        page.keyboard.press("5")
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Feedback: your answers and the truth").wait_for()
        assert accessibility_violations(page) == []
        page.screenshot(path=str(artifacts / "feedback-page-tablet.png"), full_page=True)
    finally:
        context.close()
    revisions = list(
        Decision.objects.filter(enrolment=enrolment).values_list(
            "revision", "decision", "confidence"
        )
    )
    assert sorted(revisions) == [
        (1, "biopsy", 5),
        (1, "biopsy", 5),
        (1, "reassure", 2),
        (2, "biopsy", 4),
    ]
    assert not problems, problems


def start_grading(page, study, reader) -> Enrolment:
    """Enrol ``reader``, log in as them and open the study's first case."""
    enrolment = enrol(study, reader)
    log_in(page, reader.username)
    page.goto(f"/reading/studies/{study.pk}/")
    case_heading(page, 1, study.cases.count()).wait_for()
    return enrolment


def final_answers(enrolment) -> list[tuple[str, int]]:
    """The reader's answers in the order they were submitted."""
    decisions = Decision.objects.filter(enrolment=enrolment).order_by("submitted_at")
    return [(d.decision, d.confidence) for d in decisions]


def test_keys_typed_at_speed_across_case_changes_store_exactly_what_was_typed(page, reader_a):
    # "R 5 Enter" and at once "B 9 0 Enter": the digits of the next case never join the 5
    # (which made "590", then "0"), and keys typed while a case is saved go to the next case.
    study = real_study(5, confidence_scale="0-100")
    enrolment = start_grading(page, study, reader_a)
    press_keys(page, "r 5 Enter b 9 0 Enter r 1 2 Enter b 7 5 Enter r 3 3 Enter")
    page.get_by_role("heading", name="Thank you — you have answered all 5 cases").wait_for()
    assert final_answers(enrolment) == [
        ("reassure", 5),
        ("biopsy", 90),
        ("reassure", 12),
        ("biopsy", 75),
        ("reassure", 33),
    ]


def test_a_new_case_starts_with_no_answer_and_no_typed_digits(page, reader_a):
    study = real_study(3, confidence_scale="0-100")
    enrolment = start_grading(page, study, reader_a)
    press_keys(page, "r 4 Enter")
    case_heading(page, 2, 3).wait_for()
    assert not page.get_by_label("Reassure").is_checked()
    assert page.get_by_label(PERCENT_LABEL).input_value() == ""
    # Within the 1.5 s that digits join: the 4 of case 1 must not come back as "45".
    press_keys(page, "b 5")
    assert page.get_by_label(PERCENT_LABEL).input_value() == "5"
    press_keys(page, "5 Enter")
    case_heading(page, 3, 3).wait_for()
    assert final_answers(enrolment) == [("reassure", 4), ("biopsy", 55)]


def test_a_contradictory_answer_is_asked_about_once_and_stored_as_confirmed(page, reader_a):
    study = real_study(3, confidence_scale="0-100")
    page.add_init_script(path=str(AXE))
    enrolment = start_grading(page, study, reader_a)
    question = page.get_by_role("dialog", name="Biopsy / further testing with 0% confidence")

    # Escape goes back: nothing is stored, and the reader gives another confidence.
    press_keys(page, "b 0 Enter")
    question.wait_for()
    assert accessibility_violations(page) == []
    page.keyboard.press("Escape")
    question.wait_for(state="hidden")
    # The dialog's close event (which writes the status) is dispatched a task after it hides.
    page.get_by_text("Not saved. Change the decision or the confidence").wait_for()
    assert not Decision.objects.filter(enrolment=enrolment).exists()
    press_keys(page, "2 0 Enter")
    case_heading(page, 2, 3).wait_for()

    # Enter confirms: the contradictory answer is stored as given.
    press_keys(page, "r 1 0 0 Enter")
    page.get_by_role("dialog", name="Reassure with 100% confidence of malignancy?").wait_for()
    page.keyboard.press("Enter")
    case_heading(page, 3, 3).wait_for()

    # The mouse too: the question's buttons.
    page.locator("label[for=decision-biopsy]").click()
    page.get_by_label(PERCENT_LABEL).fill("0")
    page.get_by_role("button", name="Submit answer").click()
    question.get_by_role("button", name="Store this answer").click()
    page.get_by_role("heading", name="Thank you — you have answered all 3 cases").wait_for()
    assert final_answers(enrolment) == [("biopsy", 20), ("reassure", 100), ("biopsy", 0)]


def test_the_five_point_scale_asks_about_its_own_ends(page, reader_a):
    study = real_study(2, confidence_scale="1-5")
    enrolment = start_grading(page, study, reader_a)
    press_keys(page, "b 1 Enter")
    page.get_by_role(
        "dialog", name="Biopsy / further testing with confidence 1 (certainly benign)?"
    ).wait_for()
    page.keyboard.press("Enter")
    case_heading(page, 2, 2).wait_for()
    press_keys(page, "r 5 Enter")
    question = page.get_by_role("dialog", name="Reassure with confidence 5 (certainly malignant)?")
    question.get_by_role("button", name="Go back and change it").click()
    question.wait_for(state="hidden")
    press_keys(page, "4 Enter")
    page.get_by_role("heading", name="Thank you — you have answered all 2 cases").wait_for()
    assert final_answers(enrolment) == [("biopsy", 1), ("reassure", 4)]


def slider_columns(page) -> list[tuple]:
    """The slider's pixel columns at 20%, 50% and 80% of its width, as Chromium draws them."""
    drawn = Image.open(io.BytesIO(page.locator("#confidence-range").screenshot())).convert("RGB")
    width, height = drawn.size
    return [
        tuple(drawn.getpixel((int(width * at), y)) for y in range(height)) for at in (0.2, 0.5, 0.8)
    ]


def test_the_confidence_slider_looks_unset_until_the_reader_sets_it(page, reader_a):
    study = real_study(2, confidence_scale="0-100", allow_answer_changes=True)
    start_grading(page, study, reader_a)
    slider = page.get_by_role("slider")
    left, middle, right = slider_columns(page)
    assert left == middle == right, "an unset slider draws no thumb (none resting at 50)"
    assert slider.get_attribute("aria-valuetext") == "not set"
    assert page.get_by_placeholder("not set").is_visible()

    press_keys(page, "r 5 0")
    left, middle, right = slider_columns(page)
    assert middle != left and middle != right, "a set slider shows its thumb at 50"
    assert slider.get_attribute("aria-valuetext") is None
    page.keyboard.press("Enter")
    case_heading(page, 2, 2).wait_for()
    left, middle, right = slider_columns(page)
    assert left == middle == right and slider.get_attribute("aria-valuetext") == "not set"

    # The page served again to change an answer shows that answer on the slider too.
    first = study.cases.get(pk=Decision.objects.get().case_id)
    page.goto(f"/reading/studies/{study.pk}/back/?before={shown_case_id(page)}")
    assert shown_case_id(page) == str(first.public_id)
    assert slider.input_value() == "50" and slider.get_attribute("aria-valuetext") is None
    assert page.get_by_label(PERCENT_LABEL).input_value() == "50"


def test_a_double_pressed_enter_shows_no_error_on_the_next_case(page, reader_a):
    study = real_study(3, confidence_scale="0-100")
    enrolment = start_grading(page, study, reader_a)
    press_keys(page, "r 2 5 Enter Enter")
    case_heading(page, 2, 3).wait_for()
    status = page.locator("#form-status")
    assert status.inner_text() == "Saved. 1 of 3 answered."
    assert "error" not in (status.get_attribute("class") or "")
    # The next answer goes through at once.
    press_keys(page, "b 8 0 Enter")
    case_heading(page, 3, 3).wait_for()
    assert final_answers(enrolment) == [("reassure", 25), ("biopsy", 80)]


def test_an_answer_on_a_page_left_open_after_the_study_closed_says_the_study_is_closed(
    page, reader_a
):
    study = real_study(3, confidence_scale="0-100")
    enrolment = start_grading(page, study, reader_a)
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    press_keys(page, "r 2 5 Enter")
    status = page.locator("#form-status")
    status.filter(has_text="This study has been closed by its coordinator").wait_for()
    assert "answer was not stored" in status.inner_text()
    assert final_answers(enrolment) == []
    # The refused request is the one console line the browser writes; nothing else went wrong.
    assert page.problems == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
    page.problems.clear()
