"""The confound audit: does anything that is not the lesion predict the truth?

A reader or a CNN that can tell the classes apart by the image's source, size, compression or
colour cast learns the cue, not the disease. Winkler et al. (JAMA Dermatol 2019;155:1135-41)
showed surgical skin markings raising a market-approved CNN's false-positive rate from 12% to
40% on the same nevi; a sharpness or source cue does the same to readers (in the first demo
study every sharp 1024-px image was a melanoma).

Each property is scored on its own: the empirical AUC of the property for the truth with its
DeLong (1988) 95% CI, oriented so that 0.5 is "says nothing" and 1.0 "separates perfectly"
whichever way round. A categorical property (import batch, file format, a missing clinical
field) scores each case by its category's share of positives, the best any rule on that
property alone can do on these cases. The CNN is also scored per import batch: a model that
is good on one source and at chance on another has learnt the source.

A warning is raised where a property alone reaches ``WARNING_AUC`` and chance explains it
poorly: the two-sided Mann-Whitney test of "the property says nothing" gives p < ``ALPHA``
(exact for small studies without ties, so that 2 melanomas and 3 nevi that happen to separate
by colour do not warn; DeLong's interval is degenerate at an AUC of 1). The coordinator must
acknowledge the warnings before the study opens.

0.65 is half-way from chance to what dermatologists achieve on dermoscopic melanoma-vs-nevus
images (AUC ~0.8, Brinker et al., Eur J Cancer 2019): a cue that strong changes a reader's
decisions and a CNN's score. The first demo's source and pixel size each scored 0.69 (30 of its
80 melanomas, and none of its nevi, were sharp ISIC images).

Pure functions over arrays; no ORM (``readerstudy.studies.confounds`` gathers the values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from readerstudy.stats.roc import auc_ci

WARNING_AUC = 0.65
ALPHA = 0.05
LEVEL = 0.95
CNN_BY_SOURCE = "cnn_by_source"


@dataclass(frozen=True)
class PropertyAudit:
    """One property on its own: ``auc`` is oriented (>= 0.5), None where it cannot be
    computed (a class without the property recorded)."""

    key: str
    label: str
    auc: float | None
    ci: tuple[float, float] | None
    n_cases: int
    n_missing: int
    higher_in: str = ""  # "positives", "negatives" or a category ("import 3") most positive
    p_value: float | None = None  # two-sided Mann-Whitney, against "says nothing"
    warning: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "auc": self.auc,
            "ci": list(self.ci) if self.ci else None,
            "n_cases": self.n_cases,
            "n_missing": self.n_missing,
            "higher_in": self.higher_in,
            "p_value": self.p_value,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class SourceCnnAudit:
    """The CNN's AUC on one source's cases (None where the source lacks a class)."""

    source: str
    auc: float | None
    ci: tuple[float, float] | None
    n_positive: int
    n_negative: int

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "auc": self.auc,
            "ci": list(self.ci) if self.ci else None,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
        }


@dataclass(frozen=True)
class ConfoundAudit:
    properties: list[PropertyAudit]
    cnn_by_source: list[SourceCnnAudit] = field(default_factory=list)
    cnn_by_source_warning: bool = False
    threshold: float = WARNING_AUC

    @property
    def warnings(self) -> list[dict[str, object]]:
        """What the coordinator acknowledges: [{key, label, auc, ci}]."""
        found: list[dict[str, object]] = [
            {"key": p.key, "label": p.label, "auc": p.auc, "ci": list(p.ci or ())}
            for p in self.properties
            if p.warning
        ]
        if self.cnn_by_source_warning:
            found.append(
                {
                    "key": CNN_BY_SOURCE,
                    "label": "The CNN's AUC differs between sources",
                    "auc": None,
                    "ci": [],
                }
            )
        return found

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "level": LEVEL,
            "properties": [p.as_dict() for p in self.properties],
            "cnn_by_source": [s.as_dict() for s in self.cnn_by_source],
            "cnn_by_source_warning": self.cnn_by_source_warning,
            "warnings": self.warnings,
        }


def _oriented(truth: np.ndarray, scores: np.ndarray) -> tuple[float, tuple[float, float], bool]:
    """AUC and CI turned round to >= 0.5, and whether positives score higher."""
    result = auc_ci(truth, scores, LEVEL)
    if result.auc >= 0.5:
        return result.auc, result.ci, True
    low, high = result.ci
    return 1.0 - result.auc, (1.0 - high, 1.0 - low), False


def _p_value(truth: np.ndarray, scores: np.ndarray) -> float:
    """Two-sided Mann-Whitney U test (exact when small and untied, else normal with a tie
    correction); 1.0 for a property that is the same for every case."""
    if np.ptp(scores) == 0:
        return 1.0
    return float(stats.mannwhitneyu(scores[truth], scores[~truth], alternative="two-sided").pvalue)


def _both_classes(truth: np.ndarray) -> bool:
    return bool(truth.any()) and not bool(truth.all())


def _recorded(truth: Sequence[bool], values: Sequence[object]) -> tuple[list[int], np.ndarray]:
    """Indices of the cases with the property recorded (not None), and their truth."""
    recorded = [i for i, v in enumerate(values) if v is not None]
    return recorded, np.asarray([truth[i] for i in recorded], dtype=bool)


def _scored(
    key: str, label: str, labels: np.ndarray, scores: np.ndarray, missing: int
) -> PropertyAudit:
    """The audit of ``scores`` for ``labels``: oriented AUC, DeLong CI, Mann-Whitney p."""
    if not _both_classes(labels):
        return PropertyAudit(key, label, None, None, len(labels), missing)
    auc, ci, higher = _oriented(labels, scores)
    p_value = _p_value(labels, scores)
    # A property with one value for every case is higher in neither class.
    constant = bool(np.all(scores == scores[0]))
    return PropertyAudit(
        key,
        label,
        auc,
        ci,
        len(labels),
        missing,
        higher_in="" if constant else "positives" if higher else "negatives",
        p_value=p_value,
        warning=auc >= WARNING_AUC and p_value < ALPHA,
    )


def numeric_property_audit(
    key: str, label: str, truth: Sequence[bool], values: Sequence[float | None]
) -> PropertyAudit:
    """The AUC (DeLong 1988 CI) of a numeric property alone; None values are not recorded."""
    recorded, labels = _recorded(truth, values)
    scores = np.asarray([values[i] for i in recorded], dtype=np.float64)
    return _scored(key, label, labels, scores, len(values) - len(recorded))


def categorical_property_audit(
    key: str, label: str, truth: Sequence[bool], categories: Sequence[str | None]
) -> PropertyAudit:
    """The AUC (DeLong 1988 CI) of scoring each case by its category's share of positives.

    The ordering is learnt on the same cases, so with many small categories the AUC is
    optimistic; for two categories it is exact. ``higher_in`` names the category with the
    largest share of positives."""
    recorded, labels = _recorded(truth, categories)
    names = [str(categories[i]) for i in recorded]
    share = {name: float(labels[[n == name for n in names]].mean()) for name in sorted(set(names))}
    scores = np.asarray([share[n] for n in names], dtype=np.float64)
    audit = _scored(key, label, labels, scores, len(categories) - len(recorded))
    most_positive = max(share, key=lambda name: share[name]) if len(share) > 1 else ""
    return dataclasses.replace(audit, higher_in=most_positive if audit.auc is not None else "")


def cnn_by_source_audit(
    truth: Sequence[bool], scores: Sequence[float | None], sources: Sequence[str]
) -> tuple[list[SourceCnnAudit], bool]:
    """The CNN's AUC (DeLong 1988 CI) per source, and whether two sources' CIs are disjoint
    (the CNN works on one source and not on the other)."""
    audits = []
    for source in sorted(set(sources)):
        members = [i for i, s in enumerate(sources) if s == source and scores[i] is not None]
        labels = np.asarray([truth[i] for i in members], dtype=bool)
        n_positive = int(labels.sum())
        if not _both_classes(labels):
            audits.append(SourceCnnAudit(source, None, None, n_positive, len(labels) - n_positive))
            continue
        result = auc_ci(labels, np.asarray([scores[i] for i in members], dtype=np.float64), LEVEL)
        audits.append(
            SourceCnnAudit(source, result.auc, result.ci, n_positive, len(labels) - n_positive)
        )
    intervals = [a.ci for a in audits if a.ci is not None]
    disjoint = any(a[1] < b[0] or b[1] < a[0] for a in intervals for b in intervals)
    return audits, disjoint
