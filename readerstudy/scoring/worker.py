"""The worker's side of scoring: what ``score_cases`` does with a chunk of cases.

The policy, in one place: a case gets MAX_ATTEMPTS attempts. An attempt is counted before any
image is touched, so an image that kills the worker process uses up its attempts too. A chunk
that comes back with cases already attempted (its worker died mid-way) is split into one
message per case, so such an image uses up only its own attempts; an image that fails to load
is sent again alone after 2, 4, ... seconds; after the last attempt the case is FAILED (a
coordinator may retry it after replacing the image) and the others are scored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F

from readerstudy.scoring.inference import score_cases_in_batches
from readerstudy.scoring.models import CaseScoring, CnnScore, ModelVersion
from readerstudy.scoring.services import cnn_classes_fill, score_cases_send
from readerstudy.studies.models import Case

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class ChunkPlan:
    """What a worker does with the chunk it received: score ``score`` now, or send each case
    of ``split`` alone, or mark the cases of ``fail`` FAILED (case id -> error)."""

    score: list[int] = field(default_factory=list)
    split: list[int] = field(default_factory=list)
    fail: dict[int, str] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)


def chunk_plan_get(*, model_version: ModelVersion, case_ids: Sequence[int]) -> ChunkPlan:
    """Decide what to do with a chunk: cases already scored or FAILED are skipped (a repeat
    is harmless); a chunk whose cases were attempted before is split; a lone case that has
    used up its attempts fails."""
    done = set(
        CnnScore.objects.filter(model_version=model_version, case_id__in=case_ids).values_list(
            "case_id", flat=True
        )
    )
    states = {
        row.case_id: row
        for row in CaseScoring.objects.filter(model_version=model_version, case_id__in=case_ids)
    }
    todo = [
        pk
        for pk in case_ids
        if pk not in done and not (pk in states and states[pk].status == CaseScoring.Status.FAILED)
    ]
    attempts = {pk: states[pk].attempts if pk in states else 0 for pk in todo}
    tried = [pk for pk in todo if attempts[pk] > 0]
    if len(todo) > 1 and tried:
        return ChunkPlan(split=todo, attempts=attempts)
    if len(todo) == 1 and tried and attempts[todo[0]] >= MAX_ATTEMPTS:
        state = states[todo[0]]
        error = state.error or (
            f"the worker process died while scoring this image {state.attempts} times"
        )
        return ChunkPlan(fail={todo[0]: error}, attempts=attempts)
    return ChunkPlan(score=todo, attempts=attempts)


def case_chunk_score(
    *, model_version: ModelVersion, case_ids: Sequence[int], hostname: str | None = None
) -> int:
    """Score a chunk of cases with ``model_version`` under the policy above; returns the
    scores written. Safe to run twice: a stored score is never written again."""
    began = time.perf_counter()
    plan = chunk_plan_get(model_version=model_version, case_ids=case_ids)
    if plan.split:
        log.warning("chunk of %d cases came back after a failure: splitting it", len(plan.split))
        for pk in plan.split:
            score_cases_send(model_version_id=model_version.pk, case_ids=[pk])
        return 0
    for case_id, error in plan.fail.items():
        case_scoring_fail(model_version=model_version, case_id=case_id, error=error)
    if not plan.score:
        return 0

    case_attempts_begin(model_version=model_version, case_ids=plan.score)
    cases = list(
        Case.objects.filter(pk__in=plan.score).select_related("study").order_by("position")
    )
    written = 0
    # Where the chunk's time went, logged for operators and read by bench/scoring.py.
    database_s = time.perf_counter() - began
    waited_s = forward_s = 0.0
    for batch in score_cases_in_batches(
        model_version=model_version, cases=cases, hostname=hostname
    ):
        waited_s, forward_s = waited_s + batch.waited_s, forward_s + batch.forward_s
        storing = time.perf_counter()
        written += scores_store(batch.scores)
        database_s += time.perf_counter() - storing
        for case_id, error in batch.errors.items():
            case_attempt_failed(
                model_version=model_version,
                case_id=case_id,
                error=error,
                attempt=plan.attempts.get(case_id, 0) + 1,
            )
    log.info(
        "scored %d cases in %.3f s: forward %.3f s, waiting for decoded images %.3f s, "
        "database %.3f s",
        written, time.perf_counter() - began, forward_s, waited_s, database_s,
    )  # fmt: skip
    return written


def case_attempt_failed(
    *, model_version: ModelVersion, case_id: int, error: str, attempt: int
) -> None:
    """After a failed attempt: the case is FAILED at the last attempt, else sent again alone
    after 2**attempt seconds."""
    log.warning("case %s failed attempt %d: %s", case_id, attempt, error)
    if attempt >= MAX_ATTEMPTS:
        case_scoring_fail(model_version=model_version, case_id=case_id, error=error)
        return
    case_scoring_note_error(model_version=model_version, case_id=case_id, error=error)
    score_cases_send(model_version_id=model_version.pk, case_ids=[case_id], countdown=2**attempt)


def case_attempts_begin(*, model_version: ModelVersion, case_ids: Sequence[int]) -> None:
    """Count an attempt for each case before any image is touched, in its own commit, so
    that an image that kills the worker process still uses up its attempts."""
    CaseScoring.objects.bulk_create(
        [CaseScoring(case_id=pk, model_version=model_version) for pk in case_ids],
        ignore_conflicts=True,
    )
    CaseScoring.objects.filter(model_version=model_version, case_id__in=case_ids).update(
        attempts=F("attempts") + 1
    )


def case_scoring_fail(*, model_version: ModelVersion, case_id: int, error: str) -> None:
    CaseScoring.objects.filter(model_version=model_version, case_id=case_id).update(
        status=CaseScoring.Status.FAILED, error=error[:4000]
    )


def case_scoring_note_error(*, model_version: ModelVersion, case_id: int, error: str) -> None:
    CaseScoring.objects.filter(model_version=model_version, case_id=case_id).update(
        error=error[:4000]
    )


def scores_store(scores: Sequence[CnnScore]) -> int:
    """Write a batch of scores, each with the CNN's class answer where its study asks a
    diagnosis; one already stored (a redelivered task) is skipped, and so is one whose case
    was deleted meanwhile (a draft study deleted or an import undone)."""
    cnn_classes_fill(scores)
    for _ in range(3):
        existing = set(
            Case.objects.filter(pk__in=[s.case_id for s in scores]).values_list("pk", flat=True)
        )
        scores = [s for s in scores if s.case_id in existing]
        try:
            with transaction.atomic():
                return len(CnnScore.objects.bulk_create(scores, ignore_conflicts=True))
        except IntegrityError:
            # A case went between the check and the write (its foreign key is gone): look again.
            continue
    raise RuntimeError("cases kept disappearing while their scores were written")
