"""Grad-CAM saliency maps (Selvaraju et al. 2017), computed once per case, model version and
target by a scoring worker (the network lives there) and kept as a PNG overlay.

Analysts ask for them on the case page and in the error gallery (any training class, or the
class the CNN rates highest); readers of an aided phase see the one for the study's task
(``Study.ai_show_saliency``), requested as soon as the case is served so that it is usually
ready when the CNN's output is revealed.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from PIL import Image

from readerstudy.celery import enqueue_on_commit
from readerstudy.scoring.inference import case_clinical_info, network_predictor_for
from readerstudy.scoring.models import InsightStatus, ModelVersion, SaliencyMap
from readerstudy.scoring.selectors import study_algorithm_get
from readerstudy.studies.models import Case, Study

# The class the model rates highest, whichever it is.
TARGET_TOP = "top"
# The positive side of the case's study's task (custom tasks included): what the aided phase's
# probability is the probability of, and so what the map shown beside it explains.
TARGET_TASK = "task"
SALIENCY_TASK = "readerstudy.scoring.tasks.saliency_compute"
# Sent by name when a reader's order is made or grows (readerstudy.reading.services.serving).
STUDY_SALIENCY_PREPARE_TASK = "readerstudy.scoring.tasks.study_saliency_prepare"


def saliency_map_request(case: Case, model_version: ModelVersion, target: str) -> SaliencyMap:
    """The case's Grad-CAM map for ``target``; computed by a scoring worker on first request."""
    try:
        with transaction.atomic():
            saliency, created = SaliencyMap.objects.get_or_create(
                case=case,
                model_version=model_version,
                target=target,
                defaults={"status": InsightStatus.PENDING},
            )
            if created:
                enqueue_on_commit(SALIENCY_TASK, saliency_map_id=saliency.pk)
    except IntegrityError:  # two first requests at once: the other one sent the task
        saliency = SaliencyMap.objects.get(case=case, model_version=model_version, target=target)
    return saliency


def saliency_map_compute(*, saliency_map_id: int) -> None:
    """Run Grad-CAM on the case's display image and store the overlay as PNG (no metadata:
    Pillow writes no text chunks unless asked)."""
    # torch loads only in the scoring worker that runs Grad-CAM, never in the web processes.
    from classifier.explain import grad_cam, overlay

    saliency = SaliencyMap.objects.select_related("case__study", "model_version").get(
        pk=saliency_map_id
    )
    began = time.perf_counter()
    predictor = network_predictor_for(saliency.model_version)
    with saliency.case.display_image.open("rb") as handle, Image.open(handle) as raw:
        image = raw.convert("RGB")
    target: str | tuple[str, ...] | None = saliency.target
    if saliency.target == TARGET_TOP:
        target = None
    elif saliency.target == TARGET_TASK:
        target = tuple(saliency.case.study.task_definition["positive"])
    cam = grad_cam(predictor, image, target=target, metadata=case_clinical_info(saliency.case))
    buffer = io.BytesIO()
    overlay(image, cam).save(buffer, format="PNG")
    name = f"saliency/{saliency.case.study_id}/{secrets.token_hex(12)}.png"
    saliency.overlay.save(name, ContentFile(buffer.getvalue()), save=False)
    saliency.status = InsightStatus.READY
    saliency.error = ""
    saliency.seconds = time.perf_counter() - began
    saliency.save(update_fields=["overlay", "status", "error", "seconds", "updated_at"])


def _reader_maps_shown(study: Study) -> ModelVersion | None:
    """The algorithm whose maps an aided phase of ``study`` shows; None when it shows none (the
    setting is off, or the algorithm is an ONNX graph or a file of scores, with no network
    here to explain)."""
    if not (study.aided and study.ai_show_saliency):
        return None
    model_version = study_algorithm_get(study)
    return model_version if study_saliency_shown(study, model_version) else None


def study_saliency_request(study: Study, case_ids: Iterable[int]) -> None:
    """Have a worker compute the maps readers of ``study`` will see for these cases (the
    task's positive side), ahead of the aided phase that shows them, in the order given (a
    reader's reading order: their next map is drawn first); nothing for a study that shows
    none, or for maps already there or on their way."""
    model_version = _reader_maps_shown(study)
    if model_version is None:
        return
    wanted = list(dict.fromkeys(case_ids))
    asked = set(
        SaliencyMap.objects.filter(
            model_version=model_version, target=TARGET_TASK, case_id__in=wanted
        ).values_list("case_id", flat=True)
    )
    for case_id in wanted:
        if case_id not in asked:
            saliency_map_request(Case(pk=case_id, study_id=study.pk), model_version, TARGET_TASK)


def study_saliency_shown(study: Study, model_version: ModelVersion | None) -> bool:
    """Whether the aided phase of ``study`` shows a Grad-CAM map beside the output of
    ``model_version``, the study's algorithm (``study_algorithm_get``, which the caller has)."""
    return (
        study.aided
        and study.ai_show_saliency
        and model_version is not None
        and model_version.has_embeddings
    )


def study_saliency_get(study: Study, case_id: int) -> SaliencyMap | None:
    """The map a reader of ``study`` sees for a case (any status); None when the study shows
    none or it has not been requested."""
    model_version = _reader_maps_shown(study)
    if model_version is None:
        return None
    return SaliencyMap.objects.filter(
        case_id=case_id, model_version=model_version, target=TARGET_TASK
    ).first()
