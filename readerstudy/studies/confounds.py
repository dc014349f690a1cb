"""The confound audit of a study's cases, and the coordinator's acknowledgement of its warnings.

The statistics are ``readerstudy.stats.confounds`` (pure functions); this module reads the
properties recorded at ingest and the CNN's scores, and records acknowledgements. A study
whose audit warns opens only after a coordinator has acknowledged every current warning.

The CNN's scores belong to the scoring package, which sits above studies: studies cannot
import it. Scoring registers its reader of them here instead, in its app's ``ready()``
(``cnn_probabilities_provider_set(study_cnn_probabilities)``). Without one (scoring not
installed) the audit has no CNN scores, as for a study not scored yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.contrib.auth.models import User

from readerstudy.stats.confounds import (
    ConfoundAudit,
    categorical_property_audit,
    cnn_by_source_audit,
    numeric_property_audit,
)
from readerstudy.studies.models import Case, ConfoundAcknowledgement, Study

CASE_FIELDS = (
    "pk",
    "truth",
    "import_job_id",
    "width",
    "height",
    "source_format",
    "source_jpeg_quality",
    "age",
    "sex",
    "site",
    "mean_rgb",
    "border_rgb",
)
CHANNELS = ("red", "green", "blue")

# Case id -> the algorithm's positive probability for the study's task, for scored cases.
CnnProbabilities = Callable[[Study], Mapping[int, float]]


def _no_cnn_probabilities(study: Study) -> Mapping[int, float]:
    return {}


_cnn_probabilities: CnnProbabilities = _no_cnn_probabilities


def cnn_probabilities_provider_set(provider: CnnProbabilities) -> None:
    """Make the audit read the CNN's scores with ``provider`` (the scoring app calls this)."""
    global _cnn_probabilities
    _cnn_probabilities = provider


def _batch(job_id: int | None) -> str:
    return f"import {job_id}" if job_id is not None else "no import recorded"


def _missing(missing: bool) -> str:
    """The category of a case for a "... missing" property: what the audit's "higher in"
    column names (the cases with the larger share of positives)."""
    return "missing" if missing else "recorded"


def study_confound_audit(study: Study) -> ConfoundAudit:
    """Every non-lesion property's AUC for the truth, and the CNN's AUC per import batch."""
    cases = list(Case.objects.filter(study=study).order_by("position").values(*CASE_FIELDS))
    truth = [bool(c["truth"]) for c in cases]

    def numeric(key: str, label: str, values: list) -> None:
        properties.append(numeric_property_audit(key, label, truth, values))

    def categorical(key: str, label: str, values: list) -> None:
        properties.append(categorical_property_audit(key, label, truth, values))

    properties: list = []
    categorical(
        "import_batch", "Import batch (source)", [_batch(c["import_job_id"]) for c in cases]
    )
    numeric("pixel_width", "Pixel width", [c["width"] for c in cases])
    numeric("pixel_height", "Pixel height", [c["height"] for c in cases])
    numeric("pixel_area", "Pixel area", [c["width"] * c["height"] for c in cases])
    numeric("aspect_ratio", "Aspect ratio", [c["width"] / c["height"] for c in cases])
    categorical("file_format", "File format", [c["source_format"] or None for c in cases])
    numeric(
        "jpeg_quality",
        "JPEG quality of the original",
        [c["source_jpeg_quality"] for c in cases],
    )
    categorical("age_missing", "Age missing", [_missing(c["age"] is None) for c in cases])
    categorical("sex_missing", "Sex missing", [_missing(not c["sex"]) for c in cases])
    categorical(
        "site_missing",
        "Body site missing",
        [_missing(c["site"] in ("", "unknown")) for c in cases],
    )
    for where, column in (("mean", "mean_rgb"), ("border", "border_rgb")):
        for index, channel in enumerate(CHANNELS):
            numeric(
                f"{where}_{channel}",
                f"{'Mean' if where == 'mean' else 'Border'} {channel} of the image",
                [c[column][index] if c[column] else None for c in cases],
            )
    probabilities = _cnn_probabilities(study)
    by_source, disjoint = cnn_by_source_audit(
        truth,
        [probabilities.get(c["pk"]) for c in cases],
        [_batch(c["import_job_id"]) for c in cases],
    )
    return ConfoundAudit(
        properties=properties, cnn_by_source=by_source, cnn_by_source_warning=disjoint
    )


def confound_acknowledgement_latest(study: Study) -> ConfoundAcknowledgement | None:
    return (
        ConfoundAcknowledgement.objects.filter(study=study)
        .select_related("acknowledged_by")
        .first()
    )


def confound_warnings_unacknowledged(study: Study, audit: ConfoundAudit) -> list[str]:
    """Labels of the audit's warnings that no acknowledgement of the study covers yet."""
    latest = confound_acknowledgement_latest(study)
    seen = {str(w["key"]) for w in latest.warnings} if latest else set()
    return [str(w["label"]) for w in audit.warnings if str(w["key"]) not in seen]


def confound_warnings_acknowledge(
    *, study: Study, user: User, audit: ConfoundAudit
) -> ConfoundAcknowledgement | None:
    """Record that ``user`` saw the audit's current warnings (None when there are none)."""
    if not audit.warnings:
        return None
    return ConfoundAcknowledgement.objects.create(
        study=study, acknowledged_by=user, warnings=audit.warnings
    )
