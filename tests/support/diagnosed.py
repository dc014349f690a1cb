"""A diagnosis study (the seven HAM10000 classes) with CNN scores and a simulated panel that
answered classes, stored through the platform's own services: the scores through the
worker's write path (which stores the CNN's class), the answers as simulated decisions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.taxonomy import load_taxonomy
from readerstudy.accounts.roles import Role
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.models import CnnScore, ModelVersion
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.scoring.worker import scores_store
from readerstudy.stats.simulate_classes import simulate_class_answers
from readerstudy.studies.design import ClassScheme, scheme_builtin
from readerstudy.studies.models import Case, Study
from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory, UserFactory

TASK = "malignant-vs-benign"


@dataclass(frozen=True)
class DiagnosedStudy:
    study: Study
    scheme: ClassScheme
    cases: list[Case]
    model_version: ModelVersion


def diagnosis_study_create(*, coordinator, design: str = "diagnosis", name: str = "HAM7 panel"):
    task = load_taxonomy().task(TASK)
    scheme = scheme_builtin("ham7")
    study = StudyFactory(
        created_by=coordinator,
        name=name,
        task=TASK,
        task_definition=task.to_dict(),
        design=design,
        diagnosis_scheme=scheme.to_dict(),
    )
    return study, scheme, task


def fine_probabilities(true_class: str, answer: str, rng: np.random.Generator) -> dict[str, float]:
    """Softmax-like outputs over the training classes whose largest is ``answer``."""
    classes = load_taxonomy().training_classes
    raw = rng.dirichlet(np.ones(len(classes)))
    raw[classes.index(answer)] += 1.0 + raw.max()
    raw[classes.index(true_class)] += 0.1
    raw /= raw.sum()
    return dict(zip(classes, map(float, raw), strict=True))


def cnn_scores_store(cases, model_version, fine: list[dict[str, float]], task) -> int:
    """Scores as a worker writes them (P(positive) from the taxonomy sums)."""
    taxonomy = load_taxonomy()
    scores = []
    for case, probabilities in zip(cases, fine, strict=True):
        vector = np.asarray([probabilities.get(c, 0.0) for c in taxonomy.training_classes])
        scores.append(
            CnnScore(
                case=case,
                model_version=model_version,
                probability=float(taxonomy.task_probability(vector, task)[0]),
                fine_probabilities=probabilities,
                device="cpu:fp32",
                worker_host="test",
                duration_ms=1.0,
            )
        )
    return scores_store(scores)


def build_diagnosis_study(
    *,
    coordinator,
    design: str = "diagnosis",
    n_cases: int = 42,
    n_readers: int = 5,
    partial_reader: bool = True,
    seed: int = 3,
) -> DiagnosedStudy:
    """``n_cases`` cases cycling through the seven classes, the CNN right on about 70% of
    them, ``n_readers`` simulated readers at a mean accuracy of 60% who read every case, and
    (``partial_reader``) one more who read the first half only."""
    study, scheme, task = diagnosis_study_create(coordinator=coordinator, design=design)
    codes = scheme.codes
    rng = np.random.default_rng(seed)
    truth = np.array([n % len(codes) for n in range(n_cases)])
    cases = [
        CaseFactory(study=study, diagnosis=codes[t], truth=codes[t] in task.positive) for t in truth
    ]
    model_version = model_version_active_get(study.task)
    cnn = [codes[t] if rng.random() < 0.7 else codes[(t + 1 + rng.integers(6)) % 7] for t in truth]
    cnn_scores_store(
        cases,
        model_version,
        [fine_probabilities(codes[t], a, rng) for t, a in zip(truth, cnn, strict=True)],
        task,
    )
    panel = simulate_class_answers(
        truth, len(codes), n_readers + int(partial_reader), mean_accuracy=0.6, seed=seed
    )
    positive = scheme.positive_codes(task.positive, task.negative)
    for n, row in enumerate(panel):
        enrolment = EnrolmentFactory(
            study=study,
            reader=UserFactory(username=f"dx{n + 1}", roles=[Role.READER]),
            pseudonym=f"R{n + 1:02d}",
            simulated=True,
        )
        read = len(cases) // 2 if partial_reader and n == n_readers else len(cases)
        answers = []
        for case, answer in list(zip(cases, row, strict=True))[:read]:
            label = codes[int(answer)]
            management = {}
            if design == "diagnosis_management":
                # The management answer disagrees with the class now and then, so that a test
                # can tell which one the ROC page used.
                biopsy = (label in positive) != (case.pk % 5 == 0)
                management = {"biopsy": biopsy, "confidence": 80 if biopsy else 20}
            answers.append(SimulatedAnswer(case_id=case.pk, diagnosis_class=label, **management))
        decision_record_simulated(enrolment=enrolment, answers=answers)
    return DiagnosedStudy(study, scheme, cases, model_version)
