"""The worker's scoring loop: one model per process, images decoded while the CNN runs.

Native checkpoints and timm networks run in torch, ONNX graphs in onnxruntime; all give
training-class probabilities, so the task probability comes from the same taxonomy sums.

Each worker process keeps the predictors it has loaded, keyed by the checkpoint's sha256, so
a model is read from disk once per process. Images are decoded and transformed by a small
thread pool (Pillow releases the GIL), so the next batch is ready while the current batch is
in the network; scores are written batch by batch.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from classifier import DEFAULT_CHECKPOINT
from classifier.clinical import ClinicalInfo
from classifier.external.description import combined_sha256, description_from_dict
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import CnnScore, ModelVersion
from readerstudy.scoring.registration import file_sha256, model_version_register
from readerstudy.studies.models import Case

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # torch and onnxruntime load in the worker only, on first use
    import torch

    from classifier.external.onnx_runner import OnnxPredictor
    from classifier.predictor import Predictor

    ScoringPredictor = Predictor | OnnxPredictor

_PREDICTORS: dict[str, ScoringPredictor] = {}


def _torch_threads() -> int:
    return settings.READERSTUDY_TORCH_THREADS or max(1, os.cpu_count() or 1)


def predictor_for(model_version: ModelVersion) -> ScoringPredictor:
    """The process's predictor for ``model_version`` (loaded on first use)."""
    predictor = _PREDICTORS.get(model_version.sha256)
    if predictor is None:
        import torch  # torch loads in workers only, on first use

        from classifier.predictor import Predictor

        torch.set_num_threads(_torch_threads())
        path = Path(model_version.checkpoint.path)
        if not path.exists():
            path = _restore_shipped_checkpoint(model_version, path)
        if model_version.kind == ModelVersion.Kind.NATIVE:
            predictor = Predictor.from_checkpoint(
                path, device=settings.READERSTUDY_SCORING_DEVICE, precision="auto"
            )
            sha256 = predictor.sha256
        else:
            predictor, sha256 = _external_predictor(model_version, path)
        if sha256 != model_version.sha256:
            raise RuntimeError(
                f"model file {path} has sha256 {sha256}, "
                f"but model version {model_version.pk} is {model_version.sha256}"
            )
        _PREDICTORS[model_version.sha256] = predictor
        log.info("loaded %s on %s (%s)", model_version, predictor.device, predictor.precision)
    return predictor


def network_predictor_for(model_version: ModelVersion) -> Predictor:
    """The process's torch predictor for a native or timm model (what Grad-CAM needs)."""
    from classifier.predictor import Predictor  # torch loads in workers only

    predictor = predictor_for(model_version)
    if not isinstance(predictor, Predictor):
        raise ValueError(f"{model_version} is not a torch network: no saliency maps")
    return predictor


def _external_predictor(model_version: ModelVersion, path: Path) -> tuple[ScoringPredictor, str]:
    """The predictor of a timm or ONNX model from its file and stored description, and the
    identity the two give together."""
    # torch and onnxruntime load in workers only, on first use.
    from classifier.external.onnx_runner import OnnxPredictor
    from classifier.external.timm_model import timm_predictor

    taxonomy = load_taxonomy()
    description = description_from_dict(
        model_version.description, training_classes=taxonomy.training_classes
    )
    sha256 = combined_sha256(file_sha256(path), description)
    device = settings.READERSTUDY_SCORING_DEVICE
    if model_version.kind == ModelVersion.Kind.ONNX:
        return OnnxPredictor(
            path,
            description,
            taxonomy.training_classes,
            device=device,
            threads=_torch_threads(),
            sha256=sha256,
        ), sha256
    predictor = timm_predictor(
        model_version.arch,
        path,
        description,
        taxonomy.training_classes,
        taxonomy_version=taxonomy.version,
        device=device,
        precision="auto",
        sha256=sha256,
    )
    return predictor, sha256


def _restore_shipped_checkpoint(model_version: ModelVersion, path: Path) -> Path:
    """Put the shipped model's file back where its version expects it (a media volume
    restored without ``models/``, say); any other missing checkpoint is an error that says
    how to repair it."""
    if DEFAULT_CHECKPOINT.exists() and file_sha256(DEFAULT_CHECKPOINT) == model_version.sha256:
        # Registering the same bytes again stores the missing file (and changes nothing else).
        model_version_register(path=DEFAULT_CHECKPOINT)
        log.warning("restored the shipped model's checkpoint at %s", path)
        return path
    raise FileNotFoundError(
        f"model version {model_version.pk} ({model_version.name}): its checkpoint {path} is "
        "missing; register the file again with manage.py register_model PATH"
    )


