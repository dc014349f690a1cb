"""``manage.py import_study``: one command creates a study and its cases, or nothing at all."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from readerstudy.studies.models import Case, ImportJob, Study
from tests.support.env import REPO_ROOT
from tests.support.ingest import stored_files
from tests.support.worker import worker_environment


@pytest.mark.django_db
def test_import_study_creates_the_study_and_prints_its_id_and_counts(
    coordinator, ham_sample, capsys
) -> None:
    call_command(
        "import_study",
        name="Carcinoma vs keratosis",
        task="carcinoma-vs-keratosis",
        images=str(ham_sample / "images"),
        manifest=str(ham_sample / "HAM10000_metadata.csv"),
        biopsy_proven_only=True,
        no_progress=True,
    )
    out = capsys.readouterr().out
    study = Study.objects.get()
    assert f"study_id={study.pk}" in out
    assert "imported 26 cases (20 positive, 6 negative)" in out
    assert "excluded, not biopsy-proven: bkl 4" in out
    assert study.require_biopsy_proven and study.coordinators.get() == coordinator
    assert study.cases.count() == 26 and study.cases.filter(biopsy_proven=False).count() == 0
    assert ImportJob.objects.get().source == "cli"


@pytest.mark.django_db
def test_import_study_draws_a_seeded_sample(coordinator, ham_full, capsys) -> None:
    call_command(
        "import_study",
        name="Sampled",
        task="melanoma-vs-nevus",
        images=str(ham_full / "images"),
        manifest=str(ham_full / "HAM10000_metadata.csv"),
        format="ham10000",
        biopsy_proven_only=True,
        sample="mel=3,nv=7",
        seed=5,
        no_progress=True,
    )
    out = capsys.readouterr().out
    assert "mel    3 (drawn from 1113)" in out and "nv     7 (drawn from 2498)" in out
    assert "seed 5" in out
    assert Case.objects.count() == 10


@pytest.mark.django_db
def test_a_failed_import_creates_no_study_and_leaves_no_files(
    coordinator, isic_demo, ham_sample
) -> None:
    before = stored_files()
    with pytest.raises(CommandError, match="no study created"):
        call_command(
            "import_study",
            name="Mismatched",
            task="melanoma-vs-nevus",
            images=str(isic_demo / "images"),
            manifest=str(ham_sample / "HAM10000_metadata.csv"),
            no_progress=True,
        )
    assert not Study.objects.exists() and not ImportJob.objects.exists()
    assert stored_files() == before


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_exit_code_is_zero_only_when_the_study_was_created(coordinator, isic_demo) -> None:
    def run(task: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "manage.py",
                "import_study",
                "--name=Exit code",
                f"--task={task}",
                f"--images={isic_demo / 'images'}",
                f"--manifest={isic_demo / 'metadata.csv'}",
                "--biopsy-proven-only",
                "--no-progress",
            ],
            cwd=REPO_ROOT,
            env=worker_environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    refused = run("carcinoma-vs-keratosis")  # every ISIC row lies outside this task
    assert refused.returncode != 0, refused.stdout
    assert not Study.objects.exists()

    created = run("melanoma-vs-nevus")
    assert created.returncode == 0, created.stderr
    study = Study.objects.get()
    assert f"study_id={study.pk}" in created.stdout
    assert study.cases.count() == 30
