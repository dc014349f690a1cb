"""Inside the CNN: the t-SNE map of case embeddings, Grad-CAM saliency maps, and the error
gallery (the cases the CNN gets wrong and those where it and most readers disagree).

t-SNE (van der Maaten & Hinton 2008) runs on the penultimate-layer features that the scoring
worker stored with each score, reduced first to at most 50 principal components for speed.
Grad-CAM (Selvaraju et al. 2017) needs the network and runs on a scoring worker.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.template.loader import render_to_string
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from readerstudy.analysis.design_reports import PlotlyOnce
from readerstudy.analysis.models import InsightStatus, SaliencyMap, TsneMap
from readerstudy.analysis.selectors import study_positive_classes
from readerstudy.celery import enqueue_on_commit
from readerstudy.reading.selectors import decision_final_list
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.saliency import TARGET_TOP
from readerstudy.scoring.selectors import (
    cnn_score_stamp_get,
    study_cnn_probabilities,
    study_embeddings,
)
from readerstudy.stats.study import StudyAnalysis
from readerstudy.studies.models import Case, Study


def _embedding_source(study: Study, model_version: ModelVersion) -> str:
    n, last = cnn_score_stamp_get(study, model_version, with_embedding=True)
    return f"{n}:{last}"


def tsne_map_request(study: Study, model_version: ModelVersion) -> TsneMap:
    """The study's t-SNE map; (re)computed by a worker when missing or out of date."""
    source = _embedding_source(study, model_version)
    with transaction.atomic():
        tsne, created = TsneMap.objects.select_for_update().get_or_create(
            study=study,
            model_version=model_version,
            defaults={"source": source, "status": InsightStatus.PENDING},
        )
        stale = tsne.source != source and tsne.status != InsightStatus.PENDING
        if created or stale:
            tsne.source = source
            tsne.status = InsightStatus.PENDING
            tsne.save(update_fields=["source", "status", "updated_at"])
            enqueue_on_commit("readerstudy.analysis.tasks.tsne_compute", tsne_map_id=tsne.pk)
    return tsne


