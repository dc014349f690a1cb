"""The CNN's answer to a diagnosis question is stored with its score: the study's class with
the highest summed probability (Esteva et al. 2017), from the worker's write path, per-class
imports and, for scores stored before it existed, a data migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from readerstudy.scoring.models import CnnScore
from readerstudy.scoring.score_imports import scores_import
from readerstudy.scoring.selectors import model_version_active_get, study_cnn_classes
from readerstudy.studies.design import scheme_builtin
from tests.factories import CaseFactory, StudyFactory
from tests.support.diagnosed import cnn_scores_store, diagnosis_study_create

pytestmark = pytest.mark.django_db

# nv is the largest single class (0.35), but akiec + bcc + mel sum to esteva3's "malignant"
# 0.65: the fine class wins in ham7, the summed one in esteva3.
FINE = {"akiec": 0.25, "bcc": 0.25, "bkl": 0.0, "df": 0.0, "mel": 0.15, "nv": 0.35, "vasc": 0.0}


def test_the_worker_stores_the_class_with_the_highest_summed_probability(coordinator) -> None:
    study, scheme, task = diagnosis_study_create(coordinator=coordinator)
    grouped = StudyFactory(
        task=study.task,
        task_definition=study.task_definition,
        design="diagnosis",
        diagnosis_scheme=scheme_builtin("esteva3").to_dict(),
    )
    management = StudyFactory(task=study.task, task_definition=study.task_definition)
    cases = [
        CaseFactory(study=s, diagnosis="bcc", truth=True) for s in (study, grouped, management)
    ]
    model_version = model_version_active_get(study.task)
    assert cnn_scores_store(cases, model_version, [FINE] * 3, task) == 3
    stored = dict(CnnScore.objects.values_list("case_id", "diagnosis_class"))
    assert stored == {cases[0].pk: "nv", cases[1].pk: "malignant", cases[2].pk: None}
    assert scheme.cnn_answer(FINE) == "nv"
    assert study_cnn_classes(study) == {cases[0].pk: "nv"}
    assert study_cnn_classes(grouped, model_version) == {cases[1].pk: "malignant"}
    assert study_cnn_classes(management) == {}


def test_imported_scores_give_a_class_only_with_per_class_columns(coordinator, tmp_path) -> None:
    study, _, _ = diagnosis_study_create(coordinator=coordinator)
    cases = [
        CaseFactory(study=study, diagnosis=d, truth=d == "mel", source_id=f"ISIC_{n}")
        for n, d in enumerate(["mel", "nv"])
    ]
    per_class = scores_import(
        study=study,
        content=b"source_id,mel,nv,bkl\nISIC_0,0.7,0.2,0.1\nISIC_1,0.3,0.3,0.4\n",
        filename="classes.csv",
        name="Device with classes",
    )
    assert study_cnn_classes(study, per_class) == {cases[0].pk: "mel", cases[1].pk: "bkl"}
    binary = scores_import(
        study=study,
        content=b"source_id,probability\nISIC_0,0.7\nISIC_1,0.3\n",
        filename="binary.csv",
        name="Device without classes",
    )
    assert study_cnn_classes(study, binary) == {}
    assert set(CnnScore.objects.filter(model_version=binary).values_list("diagnosis_class")) == {
        (None,)
    }


BEFORE = [("scoring", "0002_external_algorithms"), ("studies", "0005_design_questions")]
AFTER = [("scoring", "0003_cnn_score_diagnosis_class")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_scores_stored_before_the_class_existed_get_it_from_their_probabilities() -> None:
    ham7 = scheme_builtin("ham7").to_dict()
    old = _migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        user = User.objects.create(username="old-coordinator")
        Study = old.get_model("studies", "Study")
        Case = old.get_model("studies", "Case")
        ModelVersion = old.get_model("scoring", "ModelVersion")
        Score = old.get_model("scoring", "CnnScore")
        model_version = ModelVersion.objects.create(
            name="old", arch="a", checkpoint="models/x.pt", sha256="f" * 64,
            taxonomy_version="1", input_size=[8, 8], class_names=list(FINE),
        )  # fmt: skip
        fixtures = [
            ("diagnosis", ham7, FINE),  # gets "nv"
            ("diagnosis", ham7, {}),  # imported as P(positive) only: none
            ("management", None, FINE),  # asks no diagnosis: none
        ]
        scores = []
        for n, (design, scheme, fine) in enumerate(fixtures):
            study = Study.objects.create(
                name=f"Study {n}", task="malignant-vs-benign", task_definition={},
                taxonomy_version="1", modality="dermoscopic", status="open", created_by=user,
                design=design, diagnosis_scheme=scheme,
            )  # fmt: skip
            case = Case.objects.create(
                study=study, position=0, image=f"c{n}.jpg", display_image=f"d{n}.jpg",
                thumbnail=f"t{n}.jpg", width=10, height=10, pixel_sha256=f"{n:064x}",
                diagnosis="bcc", truth=True, biopsy_proven=True,
            )  # fmt: skip
            scores.append(
                Score.objects.create(
                    case=case, model_version=model_version, probability=0.5,
                    fine_probabilities=fine, device="cpu", worker_host="old", duration_ms=1.0,
                ).pk
            )  # fmt: skip
        new = _migrate(AFTER)
        stored = dict(
            new.get_model("scoring", "CnnScore").objects.values_list("pk", "diagnosis_class")
        )
        assert [stored[pk] for pk in scores] == ["nv", None, None]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
