"""Submitting: one decision per served token whatever the client repeats, validation on the
study's scale, timing, and revisions only where the study allows changes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from readerstudy.core import rows
from readerstudy.reading.models import Decision, ServedCase
from readerstudy.reading.selectors import decision_final_list
from tests.support.env import require
from tests.support.reading import enrol, next_case, submit, synthetic_study
from tests.support.sql import round_trips, statement_texts


@pytest.mark.django_db
def test_a_replayed_submit_stores_one_decision_and_answers_like_the_first(
    reader_a, reader_a_client
):
    study = synthetic_study(3)
    enrol(study, reader_a)
    token = next_case(reader_a_client, study)["case"]["token"]
    first = submit(reader_a_client, study, token, "biopsy", 80, active_ms=1500)
    again = submit(reader_a_client, study, token, "biopsy", 80, active_ms=1600)
    changed_mind = submit(reader_a_client, study, token, "reassure", 10)
    assert first.status_code == 201 and first.json()["replayed"] is False
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["decision"] == first.json()["decision"]
    assert changed_mind.json()["decision"]["decision"] == "biopsy"
    assert again.json()["next"]["case"]["id"] == first.json()["next"]["case"]["id"]
    assert Decision.objects.count() == 1


@pytest.mark.django_db
def test_reloading_serves_the_same_open_token_so_two_tabs_cannot_answer_twice(
    reader_a, reader_a_client
):
    study = synthetic_study(3)
    enrol(study, reader_a)
    tab_one = next_case(reader_a_client, study)["case"]
    tab_two = next_case(reader_a_client, study)["case"]
    assert tab_one["token"] == tab_two["token"]
    page = reader_a_client.get(f"/reading/studies/{study.pk}/")
    assert tab_one["token"] in page.content.decode()
    assert ServedCase.objects.count() == 1


@pytest.mark.django_db
def test_first_answers_are_final_when_the_study_does_not_allow_changes(reader_a, reader_a_client):
    study = synthetic_study(2, allow_answer_changes=False)
    enrolment = enrol(study, reader_a)
    served = next_case(reader_a_client, study)
    submit(reader_a_client, study, served["case"]["token"], "reassure", 20)
    # A second token for the same case (e.g. served to a second tab at the same instant).
    case = study.cases.get(public_id=served["case"]["id"])
    extra = ServedCase.objects.create(
        enrolment=enrolment, case=case, token="second-tab-token", served_at=timezone.now()
    )
    response = submit(reader_a_client, study, extra.token, "biopsy", 90)
    assert response.status_code == 200 and response.json()["replayed"] is True
    assert response.json()["decision"]["decision"] == "reassure"
    assert Decision.objects.count() == 1
    back = reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/previous/")
    assert back.status_code == 404
    assert reader_a_client.get(f"/reading/studies/{study.pk}/back/").status_code == 404


@pytest.mark.django_db
def test_changes_keep_every_revision_and_analyses_use_the_last(reader_a, reader_a_client):
    study = synthetic_study(3, allow_answer_changes=True)
    enrol(study, reader_a)
    first = next_case(reader_a_client, study)
    assert first["can_go_back"] is False
    answered = submit(reader_a_client, study, first["case"]["token"], "reassure", 30).json()
    back = reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/previous/").json()
    assert back["case"]["id"] == first["case"]["id"]
    assert back["case"]["token"] != first["case"]["token"]
    assert back["case"]["current_answer"] == {
        "decision": "reassure",
        "confidence": 30,
        "diagnosis_class": None,
        "diagnosis_confidence": None,
        "revision": 1,
        "text": "Reassure, confidence 30%",
    }
    changed = submit(reader_a_client, study, back["case"]["token"], "biopsy", 75)
    assert changed.status_code == 201
    assert changed.json()["decision"]["revision"] == 2
    # The change does not count as a new case, and the reader continues where they were.
    assert changed.json()["next"]["progress"]["done"] == 1
    # ... with the token the next case was served with before going back: still unanswered.
    assert changed.json()["next"]["case"]["token"] == answered["next"]["case"]["token"]
    revisions = Decision.objects.filter(case__public_id=first["case"]["id"]).order_by("revision")
    assert [(d.revision, d.decision) for d in revisions] == [(1, "reassure"), (2, "biopsy")]
    (final,) = decision_final_list(study)
    assert final["biopsy"] is True and final["confidence"] == 75 and final["revision"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scale, bad, good", [("1-5", [0, 6, "3.5", True], 5), ("0-100", [-1, 101, "x"], 100)]
)
def test_confidence_must_be_on_the_study_scale(reader_a, reader_a_client, scale, bad, good):
    study = synthetic_study(1, confidence_scale=scale)
    enrol(study, reader_a)
    token = next_case(reader_a_client, study)["case"]["token"]
    for value in bad:
        response = submit(reader_a_client, study, token, "biopsy", value)
        assert response.status_code == 400, value
    assert submit(reader_a_client, study, token, "maybe", good).status_code == 400
    assert Decision.objects.count() == 0
    assert submit(reader_a_client, study, token, "biopsy", good).status_code == 201


@pytest.mark.django_db
def test_server_records_serving_and_submit_times_and_caps_the_posted_active_time(
    reader_a, reader_a_client
):
    study = synthetic_study(2)
    enrol(study, reader_a)
    token = next_case(reader_a_client, study)["case"]["token"]
    ServedCase.objects.filter(token=token).update(served_at=timezone.now() - timedelta(seconds=30))
    submit(reader_a_client, study, token, "biopsy", 60, active_ms=12_345)
    decision = Decision.objects.get()
    assert decision.active_ms == 12_345
    assert (
        timedelta(seconds=29) < decision.submitted_at - decision.served_at < timedelta(seconds=60)
    )
    second = next_case(reader_a_client, study)["case"]["token"]
    submit(reader_a_client, study, second, "reassure", 10, active_ms=10**8)
    capped = Decision.objects.get(served__token=second)
    assert capped.active_ms <= (capped.submitted_at - capped.served_at).total_seconds() * 1000 + 1


@pytest.mark.django_db
def test_the_page_form_works_without_javascript(reader_a, reader_a_client):
    study = synthetic_study(2)
    enrol(study, reader_a)
    token = next_case(reader_a_client, study)["case"]["token"]
    ServedCase.objects.filter(token=token).update(served_at=timezone.now() - timedelta(seconds=5))
    response = reader_a_client.post(
        f"/reading/studies/{study.pk}/",
        {"token": token, "decision": "reassure", "confidence": "15", "active_ms": "900"},
    )
    assert response.status_code == 302 and response["Location"] == f"/reading/studies/{study.pk}/"
    again = reader_a_client.post(
        f"/reading/studies/{study.pk}/", {"token": token, "decision": "biopsy", "confidence": "99"}
    )
    assert again.status_code == 302
    assert list(Decision.objects.values_list("decision", "confidence", "active_ms")) == [
        ("reassure", 15, 900)
    ]


def _race(study_pk: int, user, token: str, copies: int) -> list[int]:
    barrier = threading.Barrier(copies)
    codes: list[int] = []

    def one_submit() -> None:
        client = Client()
        client.force_login(user)
        barrier.wait()
        response = client.post(
            f"/api/v1/reading/studies/{study_pk}/decisions/",
            {"token": token, "decision": "biopsy", "confidence": 55},
            content_type="application/json",
        )
        codes.append(response.status_code)
        connections.close_all()

    threads = [threading.Thread(target=one_submit) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("allow_changes", [False, True])
def test_concurrent_identical_submits_store_exactly_one_row(reader_a, allow_changes):
    require(connection.vendor == "postgresql", "concurrent writers need PostgreSQL")
    study = synthetic_study(3, allow_answer_changes=allow_changes)
    enrol(study, reader_a)
    client = Client()
    client.force_login(reader_a)
    for _round in range(3):
        token = next_case(client, study)["case"]["token"]
        codes = _race(study.pk, reader_a, token, copies=8)
        assert sorted(codes) == [200] * 7 + [201]
        assert Decision.objects.filter(served__token=token).count() == 1
    assert Decision.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_submit_and_the_next_case_take_at_most_four_round_trips(reader_a):
    """The hot path of grading (bench/grading.py prints the same count, and measures the
    time): the user with their roles, the enrolment, one read of the serving with the reader's
    order and answers, and one statement that stores the decision and serves the next case.
    BEGIN and COMMIT count, being round trips too; the session and the roles are read from
    Redis where Redis runs (one more query from the database elsewhere). These statements are
    prepared once per database connection (core/rows.py): a PREPARE is a round trip of the
    connection's first submit only."""
    require(connection.vendor == "postgresql", "the two-statement submit is PostgreSQL's")
    study = synthetic_study(3)
    enrol(study, reader_a)
    client = Client()
    client.force_login(reader_a)
    token = next_case(client, study)["case"]["token"]
    with CaptureQueriesContext(connection) as queries:
        response = submit(client, study, token, "biopsy", 60)
    assert response.status_code == 201
    sql = [query["sql"].split()[0].upper() for query in queries]
    assert "SAVEPOINT" not in sql, sql
    in_database = settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert round_trips(queries) <= 4 + in_database, [query["sql"][:80] for query in queries]
    # The enrolment, the serving's read and the storing statement run prepared (and the user
    # too where the roles come from Redis).
    assert sql.count("EXECUTE") >= 3, sql
    if not in_database:
        # The roles come from Redis with the session (the login cached them): the user's
        # query reads the user's row alone.
        texts = statement_texts(queries)
        assert not any('"auth_group"' in sql for sql in texts), texts
        assert any('FROM "auth_user"' in sql for sql in texts), texts
    # What the submit served is what the reader is served next by the general path.
    served = response.json()["next"]
    assert next_case(client, study) == served
    assert served["progress"] == {"done": 1, "total": 3, "finished": False}
    assert served["upcoming_image_url"] is not None
    # A replay after the real transaction was refused: the stored decision and the same next case.
    again = submit(client, study, token, "reassure", 10)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["next"]["case"]["id"] == response.json()["next"]["case"]["id"]
    assert Decision.objects.get().decision == "biopsy"
    # The last case: the decision alone, and the reader has finished.
    # The connection's second submit runs every statement by name: four round trips at most.
    with CaptureQueriesContext(connection) as queries:
        second = submit(client, study, served["case"]["token"], "reassure", 5)
    assert second.status_code == 201
    assert len(queries) <= 4 + in_database, [query["sql"][:80] for query in queries]
    assert "PREPARE" not in [query["sql"].split()[0].upper() for query in queries]
    last = second.json()["next"]
    with CaptureQueriesContext(connection) as queries:
        finished = submit(client, study, last["case"]["token"], "biopsy", 90)
    assert finished.status_code == 201 and finished.json()["next"]["finished"] is True
    assert round_trips(queries) <= 4 + in_database
    assert Decision.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_grading_goes_on_when_the_connection_loses_its_prepared_statements(reader_a, monkeypatch):
    """Behind a pooler in transaction mode (READERSTUDY_PREPARED_STATEMENTS left on by
    mistake) the next transaction runs on a server connection without the hot path's
    statements: the submit still stores its decision once and serves the next case, and the
    process runs its SQL unprepared from then on (core/rows.py)."""
    require(connection.vendor == "postgresql", "prepared statements are PostgreSQL's")
    monkeypatch.setattr(rows, "_unprepared", False)
    study = synthetic_study(3)
    enrol(study, reader_a)
    client = Client()
    client.force_login(reader_a)
    first = submit(client, study, next_case(client, study)["case"]["token"], "biopsy", 60)
    assert first.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with CaptureQueriesContext(connection) as queries:
        second = submit(client, study, first.json()["next"]["case"]["token"], "reassure", 20)
    assert second.status_code == 201, second.content
    sql = [query["sql"].split()[0].upper() for query in queries]
    assert sql.count("EXECUTE") == 1, sql  # the one refused; everything after runs plain
    assert rows._unprepared is True
    served = second.json()["next"]
    assert next_case(client, study) == served
    assert served["progress"] == {"done": 2, "total": 3, "finished": False}
    assert list(Decision.objects.order_by("id").values_list("decision", flat=True)) == [
        "biopsy",
        "reassure",
    ]
