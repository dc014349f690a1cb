"""AI-assisted studies with both phases answered, stored through the platform's own services:
a tiny one whose switching table is counted by hand, and a simulated panel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from readerstudy.accounts.roles import Role
from readerstudy.reading.models import Phase
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.stats.simulate import simulate_cnn_scores, simulate_reader_panel
from readerstudy.stats.simulate_aided import simulate_aided_reading
from readerstudy.studies.design import scheme_builtin
from readerstudy.studies.models import Case, Study
from tests.factories import (
    CaseFactory,
    EnrolmentFactory,
    StudyFactory,
    UserFactory,
    cnn_scores_create,
)

# The tiny study: truth, the CNN's probability, and case 1 faulty (its output shown inverted:
# 0.88, so the AI shown says melanoma on a nevus the CNN got right).
TINY_TRUTH = [1, 0, 1, 0]
TINY_CNN = [0.91, 0.12, 0.37, 0.66]
TINY_FAULTY = [False, True, False, False]
# Each reader's (unaided, aided) biopsy decisions per case.
TINY_DECISIONS = {
    "R01": ([1, 0, 0, 0], [1, 1, 0, 0]),
    "R02": ([0, 0, 1, 1], [1, 0, 1, 0]),
    "R03": ([1, 1, 1, 1], [1, 1, 1, 1]),
}
# For the diagnosis-then-management study: each reader's (unaided, aided) classes. "AI" marks
# the class the AI showed on the faulty case 1 (the CNN's least likely class, whatever the
# scheme's order makes it).
TINY_CLASSES = {
    "R01": (["mel", "nv", "nv", "nv"], ["mel", "AI", "nv", "nv"]),
    "R02": (["nv", "nv", "mel", "mel"], ["mel", "nv", "mel", "nv"]),
    "R03": (["mel", "bkl", "mel", "bkl"], ["mel", "mel", "mel", "bkl"]),
}


@dataclass(frozen=True)
class AidedStudy:
    study: Study
    cases: list[Case]
    truth: np.ndarray
    cnn: np.ndarray
    faulty: np.ndarray
    # (readers, cases) per phase, readers in pseudonym order.
    decisions: dict[str, np.ndarray]
    ratings: dict[str, np.ndarray]


def _aided_cases(coordinator, truth, cnn, faulty, **study_fields) -> tuple[Study, list[Case]]:
    study = StudyFactory(
        created_by=coordinator,
        name=study_fields.pop("name", "Aided panel"),
        ai_assistance=study_fields.pop("ai_assistance", "sequential"),
        faulty_ai_percent=study_fields.pop("faulty_ai_percent", 25),
        consent_text="Some of the AI outputs you see are deliberately wrong.",
        **study_fields,
    )
    cases = [
        CaseFactory(study=study, position=n, diagnosis="mel" if t else "nv", truth=bool(t))
        for n, t in enumerate(truth)
    ]
    model_version = model_version_active_get(study.task)
    cnn_scores_create(cases, model_version, cnn, [[0.0, 1.0]] * len(cases))
    # The faulty-AI cases, marked as the study's opening marks them (here chosen by hand).
    Case.objects.filter(pk__in=[c.pk for c, f in zip(cases, faulty, strict=True) if f]).update(
        ai_output_inverted=True
    )
    return study, cases


def _answer(enrolment, cases, decisions, ratings, phase, classes=None) -> None:
    decision_record_simulated(
        enrolment=enrolment,
        answers=[
            SimulatedAnswer(
                case_id=case.pk,
                biopsy=bool(d),
                confidence=round(float(r)),
                phase=str(phase),
                diagnosis_class=None if classes is None else classes[k],
            )
            for k, (case, d, r) in enumerate(zip(cases, decisions, ratings, strict=True))
        ],
    )


def _enrol(study, number: int):
    return EnrolmentFactory(
        study=study,
        reader=UserFactory(username=f"aided{study.pk}-{number}", roles=[Role.READER]),
        pseudonym=f"R{number:02d}",
        simulated=True,
    )


def build_tiny_aided_study(
    *, coordinator, diagnosis: bool = False, ai_assistance: str = "sequential"
) -> AidedStudy:
    """Four cases, three readers (TINY_DECISIONS); the ratings follow the decisions, a
    little apart per case so that the AUCs are not all ties. ``diagnosis``: the study asks
    the seven HAM10000 classes first (TINY_CLASSES), then the management decision."""
    truth = np.asarray(TINY_TRUTH)
    design: dict[str, object] = {"ai_assistance": ai_assistance}
    if diagnosis:
        scheme = scheme_builtin("ham7")
        design |= {"design": "diagnosis_management", "diagnosis_scheme": scheme.to_dict()}
    study, cases = _aided_cases(coordinator, TINY_TRUTH, TINY_CNN, TINY_FAULTY, **design)
    # The class the AI showed on the faulty case: the CNN's least likely (mel/nv only scored).
    least_likely = [c for c in (scheme_builtin("ham7").codes) if c not in ("mel", "nv")][-1]
    decisions = {Phase.UNAIDED: [], Phase.AIDED: []}
    ratings = {Phase.UNAIDED: [], Phase.AIDED: []}
    for number, (reader, phases) in enumerate(sorted(TINY_DECISIONS.items()), start=1):
        enrolment = _enrol(study, number)
        assert enrolment.pseudonym == reader
        for phase, answer in zip((Phase.UNAIDED, Phase.AIDED), phases, strict=True):
            rating = [(70 if d else 30) + 5 * k - 3 * number for k, d in enumerate(answer)]
            classes = None
            if diagnosis:
                given = TINY_CLASSES[reader][0 if phase == Phase.UNAIDED else 1]
                classes = [least_likely if c == "AI" else c for c in given]
            _answer(enrolment, cases, answer, rating, phase, classes)
            decisions[phase].append(answer)
            ratings[phase].append(rating)
    return AidedStudy(
        study=study,
        cases=cases,
        truth=truth,
        cnn=np.asarray(TINY_CNN),
        faulty=np.asarray(TINY_FAULTY),
        decisions={str(p): np.asarray(v, dtype=bool) for p, v in decisions.items()},
        ratings={str(p): np.asarray(v, dtype=float) for p, v in ratings.items()},
    )


def build_aided_panel_study(
    *, coordinator, n_cases: int = 60, n_readers: int = 6, seed: int = 11, partial: int = 0
) -> AidedStudy:
    """A sequential study with a simulated panel (simulate_aided_reading, automation bias
    0.5) and every tenth case faulty; ``partial`` more readers answer only the first half of
    the cases in both phases."""
    truth = np.array([1 if n % 3 == 0 else 0 for n in range(n_cases)])
    cnn = simulate_cnn_scores(truth, auc=0.9, seed=seed)
    faulty = np.arange(n_cases) % 10 == 4
    study, cases = _aided_cases(coordinator, truth, cnn, faulty, faulty_ai_percent=10)
    panel = simulate_reader_panel(
        truth,
        n_readers + partial,
        mean_sensitivity=0.8,
        mean_specificity=0.7,
        seed=seed,
    )
    unaided_d = np.zeros((n_readers + partial, n_cases), dtype=bool)
    unaided_r = np.zeros((n_readers + partial, n_cases))
    for j, reader in enumerate(panel.reader_inputs()):
        unaided_d[j, reader.case_index] = reader.decision
        unaided_r[j, reader.case_index] = reader.rating
    aided = simulate_aided_reading(
        truth, unaided_d, unaided_r, cnn, automation_bias=0.5, seed=seed, faulty=faulty
    )
    for j in range(n_readers + partial):
        enrolment = _enrol(study, j + 1)
        upto = n_cases if j < n_readers else n_cases // 2
        _answer(enrolment, cases[:upto], unaided_d[j, :upto], unaided_r[j, :upto], Phase.UNAIDED)
        _answer(
            enrolment, cases[:upto], aided.decision[j, :upto], aided.rating[j, :upto], Phase.AIDED
        )
    return AidedStudy(
        study=study,
        cases=cases,
        truth=truth,
        cnn=cnn,
        faulty=faulty,
        decisions={"unaided": unaided_d[:n_readers], "aided": aided.decision[:n_readers]},
        ratings={"unaided": unaided_r[:n_readers], "aided": aided.rating[:n_readers]},
    )
