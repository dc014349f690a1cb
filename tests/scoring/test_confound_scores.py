"""The studies' confound audit reads the CNN's scores through the provider scoring registers
(studies sits below scoring and does not import it)."""

from __future__ import annotations

import pytest

from readerstudy.scoring.selectors import study_cnn_probabilities
from readerstudy.studies import confounds
from readerstudy.studies.confounds import study_confound_audit
from readerstudy.studies.models import ImportJob
from tests.factories import CaseFactory, StudyFactory, cnn_scores_create

pytestmark = pytest.mark.django_db


def test_the_scoring_app_registers_its_reader_of_cnn_scores_for_the_audit() -> None:
    assert confounds._cnn_probabilities is study_cnn_probabilities


def test_the_audit_gives_the_cnn_auc_of_each_import_from_the_stored_scores(default_model) -> None:
    study = StudyFactory()
    cases, probabilities, jobs = [], [], []
    # The CNN ranks the first import's melanomas first, and the second import's last.
    for mel, nv in [(0.9, 0.1), (0.2, 0.8)]:
        job = ImportJob.objects.create(study=study, source="cli", status="succeeded")
        jobs.append(job)
        for diagnosis in ("mel", "nv", "mel", "nv"):
            cases.append(CaseFactory(study=study, import_job=job, diagnosis=diagnosis))
            probabilities.append(mel if diagnosis == "mel" else nv)
    cnn_scores_create(cases, default_model, probabilities, [[0.0] * 4] * len(cases))

    audit = study_confound_audit(study)

    by_source = {row.source: row for row in audit.cnn_by_source}
    first, second = (by_source[f"import {job.pk}"] for job in jobs)
    assert (first.auc, second.auc) == (1.0, 0.0)
    assert (first.n_positive, first.n_negative) == (second.n_positive, second.n_negative) == (2, 2)
    assert audit.cnn_by_source_warning
