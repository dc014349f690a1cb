"""The feedback page states what is true of the study's diagnoses, from how each case's
diagnosis was confirmed (the manifest's dx_type, diagnosis_confirm_type or confirmation)."""

from __future__ import annotations

import pytest

from readerstudy.reading.presenters import confirmation_sentence
from readerstudy.studies.confirmations import confirmation_name
from tests.support.reading import enrol, next_case, submit
from tests.support.realcases import real_cases_add, real_study, sample_originals

pytestmark = pytest.mark.django_db

ALL_HISTOPATHOLOGY = "Every diagnosis below was confirmed by histopathology."


def feedback_page(client, study) -> str:
    while not (served := next_case(client, study))["finished"]:
        response = submit(client, study, served["case"]["token"], "biopsy", 70)
        assert response.status_code == 201, response.content
    page = client.get(f"/reading/studies/{study.pk}/finished/")
    assert page.status_code == 200
    return page.content.decode()


def test_a_study_of_biopsy_proven_cases_says_every_diagnosis_was_confirmed_by_histopathology(
    reader_a, reader_a_client
):
    study = real_study(3, show_feedback=True)
    enrol(study, reader_a)
    assert ALL_HISTOPATHOLOGY in feedback_page(reader_a_client, study)


def test_a_study_with_diagnoses_confirmed_otherwise_counts_each_method(reader_a, reader_a_client):
    study = real_study(2, show_feedback=True, require_biopsy_proven=False)
    real_cases_add(study, sample_originals(2, dx_type="follow_up"))
    real_cases_add(study, sample_originals(1, dx_type="consensus"))
    enrol(study, reader_a)
    page = feedback_page(reader_a_client, study)
    assert ALL_HISTOPATHOLOGY not in page
    assert (
        "How the 5 diagnoses below were confirmed: follow-up 2, histopathology 2, "
        "expert consensus 1." in page
    )


def test_cases_without_a_recorded_confirmation_are_counted_as_not_recorded(
    reader_a, reader_a_client
):
    study = real_study(1, show_feedback=True, require_biopsy_proven=False)
    real_cases_add(study, sample_originals(2, dx_type="follow_up"))
    study.cases.filter(confirmation="follow_up").update(confirmation="")
    enrol(study, reader_a)
    assert (
        "How the 3 diagnoses below were confirmed: histopathology 1, not recorded 2."
        in feedback_page(reader_a_client, study)
    )


def test_the_sentence_names_the_one_method_or_counts_several():
    assert confirmation_sentence([("follow-up", 4)]) == (
        "Every diagnosis below was confirmed by follow-up."
    )
    assert confirmation_sentence([("", 4)]) == (
        "How the diagnoses below were confirmed was not recorded."
    )
    assert confirmation_sentence([("histopathology", 3), ("", 1)]) == (
        "How the 4 diagnoses below were confirmed: histopathology 3, not recorded 1."
    )


def test_each_manifest_format_s_confirmation_reads_as_its_method():
    assert confirmation_name("histo", biopsy_proven=True) == "histopathology"
    assert confirmation_name("", biopsy_proven=True) == "histopathology"  # generic, biopsy_proven
    assert confirmation_name("follow_up", biopsy_proven=False) == "follow-up"
    assert confirmation_name("confocal", biopsy_proven=False) == "confocal microscopy"
    isic = "serial imaging showing no change"
    assert confirmation_name(isic, biopsy_proven=False) == isic
    assert confirmation_name("", biopsy_proven=False) == ""
