"""A study with CNN scores and a reader panel, stored through the platform's own services."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.accounts.roles import Role
from readerstudy.analysis.simulate import simulate_cnn_scores, simulate_reader_panel
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.models import CnnScore
from readerstudy.scoring.selectors import active_model_for_task
from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory, UserFactory


def build_graded_study(*, coordinator, n_cases: int = 60, n_readers: int = 6, seed: int = 7):
    study = StudyFactory(created_by=coordinator, name="Melanoma panel")
    truth = np.array([1 if n % 3 == 0 else 0 for n in range(n_cases)])
    cases = [CaseFactory(study=study, diagnosis="mel" if t else "nv", truth=bool(t)) for t in truth]
    model_version = active_model_for_task(study.task)
    cnn = simulate_cnn_scores(truth, auc=0.9, seed=seed)
    # Embeddings with class structure, as the penultimate layer of a trained network has.
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n_cases, 64)) + 3.0 * truth[:, None] * rng.normal(size=64)
    CnnScore.objects.bulk_create(
        [
            CnnScore(
                case=case,
                model_version=model_version,
                probability=float(p),
                fine_probabilities={"mel": float(p), "nv": 1 - float(p)},
                embedding=embeddings[n].astype(np.float16).tobytes(),
                device="cpu:fp32",
                worker_host="test",
                duration_ms=1.0,
            )
            for n, (case, p) in enumerate(zip(cases, cnn, strict=True))
        ]
    )
    panel = simulate_reader_panel(
        truth, n_readers, mean_sensitivity=0.894, mean_specificity=0.644, seed=seed
    )
    for n, reader in enumerate(panel.reader_inputs()):
        enrolment = EnrolmentFactory(
            study=study,
            reader=UserFactory(username=f"sim{n + 1}", roles=[Role.READER]),
            pseudonym=f"R{n + 1:02d}",
            simulated=True,
        )
        decision_record_simulated(
            enrolment=enrolment,
            answers=[
                SimulatedAnswer(case_id=cases[int(i)].pk, biopsy=bool(d), confidence=round(r))
                for i, d, r in zip(reader.case_index, reader.decision, reader.rating, strict=True)
            ],
        )
    return study, truth, cnn


@pytest.fixture
def graded_study(coordinator):
    return build_graded_study(coordinator=coordinator)
