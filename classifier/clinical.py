"""The patient's details that a model may weigh beside the image (age, sex, body site), and
the head that does it (``classifier.metadata`` fits it; issue 22 item 5).

The head moves the image network's class log-probabilities by what the patient's details say
of each class:

    log P(class | image, patient) = a * log P_cnn(class | image) + x(patient) . W[:, class]
                                    + b[class] + const
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class HeadError(ValueError):
    """A metadata head that cannot be read."""


# The features a head may read, each from the patient's details (``ClinicalInfo``). Age is
# centred on 50 years and scaled by 20; a missing age is 0 there and 1 in ``age_missing``, an
# unknown sex 0 in both of its columns, an unknown site 0 in every site column.
AGE_CENTRE, AGE_SCALE = 50.0, 20.0
SEXES = ("male", "female")
# HAM10000's body sites (its ``localization`` column); ISIC's ``anatom_site_general`` names
# most of them too.
SITES = (
    "abdomen", "acral", "back", "chest", "ear", "face", "foot", "genital", "hand",
    "lower extremity", "neck", "scalp", "trunk", "upper extremity",
)  # fmt: skip
_AGE_SEX = ("age", "age_missing", *(f"sex={s}" for s in SEXES))
FEATURE_SETS = {
    "age,sex": _AGE_SEX,
    "age,sex,site": (*_AGE_SEX, *(f"site={s}" for s in SITES)),
}
KNOWN_FEATURES = frozenset(name for names in FEATURE_SETS.values() for name in names)


@dataclass(frozen=True)
class ClinicalInfo:
    """What a case says of its patient: age in years, sex and body site ("" when unknown)."""

    age: float | None = None
    sex: str = ""
    site: str = ""

    @classmethod
    def of(cls, age: object, sex: object, site: object) -> ClinicalInfo:
        """From loosely typed values (a manifest's cells, a model's fields): an age that is
        not a number in 0-120 counts as unknown; sex and site are compared in lower case."""
        try:
            years = float(age)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            years = math.nan
        known = math.isfinite(years) and 0 <= years <= 120
        return cls(
            age=years if known else None,
            sex=str(sex or "").strip().lower(),
            site=str(site or "").strip().lower(),
        )


def _feature(name: str, info: ClinicalInfo) -> float:
    if name == "age":
        return 0.0 if info.age is None else (info.age - AGE_CENTRE) / AGE_SCALE
    if name == "age_missing":
        return float(info.age is None)
    kind, _, value = name.partition("=")
    return float((info.sex if kind == "sex" else info.site) == value)


def encode(features: Sequence[str], infos: Sequence[ClinicalInfo]) -> np.ndarray:
    """The feature matrix (one row per patient, one column per feature)."""
    return np.array(
        [[_feature(name, info) for name in features] for info in infos], dtype=np.float64
    ).reshape(len(infos), len(features))


def log_probabilities(fine: np.ndarray) -> np.ndarray:
    """The log of probabilities, a probability of 0 counting as 1e-7."""
    return np.log(np.clip(np.asarray(fine, dtype=np.float64), 1e-7, 1.0))


@dataclass(frozen=True)
class MetadataHead:
    """The fitted head: ``evidence`` (a), ``weights`` (W, one row per feature, one column per
    training class) and ``bias`` (b)."""

    features: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    evidence: float

    def apply(self, fine: np.ndarray, infos: Sequence[ClinicalInfo]) -> np.ndarray:
        """Training-class probabilities given the image's (``fine``) and the patients'."""
        fine = np.asarray(fine, dtype=np.float64)
        if len(infos) != len(fine):
            raise ValueError(f"{len(infos)} patients' details for {len(fine)} images")
        logits = self.evidence * log_probabilities(fine) + self.shift(infos)
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def shift(self, infos: Sequence[ClinicalInfo]) -> np.ndarray:
        """What the patients' details add to each class's logit: x(patient) . W + b."""
        return encode(self.features, infos) @ np.asarray(  # type: ignore[no-any-return]
            self.weights, dtype=np.float64
        ) + np.asarray(self.bias, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [list(row) for row in self.weights],
            "bias": list(self.bias),
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_classes: int) -> MetadataHead:
        """Checked against the model's classes; raises HeadError naming what is wrong
        (a feature this program does not know is refused rather than read as 0)."""
        try:
            features = tuple(str(f) for f in data["features"])
            weights = tuple(tuple(float(v) for v in row) for row in data["weights"])
            bias = tuple(float(v) for v in data["bias"])
            evidence = float(data["evidence"])
        except (KeyError, TypeError, ValueError) as error:
            raise HeadError(f"invalid metadata head: {error!r}") from None
        unknown = [f for f in features if f not in KNOWN_FEATURES]
        if unknown:
            raise HeadError(f"metadata head reads unknown features {unknown}")
        if len(weights) != len(features) or any(len(row) != n_classes for row in weights):
            raise HeadError(
                f"metadata head weights are not {len(features)} x {n_classes} (features x classes)"
            )
        if len(bias) != n_classes:
            raise HeadError(f"metadata head has {len(bias)} biases for {n_classes} classes")
        values = [evidence, *bias, *(v for row in weights for v in row)]
        if not all(math.isfinite(v) for v in values):
            raise HeadError("metadata head holds a value that is not finite")
        return cls(features=features, weights=weights, bias=bias, evidence=evidence)
