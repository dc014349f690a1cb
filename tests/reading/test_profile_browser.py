"""A reader meets the profile form in Chromium before the first case of a study that asks for
it, is told what is missing, fills it in, and grades; in the next study the form comes
prefilled and one click confirms it."""

from __future__ import annotations

import pytest

from readerstudy.reading.models import Decision
from readerstudy.studies.models import ReaderProfile
from tests.support.a11y import AXE, accessibility_violations
from tests.support.reading import enrol
from tests.support.realcases import real_study

from .test_grading_browser import PERCENT_LABEL, case_heading, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_reader_fills_the_profile_before_the_first_case_and_then_grades(page, reader_a):
    study = real_study(2, require_reader_profile=True, confidence_scale="0-100")
    enrolment = enrol(study, reader_a)
    page.add_init_script(path=str(AXE))

    log_in(page, "reader_a")
    page.goto("/reading/")
    page.get_by_role("link", name="Start grading").click()
    page.get_by_role("heading", name="Before your first case: about you").wait_for()
    assert accessibility_violations(page) == []

    # Saved without an answer: each missing field says so, nothing is stored.
    page.get_by_role("button", name="Save and start").click()
    page.get_by_role("heading", name="Before your first case: about you").wait_for()
    assert page.get_by_text("This field is required.").count() == 3
    assert not ReaderProfile.objects.exists()
    # The refused form answers 400, which Chromium logs; that one is expected.
    assert page.problems == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    page.problems.clear()

    page.get_by_label("Resident in dermatology").check()
    page.get_by_label("No", exact=True).check()
    page.get_by_label("3 to 10 years").check()
    notes = page.get_by_label("Anything else about your training (optional)")
    label = page.locator("label", has_text="Anything else about your training")
    # Laid out like every form of the site: the label above its box, not squeezed beside it.
    assert notes.bounding_box()["y"] >= label.bounding_box()["y"] + label.bounding_box()["height"]
    notes.fill("Two years abroad")
    page.get_by_role("button", name="Save and start").click()
    case_heading(page, 1, 2).wait_for()

    page.locator("label[for=decision-biopsy]").click()
    page.get_by_label(PERCENT_LABEL).fill("70")
    page.get_by_role("button", name="Submit answer").click()
    case_heading(page, 2, 2).wait_for()
    profile = ReaderProfile.objects.get(enrolment=enrolment)
    assert (profile.position, profile.board_certified, profile.experience, profile.notes) == (
        "resident",
        False,
        "3-10",
        "Two years abroad",
    )
    assert Decision.objects.filter(enrolment=enrolment).count() == 1

    # The next study asks again, prefilled from this one: the reader only confirms.
    second = real_study(1, require_reader_profile=True)
    enrol(second, reader_a, pseudonym="R09")
    page.goto(f"/reading/studies/{second.pk}/")
    page.get_by_text("We filled this in from the last study you read").wait_for()
    assert page.get_by_label("Resident in dermatology").is_checked()
    page.get_by_role("button", name="Confirm and start").click()
    case_heading(page, 1, 1).wait_for()
    assert ReaderProfile.objects.get(enrolment__study=second).experience == "3-10"
