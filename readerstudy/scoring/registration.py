"""Registering models: this project's checkpoints, and models brought from elsewhere (an ONNX
file or a timm state_dict, each with its JSON description; see docs/algorithms.md).

A model's file is checked before anything is stored: a checkpoint must load and predict the
taxonomy's training classes; a description must fit its file (input shape, class count), and
a refusal names the field. The identity is the sha256 of the checkpoint, or of the file and
the description together; registering the same again returns the existing version. Files are
kept in media storage as ``models/<sha256>.<suffix>``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from classifier import DEFAULT_CHECKPOINT
from classifier.external.description import (
    DescriptionError,
    ModelDescription,
    combined_sha256,
    load_description,
)
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import ANY_TASK, ActiveModel, ModelVersion
from readerstudy.scoring.services import model_version_activate

log = logging.getLogger(__name__)


class ModelRegistrationError(ValueError):
    """A file that cannot serve as a model version (the message says why)."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (classifier.checkpoint has one too, but imports torch)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _store(path: Path, storage_name: str) -> None:
    if default_storage.exists(storage_name):
        return
    with path.open("rb") as handle:
        stored = default_storage.save(storage_name, File(handle))
    if stored != storage_name:  # pragma: no cover (content addressing makes this rare)
        raise ModelRegistrationError(f"could not store the model file as {storage_name}")


def _existing(sha256: str, path: Path, activate_for: Iterable[str]) -> ModelVersion | None:
    existing = ModelVersion.objects.filter(sha256=sha256).first()
    if existing is None:
        return None
    if not default_storage.exists(existing.checkpoint.name):
        # The row outlived its file (media restored without models/): the same bytes were
        # just handed in, so put them back.
        with path.open("rb") as handle:
            default_storage.save(existing.checkpoint.name, File(handle))
    if activate_for:
        model_version_activate(model_version=existing, tasks=activate_for)
    return existing


@transaction.atomic
def model_version_register(
    *,
    path: Path,
    name: str | None = None,
    created_by: User | None = None,
    activate_for: Iterable[str] = (),
    config: Path | None = None,
    arch: str | None = None,
) -> tuple[ModelVersion, bool]:
    """Register a model; returns the model version and whether it is new.

    Without ``config``: a checkpoint of this project (``classifier.train``). With ``config``
    (a JSON description): an ONNX file, or with ``arch`` the state_dict of that timm
    architecture.
    """
    if config is None:
        if arch is not None:
            raise ModelRegistrationError(
                "a timm architecture needs the model's JSON description as well"
            )
        return _register_native(path, name, created_by, activate_for)
    try:
        raw = config.read_bytes()
    except OSError as error:
        raise ModelRegistrationError(f"{config}: cannot read: {error.strerror}") from None
    taxonomy = load_taxonomy()
    try:
        description = load_description(
            raw, training_classes=taxonomy.training_classes, source=config.name
        )
    except DescriptionError as error:
        raise ModelRegistrationError(f"{config.name}: {error}") from None
    return _register_external(path, description, arch, name, created_by, activate_for)


def _register_native(
    path: Path, name: str | None, created_by: User | None, activate_for: Iterable[str]
) -> tuple[ModelVersion, bool]:
    # torch comes with the checkpoint module: loaded here, never by web processes that
    # merely import this module (the admin does, at start-up).
    from classifier.checkpoint import CheckpointError, load_checkpoint

    sha256 = file_sha256(path)
    existing = _existing(sha256, path, activate_for)
    if existing is not None:
        return existing, False
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as error:
        raise ModelRegistrationError(f"{path.name}: {error}") from None
    config = checkpoint.config
    training_classes = list(load_taxonomy().training_classes)
    if list(config.class_names) != training_classes:
        raise ModelRegistrationError(
            f"{path.name}: predicts classes {list(config.class_names)}, but the taxonomy's "
            f"training classes are {training_classes}"
        )
    storage_name = f"models/{sha256}.pt"
    _store(path, storage_name)
    model_version = ModelVersion.objects.create(
        name=name or checkpoint.name or path.stem,
        kind=ModelVersion.Kind.NATIVE,
        arch=config.arch,
        checkpoint=storage_name,
        sha256=sha256,
        file_sha256=sha256,
        taxonomy_version=config.taxonomy_version,
        input_size=list(config.input_size),
        class_names=list(config.class_names),
        taxonomy_mapping={output: config.output_parent(output) for output in config.output_classes},
        metrics=checkpoint.metrics,
        data_summary=checkpoint.data_summary,
        clinical_metadata=config.metadata is not None,
        created_by=created_by,
    )
    if activate_for:
        model_version_activate(model_version=model_version, tasks=activate_for)
    return model_version, True


