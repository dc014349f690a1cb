"""Studies and decisions made before study designs existed migrate without loss: every old
study becomes a management study and every old decision keeps its answer, exactly."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("studies", "0004_confound_audit"), ("reading", "0001_initial")]
AFTER = [("studies", "0005_design_questions"), ("reading", "0002_design_questions")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_studies_and_decisions_migrate_without_loss():
    old = _migrate(BEFORE)
    try:
        User = old.get_model(*settings.AUTH_USER_MODEL.split("."))
        user = User.objects.create(username="old-coordinator")
        Study = old.get_model("studies", "Study")
        study = Study.objects.create(
            name="Before designs", task="melanoma-vs-nevus",
            task_definition={"name": "melanoma-vs-nevus", "positive": ["mel"], "negative": ["nv"]},
            taxonomy_version="1", modality="dermoscopic", status="open",
            confidence_scale="1-5", created_by=user,
        )  # fmt: skip
        Case = old.get_model("studies", "Case")
        now = timezone.now()
        cases = [
            Case.objects.create(
                study=study,
                position=n,
                image=f"c{n}.jpg",
                display_image=f"d{n}.jpg",
                thumbnail=f"t{n}.jpg",
                width=10,
                height=10,
                pixel_sha256=f"{n:064x}",
                diagnosis="mel" if n else "nv",
                truth=bool(n),
                biopsy_proven=True,
            )
            for n in range(2)
        ]
        Enrolment = old.get_model("studies", "Enrolment")
        enrolment = Enrolment.objects.create(
            study=study, reader=user, pseudonym="R01", order_seed=1
        )
        Served = old.get_model("reading", "ServedCase")
        Decision = old.get_model("reading", "Decision")
        answers = [("reassure", 2, 1), ("biopsy", 5, 1), ("reassure", 1, 2)]
        for n, (decision, confidence, revision) in enumerate(answers):
            served = Served.objects.create(
                enrolment=enrolment, case=cases[min(n, 1)], token=f"t{n}", served_at=now
            )
            Decision.objects.create(
                enrolment=enrolment, case=cases[min(n, 1)], served=served, decision=decision,
                confidence=confidence, revision=revision, served_at=now, submitted_at=now,
                active_ms=1000 + n,
            )  # fmt: skip
        before = sorted(
            Decision.objects.values_list("id", "decision", "confidence", "revision", "active_ms")
        )

        new = _migrate(AFTER)
        migrated = new.get_model("studies", "Study").objects.get(pk=study.pk)
        assert (migrated.design, migrated.diagnosis_scheme) == ("management", None)
        assert migrated.confidence_scale == "1-5"
        rows = new.get_model("reading", "Decision").objects
        assert (
            sorted(rows.values_list("id", "decision", "confidence", "revision", "active_ms"))
            == before
        )
        assert set(rows.values_list("diagnosis_class", "diagnosis_confidence")) == {(None, None)}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