def load_case_tensor(predictor: ScoringPredictor, case: Case) -> torch.Tensor | np.ndarray:
    """Decode the case's stored display image and apply the model's eval transform."""
    from PIL import Image  # image decoding belongs to workers: web processes never load it

    with case.display_image.open("rb") as handle, Image.open(handle) as image:
        return predictor.transform(image.convert("RGB"))


def case_clinical_info(case: Case) -> ClinicalInfo:
    """The patient's details of ``case`` as a model that weighs them reads them."""
    return ClinicalInfo.of(case.age, case.sex, case.site)


@dataclass
class ScoredBatch:
    scores: list[CnnScore] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    # Seconds the network waited for this batch's images to be decoded, and ran on them.
    waited_s: float = 0.0
    forward_s: float = 0.0


def score_cases_in_batches(
    *, model_version: ModelVersion, cases: Sequence[Case], hostname: str | None = None
) -> Iterator[ScoredBatch]:
    """Score ``cases`` with ``model_version``, one batch at a time, for the caller to store.

    A case whose image fails to load is reported in its batch's ``errors`` (case id ->
    message); the others are scored.
    """
    import torch  # torch loads in workers only, on first use

    predictor = predictor_for(model_version)
    taxonomy = load_taxonomy()
    batch_size = int(settings.READERSTUDY_SCORING_BATCH)
    hostname = hostname or socket.gethostname()
    device = f"{predictor.device}:{predictor.precision}"
    tasks = {}
    with ThreadPoolExecutor(max_workers=settings.READERSTUDY_DECODE_THREADS) as pool:
        futures: list[tuple[Case, Future[torch.Tensor | np.ndarray]]] = [
            (case, pool.submit(load_case_tensor, predictor, case)) for case in cases
        ]
        for start in range(0, len(futures), batch_size):
            batch = ScoredBatch()
            batch_cases, tensors = [], []
            waiting = time.perf_counter()
            for case, future in futures[start : start + batch_size]:
                try:
                    tensors.append(future.result())
                    batch_cases.append(case)
                except Exception as error:  # noqa: BLE001 (a bad image must not stop the rest)
                    batch.errors[case.pk] = f"{type(error).__name__}: {error}"
            batch.waited_s = time.perf_counter() - waiting
            if not batch_cases:
                yield batch
                continue
            began = time.perf_counter()
            # A torch model takes a tensor batch; an ONNX graph (no torch needed) an array.
            stacked = (
                np.stack(tensors) if isinstance(tensors[0], np.ndarray) else torch.stack(tensors)  # type: ignore[arg-type]
            )
            if getattr(predictor, "uses_metadata", False):
                # A model that weighs the patient's details (classifier.clinical) gets each
                # case's; it scores only studies whose readers see them (services).
                prediction = predictor.predict(  # type: ignore[call-arg]
                    stacked,  # type: ignore[arg-type]
                    features=True,
                    metadata=[case_clinical_info(case) for case in batch_cases],
                )
            else:
                prediction = predictor.predict(stacked, features=True)  # type: ignore[arg-type]
            seconds = batch.forward_s = time.perf_counter() - began
            fine = np.asarray(prediction.fine, dtype=np.float64)
            features = prediction.features
            for row, case in enumerate(batch_cases):
                study = case.study
                if study.pk not in tasks:
                    tasks[study.pk] = taxonomy.task_from_mapping(
                        study.task_definition, source=f"study {study.pk}"
                    )
                probability = float(taxonomy.task_probability(fine[row], tasks[study.pk])[0])
                batch.scores.append(
                    CnnScore(
                        case=case,
                        model_version=model_version,
                        probability=probability,
                        fine_probabilities=dict(
                            zip(model_version.class_names, map(float, fine[row]), strict=True)
                        ),
                        embedding=None
                        if features is None
                        else np.asarray(features[row], dtype=np.float16).tobytes(),
                        device=device,
                        worker_host=hostname,
                        duration_ms=1000.0 * seconds / len(batch_cases),
                    )
                )
            yield batch
