"""The read interface that analysis and export use, and the feedback page built on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from readerstudy.reading.columns import DECISION_EXPORT_COLUMNS
from readerstudy.reading.models import Decision
from readerstudy.reading.selectors import (
    decision_final_list,
    decision_iter,
    reader_progress_get,
    reader_progress_list,
)
from readerstudy.reading.services import (
    SimulatedAnswer,
    decision_record_simulated,
    decision_submit,
    next_case_serve,
    previous_case_serve,
)
from readerstudy.scoring.selectors import model_version_active_get
from tests.factories import UserFactory, cnn_scores_create
from tests.support.env import REPO_ROOT
from tests.support.reading import enrol, next_case, submit, synthetic_study


def answer_all(enrolment, *, decision="biopsy", confidence=60) -> None:
    while not (serving := next_case_serve(enrolment=enrolment)).finished:
        decision_submit(
            enrolment=enrolment,
            token=serving.served.token,
            decision=decision,
            confidence=confidence,
        )


@pytest.mark.django_db
def test_final_decisions_give_one_row_per_reader_and_case_with_the_last_revision(
    reader_a, reader_b
):
    study = synthetic_study(3, allow_answer_changes=True)
    first = enrol(study, reader_a, pseudonym="R01")
    second = enrol(study, reader_b, pseudonym="R02")
    answer_all(first, decision="reassure", confidence=20)
    answer_all(second)
    back = previous_case_serve(enrolment=first, before=None)
    decision_submit(enrolment=first, token=back.served.token, decision="biopsy", confidence=90)
    rows = list(decision_final_list(study))
    assert len(rows) == 6 and Decision.objects.count() == 7
    changed = [row for row in rows if row["case_id"] == back.case.pk and row["pseudonym"] == "R01"]
    assert changed == [
        {
            **changed[0],
            "biopsy": True,
            "confidence": 90,
            "revision": 2,
            "simulated": False,
            "enrolment_id": first.pk,
        }
    ]
    assert {row["pseudonym"] for row in rows} == {"R01", "R02"}
    assert set(rows[0]) >= {"served_at", "submitted_at", "active_ms", "case_id"}


@pytest.mark.django_db
def test_progress_counts_cases_not_revisions(reader_a, reader_b):
    study = synthetic_study(4, allow_answer_changes=True)
    first = enrol(study, reader_a, pseudonym="R01")
    enrol(study, reader_b, pseudonym="R02")
    serving = next_case_serve(enrolment=first)
    decision_submit(enrolment=first, token=serving.served.token, decision="biopsy", confidence=1)
    back = previous_case_serve(enrolment=first, before=None)
    decision_submit(enrolment=first, token=back.served.token, decision="reassure", confidence=2)
    assert reader_progress_get(first) == (1, 4)
    progress = reader_progress_list(study)
    assert [(p.pseudonym, p.done, p.total, p.finished) for p in progress] == [
        ("R01", 1, 4, False),
        ("R02", 0, 4, False),
    ]
    assert progress[0].last_submitted_at is not None and progress[1].last_submitted_at is None


@pytest.mark.django_db
def test_a_simulated_panel_is_stored_in_the_same_decision_table():
    study = synthetic_study(5)
    robot = enrol(study, UserFactory(username="sim01"), pseudonym="S01", simulated=True)
    answers = [
        SimulatedAnswer(case_id=case.pk, biopsy=case.truth, confidence=80 if case.truth else 10)
        for case in study.cases.all()
    ]
    assert decision_record_simulated(enrolment=robot, answers=answers) == 5
    rows = list(decision_final_list(study))
    assert len(rows) == 5 and all(row["simulated"] for row in rows)
    assert reader_progress_get(robot) == (5, 5)
    person = enrol(study, UserFactory(username="person"), pseudonym="R01")
    with pytest.raises(ValueError, match="simulated"):
        decision_record_simulated(enrolment=person, answers=answers)
    with pytest.raises(ValueError, match="Give a confidence from 0 to 100"):
        decision_record_simulated(
            enrolment=robot, answers=[SimulatedAnswer(answers[0].case_id, True, 101)]
        )
    # A study read unaided takes no aided answer; an AI-assisted one stores both phases.
    aided = [SimulatedAnswer(answers[0].case_id, True, 90, phase="aided")]
    with pytest.raises(ValueError, match="aided answer in a study read unaided"):
        decision_record_simulated(enrolment=robot, answers=aided)
    study.ai_assistance = "sequential"
    study.save(update_fields=["ai_assistance"])
    assert decision_record_simulated(enrolment=robot, answers=aided) == 1
    stored = Decision.objects.get(enrolment=robot, phase="aided")
    assert (stored.served.phase, stored.confidence) == ("aided", 90)
    assert [row["confidence"] for row in decision_final_list(study, phase="aided")] == [90]
    assert len(decision_final_list(study)) == 5


@pytest.mark.django_db
def test_decisions_iter_streams_every_revision_in_export_column_order(reader_a):
    study = synthetic_study(3)
    enrolment = enrol(study, reader_a, pseudonym="R07")
    answer_all(enrolment)
    rows = list(decision_iter(study, chunk_size=2))
    assert len(rows) == 3
    record = dict(zip(DECISION_EXPORT_COLUMNS, rows[0], strict=True))
    assert record["pseudonym"] == "R07" and record["decision"] == "biopsy"
    assert record["revision"] == 1 and record["simulated"] is False


@pytest.mark.django_db
def test_feedback_appears_only_after_the_last_case_and_only_when_enabled(reader_a, reader_a_client):
    study = synthetic_study(3, show_feedback=True)
    enrol(study, reader_a)
    finished_url = f"/reading/studies/{study.pk}/finished/"
    served = next_case(reader_a_client, study)
    submit(reader_a_client, study, served["case"]["token"], "biopsy", 90)
    early = reader_a_client.get(finished_url)
    assert early.status_code == 302 and early["Location"] == f"/reading/studies/{study.pk}/"
    while not (served := next_case(reader_a_client, study))["finished"]:
        submit(reader_a_client, study, served["case"]["token"], "reassure", 10)
    case = study.cases.first()
    cnn_scores_create([case], model_version_active_get(study.task), [0.87], [[0.0]])
    page = reader_a_client.get(finished_url).content.decode()
    assert "Feedback: your answers and the truth" in page
    for label in study.cases.values_list("diagnosis_label", flat=True):
        assert label in page
    assert "CNN probability of malignancy" in page and "0.87" in page
    assert page.count("feedback-thumb") == 3

    study.show_feedback = False
    study.save()
    quiet = reader_a_client.get(finished_url).content.decode()
    assert "Thank you" in quiet and "Feedback" not in quiet and "diagnosis" not in quiet.lower()


@pytest.mark.django_db
def test_feedback_shows_no_cnn_column_while_there_are_no_scores(reader_a, reader_a_client):
    study = synthetic_study(1, show_feedback=True)
    enrol(study, reader_a)
    submit(reader_a_client, study, next_case(reader_a_client, study)["case"]["token"])
    page = reader_a_client.get(f"/reading/studies/{study.pk}/finished/").content.decode()
    assert "Feedback" in page and "CNN" not in page


def test_the_api_schema_documents_the_reading_routes_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        cwd=REPO_ROOT,
        env={"DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for route in ("next", "previous", "decisions", "progress"):
        assert f"/api/v1/reading/studies/{{study_id}}/{route}/" in result.stdout
