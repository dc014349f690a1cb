"""The worker's scoring policy, called as a service: attempts, splitting, retries, failure.

The network is replaced by a stand-in that reports which images failed to load, and the
messages a worker would send are collected instead of going to the broker.
"""

from __future__ import annotations

import pytest

from readerstudy.scoring import worker
from readerstudy.scoring.inference import ScoredBatch
from readerstudy.scoring.models import CaseScoring, CnnScore
from readerstudy.scoring.services import SCORE_CASES_TASK
from readerstudy.scoring.tasks import score_cases
from readerstudy.scoring.worker import MAX_ATTEMPTS, case_chunk_score
from tests.factories import CaseFactory, StudyFactory


@pytest.fixture
def cases(db) -> list:
    study = StudyFactory()
    return [CaseFactory(study=study) for _ in range(3)]


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    messages: list[dict] = []
    monkeypatch.setattr(
        worker, "score_cases_send", lambda **kwargs: messages.append(kwargs), raising=True
    )
    return messages


@pytest.fixture
def network(monkeypatch) -> dict:
    """A stand-in for the CNN: scores every case except those in ``failing`` (case id ->
    error); ``seen`` lists the case ids it was given."""
    state: dict = {"failing": {}, "seen": []}

    def batches(*, model_version, cases, hostname=None):
        state["seen"].extend(case.pk for case in cases)
        batch = ScoredBatch()
        for case in cases:
            if case.pk in state["failing"]:
                batch.errors[case.pk] = state["failing"][case.pk]
            else:
                batch.scores.append(
                    CnnScore(
                        case=case,
                        model_version=model_version,
                        probability=0.5,
                        fine_probabilities={},
                        device="cpu:fp32",
                        worker_host="test",
                        duration_ms=1.0,
                    )
                )
        yield batch

    monkeypatch.setattr(worker, "score_cases_in_batches", batches)
    return state


def attempts_of(case, model_version) -> CaseScoring:
    return CaseScoring.objects.get(case=case, model_version=model_version)


def test_a_fresh_chunk_is_scored_and_each_case_counts_one_attempt(
    cases, default_model, sent, network
) -> None:
    written = case_chunk_score(model_version=default_model, case_ids=[c.pk for c in cases])
    assert written == 3
    assert sent == []
    assert [attempts_of(c, default_model).attempts for c in cases] == [1, 1, 1]


def test_a_chunk_that_comes_back_after_its_worker_died_is_split_into_one_message_per_case(
    cases, default_model, sent, network
) -> None:
    CaseScoring.objects.create(case=cases[1], model_version=default_model, attempts=1)
    written = case_chunk_score(model_version=default_model, case_ids=[c.pk for c in cases])
    assert written == 0
    assert network["seen"] == []
    assert sent == [{"model_version_id": default_model.pk, "case_ids": [c.pk]} for c in cases]


def test_a_lone_case_that_killed_its_worker_every_attempt_fails_without_being_tried_again(
    cases, default_model, sent, network
) -> None:
    CaseScoring.objects.create(case=cases[0], model_version=default_model, attempts=MAX_ATTEMPTS)
    assert case_chunk_score(model_version=default_model, case_ids=[cases[0].pk]) == 0
    state = attempts_of(cases[0], default_model)
    assert state.status == CaseScoring.Status.FAILED
    assert state.error == f"the worker process died while scoring this image {MAX_ATTEMPTS} times"
    assert network["seen"] == [] and sent == []


def test_an_image_that_fails_to_load_is_sent_again_alone_after_a_back_off(
    cases, default_model, sent, network
) -> None:
    network["failing"] = {cases[2].pk: "OSError: truncated image"}
    written = case_chunk_score(model_version=default_model, case_ids=[c.pk for c in cases])
    assert written == 2
    assert sent == [
        {"model_version_id": default_model.pk, "case_ids": [cases[2].pk], "countdown": 2}
    ]
    state = attempts_of(cases[2], default_model)
    assert (state.status, state.attempts, state.error) == (
        CaseScoring.Status.PENDING,
        1,
        "OSError: truncated image",
    )


def test_an_image_failing_its_last_attempt_is_marked_failed_and_not_sent_again(
    cases, default_model, sent, network
) -> None:
    CaseScoring.objects.create(
        case=cases[0], model_version=default_model, attempts=MAX_ATTEMPTS - 1
    )
    network["failing"] = {cases[0].pk: "OSError: truncated image"}
    assert case_chunk_score(model_version=default_model, case_ids=[cases[0].pk]) == 0
    state = attempts_of(cases[0], default_model)
    assert (state.status, state.attempts) == (CaseScoring.Status.FAILED, MAX_ATTEMPTS)
    assert sent == []


def test_cases_already_scored_or_failed_are_skipped(cases, default_model, sent, network) -> None:
    case_chunk_score(model_version=default_model, case_ids=[cases[0].pk])
    CaseScoring.objects.create(
        case=cases[1], model_version=default_model, status=CaseScoring.Status.FAILED
    )
    network["seen"].clear()
    assert case_chunk_score(model_version=default_model, case_ids=[c.pk for c in cases[:2]]) == 0
    assert network["seen"] == [] and sent == []


def test_the_services_send_the_task_by_the_name_it_is_registered_under() -> None:
    assert score_cases.name == SCORE_CASES_TASK
