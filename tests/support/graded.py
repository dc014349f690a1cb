"""A study with CNN scores and a reader panel, stored through the platform's own services."""

from __future__ import annotations

import numpy as np

from readerstudy.accounts.roles import Role
from readerstudy.reading.services import SimulatedAnswer, decision_record_simulated
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.stats.simulate import simulate_cnn_scores, simulate_reader_panel
from tests.factories import (
    CaseFactory,
    EnrolmentFactory,
    StudyFactory,
    UserFactory,
    cnn_scores_create,
)


def build_graded_study(*, coordinator, n_cases: int = 60, n_readers: int = 6, seed: int = 7):
    study = StudyFactory(created_by=coordinator, name="Melanoma panel")
    truth = np.array([1 if n % 3 == 0 else 0 for n in range(n_cases)])
    cases = [CaseFactory(study=study, diagnosis="mel" if t else "nv", truth=bool(t)) for t in truth]
    model_version = model_version_active_get(study.task)
    cnn = simulate_cnn_scores(truth, auc=0.9, seed=seed)
    # Embeddings with class structure, as the penultimate layer of a trained network has.
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n_cases, 64)) + 3.0 * truth[:, None] * rng.normal(size=64)
    cnn_scores_create(cases, model_version, cnn, embeddings)
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
