from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import file_sha256
from readerstudy.scoring.models import ANY_TASK, ActiveModel, ModelVersion
from readerstudy.scoring.selectors import active_model_for_task

pytestmark = pytest.mark.django_db


def test_migrate_registers_the_shipped_model_for_every_task() -> None:
    model_version = ModelVersion.objects.get(sha256=file_sha256(DEFAULT_CHECKPOINT))
    assert ActiveModel.objects.get(task=ANY_TASK).model_version == model_version
    assert active_model_for_task("carcinoma-vs-keratosis") == model_version
    assert model_version.class_names == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert model_version.checkpoint.name == f"models/{model_version.sha256}.pt"


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