def tsne_coordinates(embeddings: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (van der Maaten & Hinton 2008) after PCA to <= 50 dimensions."""
    n = embeddings.shape[0]
    if n < 3:
        return np.zeros((n, 2))
    reduced = PCA(
        n_components=min(50, n - 1, embeddings.shape[1]), random_state=seed
    ).fit_transform(embeddings)
    tsne = TSNE(
        n_components=2,
        perplexity=float(min(30, max(2, (n - 1) // 3))),
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    return tsne.fit_transform(reduced)


def tsne_map_compute(*, tsne_map_id: int) -> None:
    tsne = TsneMap.objects.select_related("study", "model_version").get(pk=tsne_map_id)
    began = time.perf_counter()
    try:
        case_ids, embeddings = study_embeddings(tsne.study, tsne.model_version)
        points = tsne_coordinates(embeddings)
    except Exception as error:
        TsneMap.objects.filter(pk=tsne.pk).update(
            status=InsightStatus.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    TsneMap.objects.filter(pk=tsne.pk).update(
        status=InsightStatus.READY,
        coordinates={
            str(pk): [float(x), float(y)] for pk, (x, y) in zip(case_ids, points, strict=True)
        },
        error="",
        seconds=time.perf_counter() - began,
    )


def tsne_points(tsne: TsneMap) -> list[dict[str, Any]]:
    """The ready map's points: the case (opaque id and the image set's id), its position,
    truth, diagnosis and CNN score."""
    scores = study_cnn_probabilities(tsne.study, tsne.model_version)
    cases = Case.objects.filter(pk__in=[int(k) for k in tsne.coordinates]).only(
        "pk", "public_id", "source_id", "diagnosis", "truth"
    )
    points = []
    for case in cases:
        x, y = tsne.coordinates[str(case.pk)]
        points.append(
            {
                "case": str(case.public_id),
                "source_id": case.source_id,
                "x": x,
                "y": y,
                "truth": int(case.truth),
                "diagnosis": case.diagnosis,
                "score": scores.get(case.pk),
            }
        )
    return points


def tsne_report_section(study: Study, model_version: ModelVersion, *, plotly: PlotlyOnce) -> str:
    """The t-SNE map for the HTML report, if a worker has computed it (else nothing)."""
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.figures import tsne_figure

    tsne = TsneMap.objects.filter(
        study=study, model_version=model_version, status=InsightStatus.READY
    ).first()
    if tsne is None:
        return ""
    figure = tsne_figure(tsne_points(tsne))
    return render_to_string(
        "analysis/_report_tsne.html",
        {
            "model_version": model_version,
            "figure_html": plotly.html(figure),
        },
    )


def operating_threshold(analysis: StudyAnalysis | None) -> tuple[float, str]:
    """The study's operating point for the gallery: the CNN's threshold at the readers' mean
    sensitivity (Brinker 2019) once readers have graded, else a probability of 0.5; with a
    phrase saying which."""
    brinker = analysis.to_dict().get("brinker") if analysis is not None else None
    if brinker and brinker.get("cnn_threshold") is not None:
        return float(brinker["cnn_threshold"]), (
            f"the readers' mean sensitivity ({100 * brinker['target']:.1f}%)"
        )
    return 0.5, "a probability of 0.5"


@dataclass(frozen=True)
class GalleryRow:
    case: Case
    truth: bool
    probability: float
    cnn_positive: bool
    readers: int
    biopsy_votes: int

    @property
    def cnn_wrong(self) -> bool:
        return self.cnn_positive != self.truth

    @property
    def majority_positive(self) -> bool | None:
        if not self.readers:
            return None
        return 2 * self.biopsy_votes > self.readers

    @property
    def disagrees_with_readers(self) -> bool:
        majority = self.majority_positive
        return majority is not None and majority != self.cnn_positive

    @property
    def false_negative(self) -> bool:
        return self.truth and not self.cnn_positive

    @property
    def false_positive(self) -> bool:
        return self.cnn_positive and not self.truth


# The error gallery's filters: (key, label, which rows it shows).
GALLERY_FILTERS: tuple[tuple[str, str, Callable[[GalleryRow], bool]], ...] = (
    ("all", "All", lambda row: True),
    ("fn", "False negatives", lambda row: row.false_negative),
    ("fp", "False positives", lambda row: row.false_positive),
    ("disagree", "CNN and most readers disagree", lambda row: row.disagrees_with_readers),
)
# Seconds per Grad-CAM map until the workers have measured some (bench/insight.py: 0.05 s
# for the network on two CPU cores, plus loading the image and storing the overlay).
SALIENCY_SECONDS_GUESS = 0.5


@dataclass(frozen=True)
class SaliencyEstimate:
    """How long the saliency maps still missing will take one worker process."""

    pending: int
    seconds_each: float
    measured: bool

    @property
    def seconds(self) -> float:
        return self.pending * self.seconds_each


def saliency_estimate(model_version: ModelVersion, cases: Iterable[Case]) -> SaliencyEstimate:
    """The maps (CNN's top class) not computed yet for ``cases``, at the median time the
    workers took per map for this model, or a first guess before any was computed."""
    case_ids = {case.pk for case in cases}
    ready = set(
        SaliencyMap.objects.filter(
            case_id__in=case_ids,
            model_version=model_version,
            target=TARGET_TOP,
            status=InsightStatus.READY,
        ).values_list("case_id", flat=True)
    )
    timings = list(
        SaliencyMap.objects.filter(
            model_version=model_version, status=InsightStatus.READY, seconds__isnull=False
        )
        .order_by("-updated_at")
        .values_list("seconds", flat=True)[:200]
    )
    return SaliencyEstimate(
        pending=len(case_ids - ready),
        seconds_each=float(np.median(timings)) if timings else SALIENCY_SECONDS_GUESS,
        measured=bool(timings),
    )


def error_gallery(
    study: Study, model_version: ModelVersion, *, threshold: float
) -> list[GalleryRow]:
    """Cases the CNN calls wrongly at ``threshold`` and cases where the CNN and most readers
    disagree, most confident mistakes first."""
    scores = study_cnn_probabilities(study, model_version)
    votes: dict[int, list[int]] = {}
    # A diagnosis-only study: a reader's class stands for the decision, as on the ROC page.
    positive = study_positive_classes(study)
    rows = decision_final_list(study).values_list("case_id", "biopsy", "diagnosis_class")
    for case_id, biopsy, diagnosis_class in rows:
        tally = votes.setdefault(case_id, [0, 0])
        tally[0] += 1
        tally[1] += int(diagnosis_class in positive if biopsy is None else biopsy)
    listed = []
    for case in Case.objects.filter(study=study, pk__in=scores).order_by("position"):
        probability = scores[case.pk]
        readers, biopsy = votes.get(case.pk, [0, 0])
        row = GalleryRow(
            case=case,
            truth=case.truth,
            probability=probability,
            cnn_positive=probability >= threshold,
            readers=readers,
            biopsy_votes=biopsy,
        )
        if row.cnn_wrong or row.disagrees_with_readers:
            listed.append(row)
    return sorted(listed, key=lambda r: -abs(r.probability - threshold) if r.cnn_wrong else 1)


def _data_uri(field, content_type: str) -> str:
    try:
        with field.open("rb") as handle:
            return f"data:{content_type};base64,{base64.b64encode(handle.read()).decode()}"
    except (OSError, ValueError):
        return ""


def gallery_report_section(study: Study, model_version: ModelVersion, *, threshold: float) -> str:
    """The error gallery for the HTML report, images inline (data URIs) so it opens offline.

    Saliency maps appear where a worker has already computed them."""
    rows = error_gallery(study, model_version, threshold=threshold)
    ready = {
        saliency.case_id: saliency
        for saliency in SaliencyMap.objects.filter(
            case__study=study,
            model_version=model_version,
            target=TARGET_TOP,
            status=InsightStatus.READY,
        )
    }
    items = [
        {
            "row": row,
            "thumbnail": _data_uri(row.case.thumbnail, "image/jpeg"),
            "saliency": _data_uri(ready[row.case.pk].overlay, "image/png")
            if row.case.pk in ready
            else "",
        }
        for row in rows
    ]
    return render_to_string(
        "analysis/_report_gallery.html",
        {"items": items, "threshold": threshold, "model_version": model_version},
    )
