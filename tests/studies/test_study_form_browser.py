"""The study form shows a coordinator only the settings that apply to what they chose (the
washout only for crossover reading, the classes only when a diagnosis is asked, ...), in
Chromium; the settings of a created study leave out the questions its design never asks."""

from __future__ import annotations

import pytest

from readerstudy.studies.forms import StudySettingsForm
from readerstudy.studies.models import Study
from tests.factories import StudyFactory
from tests.support.browser import browser_login

WASHOUT = "Washout between crossover sessions (days)"
FAULTY = "Faulty-AI check: cases with inverted AI output (%)"
SALIENCY = "The aided phase also shows the CNN's Grad-CAM map"
CLASSES = "Diagnosis classes"
GROUPING = "Grouping file (custom classes)"
TASK_FILE = "Task mapping file (custom task)"
MANAGEMENT_QUESTION = "Management question shown to readers"
DIAGNOSIS_QUESTION = "Diagnosis question shown to readers"
CONFIDENCE = "Readers give a confidence with their diagnosis"


def _shown(page, label: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.get_by_label(label, exact=True).is_visible())


@pytest.mark.browser
def test_the_new_study_form_shows_each_setting_only_where_it_applies(
    page, coordinator, artifacts
) -> None:
    browser_login(page, "coordinator")
    page.goto("/studies/new/")
    # A management study read unaided, the defaults.
    assert _shown(page, MANAGEMENT_QUESTION)
    for label in (WASHOUT, FAULTY, SALIENCY, CLASSES, GROUPING, TASK_FILE, DIAGNOSIS_QUESTION):
        assert not _shown(page, label), label
    assert not _shown(page, CONFIDENCE)

    page.get_by_label("Task", exact=True).select_option("custom")
    assert _shown(page, TASK_FILE)
    page.get_by_label("Task", exact=True).select_option("melanoma-vs-nevus")
    assert not _shown(page, TASK_FILE)

    page.get_by_label("What readers answer").select_option("diagnosis")
    assert _shown(page, CLASSES) and _shown(page, DIAGNOSIS_QUESTION) and _shown(page, CONFIDENCE)
    assert not _shown(page, MANAGEMENT_QUESTION)
    assert not _shown(page, GROUPING)
    page.get_by_label(CLASSES).select_option("custom")
    assert _shown(page, GROUPING)
    page.get_by_label(CLASSES).select_option("ham7")
    assert not _shown(page, GROUPING)
    page.get_by_label("What readers answer").select_option("diagnosis_management")
    assert _shown(page, MANAGEMENT_QUESTION) and _shown(page, DIAGNOSIS_QUESTION)

    page.get_by_label("AI-assisted reading").select_option("sequential")
    assert _shown(page, FAULTY) and _shown(page, SALIENCY)
    assert not _shown(page, WASHOUT)
    page.get_by_label("AI-assisted reading").select_option("crossover")
    assert _shown(page, WASHOUT)
    page.get_by_label(WASHOUT).fill("21")
    page.screenshot(path=str(artifacts / "studies-new-crossover-diagnosis.png"), full_page=True)

    page.get_by_label("Name", exact=True).fill("Seven classes, crossover")
    page.get_by_label("Modality").select_option("dermoscopic")
    page.get_by_role("button", name="Create study").click()
    page.get_by_role("heading", name="Seven classes, crossover").wait_for()
    study = Study.objects.get()
    assert (study.design, study.ai_assistance, study.washout_days) == (
        "diagnosis_management",
        "crossover",
        21,
    )

    # The study's own settings: the same rule for the AI's, and its design is fixed.
    settings = page.locator("#settings_form")
    assert settings.get_by_label(WASHOUT).is_visible()
    settings.get_by_label("AI-assisted reading").select_option("none")
    assert not settings.get_by_label(WASHOUT).is_visible()
    assert not settings.get_by_label(FAULTY).is_visible()
    settings.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    study.refresh_from_db()
    assert (study.ai_assistance, study.washout_days) == ("none", 21)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("design", "present", "absent"),
    [
        ("management", {"question"}, {"diagnosis_question", "ask_diagnosis_confidence"}),
        ("diagnosis", {"diagnosis_question", "ask_diagnosis_confidence"}, {"question"}),
        (
            "diagnosis_management",
            {"question", "diagnosis_question", "ask_diagnosis_confidence"},
            set(),
        ),
    ],
)
def test_a_study_s_settings_leave_out_the_questions_its_design_never_asks(
    design: str, present: set[str], absent: set[str]
) -> None:
    study = StudyFactory(design=design)
    fields = set(StudySettingsForm(instance=study).fields)
    assert present <= fields
    assert not absent & fields
    # The form of a study that is not yet created has them all.
    assert present | absent <= set(StudySettingsForm().fields)
