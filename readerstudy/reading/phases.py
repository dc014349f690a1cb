"""AI-assisted reading: which case a reader answers next, and in which phase.

Every study reads unaided. A study's ``ai_assistance`` adds an aided phase, in which the reader
sees the CNN's output (``reading/presenters.py`` ``ai_output``):

- ``sequential`` (Tschandl et al., Nat Med 2020; Maron et al., JMIR 2020): for each case in
  the reader's order, first the unaided answer, which is then locked (never editable), then
  the aided answer to the same case. The steps are (c1, unaided), (c1, aided), (c2, unaided)...
- ``crossover``: two sessions over the same cases, one aided and one unaided. Half the readers
  read aided first, balanced and seeded (``crossover_aided_first``); the second session opens
  ``washout_days`` after the reader's last answer of the first, in a fresh random order.

A reader's steps are a pure function of their stored order and their seed, so the plan is the
same in every process and after every login; what is done is what the database holds (one
decision per case, phase and revision, revision 1 being the first answer). When the second
crossover session opens is one reading of it (``second_session_opens``), for the grading flow
and the readers' home page alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max

from readerstudy.reading.models import Decision, Phase
from readerstudy.reading.ordering import case_sort_key
from readerstudy.studies.models import Enrolment, Study

UNAIDED, AIDED = str(Phase.UNAIDED), str(Phase.AIDED)
# Mixed into the reader's seed for the second session's order (any constant would do; this one
# says what it is for).
_SECOND_SESSION = int.from_bytes(hashlib.sha256(b"crossover second session").digest()[:7], "big")


def study_phase_count(study: Study) -> int:
    """How many answers each case gets from each reader: 1, or 2 with AI assistance."""
    return 2 if study.aided else 1


def crossover_aided_first(enrolment: Enrolment) -> bool:
    """Whether this reader reads aided in their first crossover session.

    Blocks of two in enrolment order (pseudonyms R01, R02, ...): within each block one reader
    reads aided first and the other unaided first, which of the two by a coin seeded with the
    study and the block. Any prefix of the readers is balanced to within one, and nobody can
    choose their arm by the moment they enrol.
    """
    number = int("".join(ch for ch in enrolment.pseudonym if ch.isdigit()) or 0)
    block, second = divmod(max(number - 1, 0), 2)
    digest = hashlib.sha256(f"crossover {enrolment.study_id} {block}".encode()).digest()
    return bool(digest[0] & 1) != bool(second)


def second_session_order(
    enrolment: Enrolment, order: list[int], public_ids: dict[int, object]
) -> list[int]:
    """The second crossover session's order: the same cases, freshly shuffled by the reader's
    seed (with a constant mixed in, so it is not the first session's order again)."""
    seed = (enrolment.order_seed ^ _SECOND_SESSION) & ((1 << 62) - 1)
    return sorted(order, key=lambda case_id: case_sort_key(seed, public_ids[case_id]))  # type: ignore[arg-type]


def crossover_session_phases(enrolment: Enrolment) -> tuple[str, str]:
    """The phases of a crossover reader's first and second sessions."""
    return (AIDED, UNAIDED) if crossover_aided_first(enrolment) else (UNAIDED, AIDED)


def second_session_opens(enrolment: Enrolment) -> datetime | None:
    """When a crossover reader's second session opens: the study's washout after their last
    answer of the first session. None outside a crossover study and before any first-session
    answer; whether the first session is complete is the caller's to say
    (``ReadingPlan.locked_until``, the home page's count of answers)."""
    study = enrolment.study
    if study.ai_assistance != Study.AiAssistance.CROSSOVER:
        return None
    first, _ = crossover_session_phases(enrolment)
    last = Decision.objects.filter(enrolment=enrolment, phase=first).aggregate(
        last=Max("submitted_at")
    )["last"]
    return None if last is None else last + timedelta(days=study.washout_days)


@dataclass(frozen=True)
class ReadingPlan:
    """A reader's steps, (case id, phase), in the order they are answered."""

    steps: list[tuple[int, str]]
    # Crossover: how many steps the first session has (all of them otherwise).
    first_session: int
    # Crossover: the second session waits out the washout after the first.
    washout: bool

    def remaining(self, decided: set[tuple[int, str]]) -> list[tuple[int, str]]:
        return [step for step in self.steps if step not in decided]

    def locked_until(self, enrolment: Enrolment, decided: set[tuple[int, str]]) -> datetime | None:
        """When the second crossover session opens (``second_session_opens``), once the
        first session is done; else None. Whether that is still to come is the caller's."""
        first_session_done = all(step in decided for step in self.steps[: self.first_session])
        if not (self.washout and first_session_done):
            return None
        return second_session_opens(enrolment)


def reading_plan(
    enrolment: Enrolment, order: list[int], public_ids: dict[int, object] | None = None
) -> ReadingPlan:
    """The reader's steps for their study's assistance design (``public_ids``: case id ->
    public id, needed for the crossover's second order)."""
    study = enrolment.study
    if study.ai_assistance == Study.AiAssistance.SEQUENTIAL:
        steps = [(case_id, phase) for case_id in order for phase in (UNAIDED, AIDED)]
        return ReadingPlan(steps, len(steps), washout=False)
    if study.ai_assistance == Study.AiAssistance.CROSSOVER:
        first, second = crossover_session_phases(enrolment)
        later = second_session_order(enrolment, order, public_ids or {})
        steps = [(case_id, first) for case_id in order] + [(case_id, second) for case_id in later]
        return ReadingPlan(steps, len(order), washout=True)
    return ReadingPlan([(case_id, UNAIDED) for case_id in order], len(order), washout=False)
