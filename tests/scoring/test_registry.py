from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import file_sha256
from readerstudy.scoring.models import ANY_TASK, ActiveModel, ModelVersion
from readerstudy.scoring.selectors import model_version_active_get

pytestmark = pytest.mark.django_db


def test_register_shipped_model_registers_it_for_every_task() -> None:
    model_version = ModelVersion.objects.get(sha256=file_sha256(DEFAULT_CHECKPOINT))
    assert ActiveModel.objects.get(task=ANY_TASK).model_version == model_version
    assert model_version_active_get("carcinoma-vs-keratosis") == model_version
    assert model_version.class_names == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert model_version.checkpoint.name == f"models/{model_version.sha256}.pt"


def test_register_shipped_model_again_changes_nothing_and_keeps_a_chosen_model() -> None:
    shipped = ModelVersion.objects.get(sha256=file_sha256(DEFAULT_CHECKPOINT))
    other = ModelVersion.objects.create(
        name="chosen",
        arch="efficientnet_lite0",
        checkpoint="models/" + "1" * 64 + ".pt",
        sha256="1" * 64,
        taxonomy_version="1",
        input_size=[224, 224],
        class_names=shipped.class_names,
    )
    ActiveModel.objects.filter(task=ANY_TASK).update(model_version=other)
    out = StringIO()
    call_command("register_shipped_model", stdout=out)
    call_command("register_shipped_model", stdout=out)
    assert str(shipped.sha256) in out.getvalue()
    assert ModelVersion.objects.count() == 2
    assert ActiveModel.objects.get(task=ANY_TASK).model_version == other


def test_migrate_alone_registers_no_model(django_db_blocker) -> None:
    # Registering the shipped model is the explicit step after migrate, not a side effect.
    ActiveModel.objects.all().delete()
    call_command("migrate", verbosity=0)
    assert not ActiveModel.objects.exists()


def test_a_lost_checkpoint_file_is_restored_by_registering_it_again() -> None:
    model_version = ModelVersion.objects.get(sha256=file_sha256(DEFAULT_CHECKPOINT))
    stored = Path(model_version.checkpoint.path)
    stored.unlink()
    call_command("register_model", str(DEFAULT_CHECKPOINT), stdout=StringIO())
    assert file_sha256(stored) == model_version.sha256


def test_a_worker_restores_the_shipped_models_lost_file_and_refuses_other_lost_files() -> None:
    from readerstudy.scoring import inference

    model_version = ModelVersion.objects.get(sha256=file_sha256(DEFAULT_CHECKPOINT))
    stored = Path(model_version.checkpoint.path)
    stored.unlink()
    inference._PREDICTORS.pop(model_version.sha256, None)
    assert inference.predictor_for(model_version).sha256 == model_version.sha256
    assert file_sha256(stored) == model_version.sha256

    other = ModelVersion.objects.create(
        name="uploaded",
        arch="efficientnet_lite0",
        checkpoint="models/" + "0" * 64 + ".pt",
        sha256="0" * 64,
        taxonomy_version="1",
        input_size=[224, 224],
        class_names=model_version.class_names,
    )
    with pytest.raises(FileNotFoundError, match="register the file again"):
        inference.predictor_for(other)


def test_register_model_twice_finds_the_same_version() -> None:
    out = StringIO()
    call_command("register_model", str(DEFAULT_CHECKPOINT), stdout=out)
    assert "already registered" in out.getvalue()
    assert ModelVersion.objects.count() == 1


def test_register_model_refuses_a_file_that_is_not_a_checkpoint(tmp_path) -> None:
    bogus = tmp_path / "weights.pt"
    bogus.write_bytes(b"PK\x03\x04 not a checkpoint at all")
    with pytest.raises(CommandError, match=r"weights\.pt"):
        call_command("register_model", str(bogus))
    assert ModelVersion.objects.count() == 1
