"""AI-assisted reading through the reading API: a sequential reader answers each case
unaided (locked), then again with the CNN's output; a crossover reader reads one session,
waits out the washout, and reads the other in a new order; faulty-AI cases show the output
inverted; the CNN's output never reaches an unaided phase."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from readerstudy.accounts.roles import Role
from readerstudy.reading.models import Decision
from readerstudy.reading.phases import crossover_aided_first
from readerstudy.reading.selectors import decision_final_list, reader_study_list
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.models import Case
from readerstudy.studies.services import study_status_set, study_update
from tests.factories import (
    CaseFactory,
    EnrolmentFactory,
    StudyFactory,
    UserFactory,
    cnn_scores_create,
)
from tests.support.reading import next_case, submit
from tests.support.session import logged_in

PROBABILITIES = [0.91, 0.12, 0.37, 0.66]


def _aided_study(**fields):
    study = StudyFactory(status="draft", **fields)
    cases = [CaseFactory(study=study, position=n) for n in range(len(PROBABILITIES))]
    model = model_version_active_get("melanoma-vs-nevus")
    cnn_scores_create(cases, model, PROBABILITIES, [[0.0, 1.0]] * len(cases))
    return study, {case.pk: p for case, p in zip(cases, PROBABILITIES, strict=True)}


def _open(study):
    return study_status_set(study=study, status="open", acknowledged_by=study.created_by)


@pytest.mark.django_db
def test_a_sequential_reader_answers_each_case_unaided_then_with_the_cnn(reader_a, reader_a_client):
    study, cnn = _aided_study(ai_assistance="sequential")
    study = _open(study)
    EnrolmentFactory(study=study, reader=reader_a)
    public = dict(Case.objects.filter(study=study).values_list("public_id", "pk"))
    seen = []
    first = next_case(reader_a_client, study)
    assert first["progress"] == {"done": 0, "total": 8, "finished": False}
    assert first["case_total"] == 4  # cases; progress counts answers, two per case
    item = first
    for step in range(8):
        case = item["case"]
        phase = "unaided" if step % 2 == 0 else "aided"
        assert case["phase"] == phase
        assert case["number"] == step // 2 + 1
        case_pk = public[uuid.UUID(case["id"])]
        if phase == "unaided":
            assert case["ai"] is None and case["unaided_answer"] is None
            assert case["phase_note"].startswith("First answer: on your own")
        else:
            # Beside the CNN, the reader's own locked first answer, in words.
            assert "Reassure" in case["unaided_answer"] and "60" in case["unaided_answer"]
            assert case["phase_note"].startswith("Second answer")
            assert case["id"] == seen[-1][0]  # the same case, now aided
            assert case["ai"]["available"] is True
            assert case["ai"]["probability"] == pytest.approx(cnn[case_pk], abs=1e-3)
            assert case["ai"]["positive_label"] == "Melanoma"
        seen.append((case["id"], phase))
        answered = submit(
            reader_a_client, study, case["token"], "biopsy" if phase == "aided" else "reassure", 60
        )
        assert answered.status_code == 201, answered.content
        assert answered.json()["decision"]["phase"] == phase
        item = answered.json()["next"]
        if phase == "unaided":
            # The unaided answer is locked: its token only replays what was stored.
            replay = submit(reader_a_client, study, case["token"], "biopsy", 99)
            assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert item["finished"] is True and item["progress"]["done"] == 8
    stored = Decision.objects.filter(enrolment__study=study)
    assert stored.count() == 8
    assert set(stored.values_list("phase", "decision", "confidence")) == {
        ("unaided", "reassure", 60),
        ("aided", "biopsy", 60),
    }
    # The readers-vs-CNN analyses read the unaided answers.
    assert {row["phase"] for row in decision_final_list(study)} == {"unaided"}
    assert {row["phase"] for row in decision_final_list(study, phase="aided")} == {"aided"}


@pytest.mark.django_db
def test_the_cnn_output_never_reaches_an_unaided_phase(reader_a, reader_a_client):
    study, cnn = _aided_study(ai_assistance="sequential")
    study = _open(study)
    EnrolmentFactory(study=study, reader=reader_a)
    unaided_bodies = []
    item = next_case(reader_a_client, study)
    unaided_bodies.append(json.dumps(item))
    while not item["finished"]:
        response = submit(reader_a_client, study, item["case"]["token"], "biopsy", 50)
        item = response.json()["next"]
        if item["case"] and item["case"]["phase"] == "unaided":
            unaided_bodies.append(json.dumps(item))
    for body in unaided_bodies:
        assert '"ai": null' in body
        for p in cnn.values():
            # As a number of its own: a timestamp's "20:48:10.12..." holds "0.12" too.
            assert not re.search(rf"(?<![\d.]){re.escape(str(p))}(?!\d)", body), (p, body)


@pytest.mark.django_db
def test_faulty_ai_cases_are_chosen_once_at_opening_and_shown_inverted(reader_a, reader_a_client):
    study, cnn = _aided_study(
        ai_assistance="sequential", faulty_ai_percent=50, consent_text="(to be written)"
    )
    study.consent_text = ""
    study.save()
    with pytest.raises(ValidationError, match="consent text"):
        study_update(study=study, washout_days=28)
    study_update(study=study, consent_text="Some AI outputs shown to you are deliberately wrong.")
    study = _open(study)
    inverted = set(
        Case.objects.filter(study=study, ai_output_inverted=True).values_list("pk", flat=True)
    )
    assert len(inverted) == 2
    EnrolmentFactory(study=study, reader=reader_a)
    # The disclosure is agreed to before the first case.
    assert reader_a_client.post(f"/api/v1/reading/studies/{study.pk}/consent/").status_code == 200
    public = dict(Case.objects.filter(study=study).values_list("public_id", "pk"))
    item = next_case(reader_a_client, study)
    shown = {}
    while not item["finished"]:
        case = item["case"]
        if case["phase"] == "aided":
            shown[public[uuid.UUID(case["id"])]] = case["ai"]["probability"]
        item = submit(reader_a_client, study, case["token"], "biopsy", 50).json()["next"]
    for pk, probability in shown.items():
        expected = 1 - cnn[pk] if pk in inverted else cnn[pk]
        assert probability == pytest.approx(expected, abs=1e-3)
    # Nothing in what the reader got says which cases were inverted.
    assert "inverted" not in json.dumps(item)


@pytest.mark.django_db
def test_ai_assisted_studies_keep_answers_final_and_faulty_ai_needs_aid():
    study, _ = _aided_study()
    with pytest.raises(ValidationError, match="readers may not change answers"):
        study_update(study=study, ai_assistance="sequential", allow_answer_changes=True)
    with pytest.raises(ValidationError, match="needs AI-assisted reading"):
        study_update(study=study, faulty_ai_percent=10, consent_text="x")


@pytest.mark.django_db
def test_crossover_arms_are_balanced_and_the_second_session_waits_for_the_washout():
    study, _ = _aided_study(ai_assistance="crossover", washout_days=28)
    study = _open(study)
    readers = [UserFactory(roles=[Role.READER]) for _ in range(6)]
    enrolments = [
        EnrolmentFactory(study=study, reader=user, pseudonym=f"R{n:02d}")
        for n, user in enumerate(readers, start=1)
    ]
    arms = [crossover_aided_first(e) for e in enrolments]
    assert sum(arms) == 3 and all(arms[i] != arms[i + 1] for i in (0, 2, 4))

    client = logged_in(readers[0])
    first_phase = "aided" if arms[0] else "unaided"
    second_phase = "unaided" if arms[0] else "aided"
    item = next_case(client, study)
    first_order = []
    for _ in range(4):
        assert item["case"]["phase"] == first_phase
        first_order.append(item["case"]["id"])
        item = submit(client, study, item["case"]["token"], "biopsy", 40).json()["next"]
    assert item["finished"] is False and item["case"] is None
    opens = timezone.datetime.fromisoformat(item["waiting_until"])
    last = Decision.objects.filter(enrolment=enrolments[0]).latest("submitted_at").submitted_at
    assert opens == last + timedelta(days=28)
    # The home page names the same moment as the grading flow.
    (line,) = reader_study_list(user=readers[0])
    assert line.opens_at == opens
    home = client.get("/reading/").content.decode()
    assert "Your second session opens on" in home
    assert (
        "Your second session opens on"
        in client.get(f"/reading/studies/{study.pk}/").content.decode()
    )

    # The other arm waits from the last answer of its own first phase, on both pages.
    other = logged_in(readers[1])
    item = next_case(other, study)
    for _ in range(4):
        assert item["case"]["phase"] == second_phase
        item = submit(other, study, item["case"]["token"], "biopsy", 40).json()["next"]
    last = Decision.objects.filter(enrolment=enrolments[1]).latest("submitted_at").submitted_at
    assert timezone.datetime.fromisoformat(item["waiting_until"]) == last + timedelta(days=28)
    (line,) = reader_study_list(user=readers[1])
    assert line.opens_at == last + timedelta(days=28)

    # Time travel: the first session ended 29 days ago.
    Decision.objects.filter(enrolment=enrolments[0]).update(
        submitted_at=timezone.now() - timedelta(days=29)
    )
    item = next_case(client, study)
    second_order = []
    while not item["finished"]:
        assert item["case"]["phase"] == second_phase
        second_order.append(item["case"]["id"])
        item = submit(client, study, item["case"]["token"], "reassure", 20).json()["next"]
    assert sorted(second_order) == sorted(first_order) and len(second_order) == 4
    assert item["progress"] == {"done": 8, "total": 8, "finished": True}


@pytest.mark.django_db
def test_a_finished_aided_readers_feedback_gives_both_answers_and_the_inverted_cases(
    reader_a, reader_a_client
):
    """Each case was answered twice: the feedback shows both answers, judged each, counts 4
    cases (not 8 answers) and marks the cases whose output was shown inverted."""
    study, _ = _aided_study(
        ai_assistance="sequential",
        show_feedback=True,
        faulty_ai_percent=50,
        consent_text="Some AI outputs shown to you are deliberately wrong.",
    )
    study = _open(study)
    EnrolmentFactory(study=study, reader=reader_a)
    assert reader_a_client.post(f"/api/v1/reading/studies/{study.pk}/consent/").status_code == 200
    item = next_case(reader_a_client, study)
    while not item["finished"]:
        unaided = item["case"]["phase"] == "unaided"
        decision = "biopsy" if unaided else "reassure"
        response = submit(reader_a_client, study, item["case"]["token"], decision, 50)
        item = response.json()["next"]
    page = reader_a_client.get(f"/reading/studies/{study.pk}/finished/").content.decode()
    assert "you have answered all 4 cases, each on your own and with the CNN" in page
    assert "On your own: Of " in page and "With the CNN: Of " in page
    cases = {c.public_id: c for c in Case.objects.filter(study=study)}
    malignant = sum(c.truth for c in cases.values())
    assert f"With the CNN: Of {malignant} malignant lesions you would have biopsied 0;" in page
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    assert len(rows) == 4
    for row in rows:
        public_id = uuid.UUID(re.search(r"/reading/images/([0-9a-f-]{36})/", row).group(1))
        case = cases[public_id]
        assert "Biopsy / further testing, confidence 50%" in row
        assert "Reassure, confidence 50%" in row
        assert "On your own:" in row and "With the CNN:" in row
        assert ("shown to you inverted" in row) == case.ai_output_inverted
    inverted = sum(c.ai_output_inverted for c in cases.values())
    assert inverted == 2
    assert f"On {inverted} cases, marked below, the CNN's output shown to you" in unescape(page)