def external_model_check(
    path: Path, description: ModelDescription, arch: str | None, *, sha256: str = ""
) -> object:
    """Load a model brought from elsewhere as a worker will (on the CPU), which checks that
    its description fits the file; returns the predictor. Raises DescriptionError."""
    taxonomy = load_taxonomy()
    if arch is None:
        from classifier.external.onnx_runner import OnnxPredictor  # onnxruntime: loaded on use

        return OnnxPredictor(
            path, description, taxonomy.training_classes, device="cpu", sha256=sha256
        )
    from classifier.external.timm_model import timm_predictor  # torch: loaded on use

    return timm_predictor(
        arch,
        path,
        description,
        taxonomy.training_classes,
        taxonomy_version=taxonomy.version,
        device="cpu",
        precision="fp32",
        sha256=sha256,
    )


def _register_external(
    path: Path,
    description: ModelDescription,
    arch: str | None,
    name: str | None,
    created_by: User | None,
    activate_for: Iterable[str],
) -> tuple[ModelVersion, bool]:
    file_hash = file_sha256(path)
    sha256 = combined_sha256(file_hash, description)
    kind = ModelVersion.Kind.ONNX if arch is None else ModelVersion.Kind.TIMM
    existing = _existing(sha256, path, activate_for)
    if existing is not None:
        return existing, False
    try:
        external_model_check(path, description, arch, sha256=sha256)
    except DescriptionError as error:
        raise ModelRegistrationError(f"{path.name}: {error}") from None
    taxonomy = load_taxonomy()
    storage_name = f"models/{sha256}.{'onnx' if arch is None else 'pth'}"
    _store(path, storage_name)
    model_version = ModelVersion.objects.create(
        name=name or description.name or path.stem,
        kind=kind,
        arch=arch or "onnx",
        checkpoint=storage_name,
        sha256=sha256,
        file_sha256=file_hash,
        description=description.to_dict(),
        taxonomy_mapping=dict(description.taxonomy_mapping),
        taxonomy_version=taxonomy.version,
        input_size=list(description.input_size),
        # The columns of every score, as for native models: the taxonomy's training classes
        # (the model's own classes and their mapping are in the description).
        class_names=list(taxonomy.training_classes),
        metrics=dict(description.metrics),
        created_by=created_by,
    )
    if activate_for:
        model_version_activate(model_version=model_version, tasks=activate_for)
    return model_version, True


def _staged(upload: IO[bytes], suffix: str) -> Path:
    staging = Path(settings.UPLOAD_ROOT) / "checkpoints"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging, suffix=suffix, delete=False) as temporary:
        shutil.copyfileobj(upload, temporary)
        return Path(temporary.name)


def model_version_register_upload(
    *,
    upload: IO[bytes],
    filename: str,
    created_by: User | None,
    name: str | None = None,
    config: IO[bytes] | None = None,
    config_filename: str = "description.json",
    arch: str | None = None,
    activate_for: Iterable[str] = (),
) -> ModelVersion:
    """Register an uploaded model (scoring page, admin or API): a checkpoint, or an ONNX file
    or timm state_dict with its description. A model already registered is refused."""
    staged = [_staged(upload, Path(filename).suffix or ".bin")]
    try:
        config_path = None
        if config is not None:
            config_path = _staged(config, ".json")
            staged.append(config_path)
        try:
            model_version, created = model_version_register(
                path=staged[0],
                name=name or Path(filename).stem,
                created_by=created_by,
                config=config_path,
                arch=arch or None,
                activate_for=activate_for,
            )
        except ModelRegistrationError as error:
            # Name the files as the user knows them, not by their staging names.
            message = str(error).replace(staged[0].name, filename)
            if config_path is not None:
                message = message.replace(config_path.name, config_filename)
            raise ModelRegistrationError(message) from None
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
    if not created:
        raise ModelRegistrationError(
            f"{filename}: this model is already registered as {model_version} "
            f"(sha256 {model_version.sha256})"
        )
    return model_version


def model_version_register_shipped() -> ModelVersion | None:
    """Register the shipped default model and make it score every task that has no model.

    ``manage.py register_shipped_model`` runs it after ``migrate`` (make demo, the demo
    command, docker's migrate service, the deploy steps in the README). Idempotent: the
    checkpoint's sha256 is its identity, and a task that has a model keeps it. Does nothing
    when the checkpoint file is not in the checkout.
    """
    if not Path(DEFAULT_CHECKPOINT).exists():
        log.warning("the default model %s is missing; no model registered", DEFAULT_CHECKPOINT)
        return None
    model_version, _ = model_version_register(path=Path(DEFAULT_CHECKPOINT))
    if not ActiveModel.objects.filter(task=ANY_TASK).exists():
        model_version_activate(model_version=model_version, tasks=[ANY_TASK])
    return model_version
