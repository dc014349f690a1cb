"""Roe-Metz simulation of reader panels and of a CNN, for tests, demos and power checks.

Roe & Metz (Acad Radiol 1997) model a reader's latent decision variable for case k as a sum of
independent normal effects; each truth class draws its own effects. For reader j:

    X_jk = mu * truth_k + R_j + C_k + RC_jk            (one modality: a reader panel)
    X_ijk = mu_i * truth_k + R_j + C_k + RC_jk + TR_ij + TC_ik + TRC_ijk   (modalities i)

- ``var_reader`` (R): reader skill, shared by all of a reader's cases of one class;
- ``var_case`` (C): case difficulty, shared by all readers, which makes reader AUCs correlate;
- ``var_reader_case`` (RC): the reader's case-by-case noise (Roe-Metz's RC plus pure error);
- ``var_modality_reader``, ``var_modality_case``, ``var_modality_reader_case``: the modality
  interactions TR, TC and TRC of the MRMC form;
- ``threshold_sd``: readers differ in where they put the biopsy cut (their operating points
  spread along their curves, Brinker 2019: sensitivity 55-100%, specificity 22.5-92.5%);
- ``rating_sd``: how widely a reader's confidence ratings spread around the cut.

Reader j biopsies when X_jk exceeds the reader's cut t0 + threshold_sd * z_j. Its rating maps
(X_jk - cut_j) / rating_sd through the normal CDF onto the integer scale, so ratings rise with X
and the middle of the scale sits at the cut.

Calibration (``simulate_reader_panel``): the separation mu and the mean cut t0 are solved so
that the panel's mean sensitivity and specificity equal the targets. ``calibrate="sample"``
solves on the drawn cases and readers: the panel then hits the targets to within
1 / (2 x readers x cases of the class), e.g. 0.00025 for 100 readers on 20 positives.
``calibrate="population"`` solves for the expected values instead (Phi of the target over the
total standard deviation): the targets then hold on average over studies, and a single
100-case study varies around them, as real studies do (use it for power checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from readerstudy.stats.design import MrmcDesign
from readerstudy.stats.readers import ReaderInput

Calibration = Literal["sample", "population"]


@dataclass(frozen=True)
class RoeMetzParameters:
    """Variance components of the latent decision variable (Roe & Metz 1997), per truth class.

    The single-modality defaults add to a within-class variance of 1; the modality terms are
    zero unless set (they matter only for ``simulate_mrmc``).
    """

    var_reader: float = 0.05
    var_case: float = 0.30
    var_reader_case: float = 0.65
    var_modality_reader: float = 0.0
    var_modality_case: float = 0.0
    var_modality_reader_case: float = 0.0
    threshold_sd: float = 0.35
    rating_sd: float = 1.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.rating_sd <= 0:
            raise ValueError("rating_sd must be positive")


@dataclass(frozen=True)
class SimulatedPanel:
    """A simulated reader panel: decisions (True = biopsy) and ratings, readers x cases."""

    readers: tuple[str, ...]
    decision: np.ndarray
    rating: np.ndarray
    threshold: np.ndarray
    separation: float
    mean_threshold: float
    parameters: RoeMetzParameters = field(default_factory=RoeMetzParameters)

    def reader_inputs(self) -> list[ReaderInput]:
        """The panel as ``study_analysis`` input, every reader having read every case."""
        cases = np.arange(self.decision.shape[1])
        return [
            ReaderInput(reader=name, case_index=cases, decision=d, rating=r)
            for name, d, r in zip(self.readers, self.decision, self.rating, strict=True)
        ]


def _check_truth(truth: ArrayLike) -> np.ndarray:
    positive = np.asarray(truth)
    if positive.ndim != 1 or not np.isin(positive, (0, 1)).all():
        raise ValueError("truth must be a 1-D array of 0/1")
    positive = positive.astype(bool)
    if positive.all() or not positive.any():
        raise ValueError("truth needs at least one positive and one negative case")
    return positive


def _class_effects(
    rng: np.random.Generator, positive: np.ndarray, variance: float, shape: tuple[int, ...]
) -> np.ndarray:
    """Reader-level effects (shape) drawn separately for each truth class, spread over the
    cases: (*shape, cases), each case taking the effect of its class."""
    per_class = rng.normal(0.0, np.sqrt(variance), size=(*shape, 2))
    return per_class[..., positive.astype(np.intp)]


def _case_effects(
    rng: np.random.Generator, n_cases: int, variance: float, shape: tuple[int, ...] = ()
) -> np.ndarray:
    """Independent effects for every case (and every index of shape): (*shape, cases)."""
    return rng.normal(0.0, np.sqrt(variance), size=(*shape, n_cases))


def _to_scale(z: np.ndarray, rating_scale: tuple[int, int]) -> np.ndarray:
    low, high = rating_scale
    if int(low) != low or int(high) != high or high <= low:
        raise ValueError(f"rating_scale must be two integers, low < high; got {rating_scale}")
    levels = int(high - low + 1)
    step = np.minimum(np.floor(levels * special.ndtr(z)), levels - 1)
    return low + step


def _split_point(sorted_values: np.ndarray, fraction: float) -> float:
    """A cut with round(fraction * n) of the sorted values below it."""
    n = len(sorted_values)
    k = int(np.clip(round(fraction * n), 0, n))
    if k == 0:
        return float(sorted_values[0] - 1.0)
    if k == n:
        return float(sorted_values[-1] + 1.0)
    return float(0.5 * (sorted_values[k - 1] + sorted_values[k]))


def simulate_reader_panel(
    truth: ArrayLike,
    n_readers: int,
    *,
    mean_sensitivity: float,
    mean_specificity: float,
    seed: int,
    rating_scale: tuple[int, int] = (0, 100),
    parameters: RoeMetzParameters | None = None,
    calibrate: Calibration = "sample",
) -> SimulatedPanel:
    """A panel of readers who each read every case, after Roe & Metz (1997).

    Calibrated so the panel's mean sensitivity and specificity equal the targets (see the
    module docstring for the tolerance of each calibration). Brinker et al. (2019)'s 145
    dermatologists: mean_sensitivity=0.894, mean_specificity=0.644.
    """
    positive = _check_truth(truth)
    params = parameters or RoeMetzParameters()
    if n_readers < 1:
        raise ValueError("n_readers must be at least 1")
    for name, value in (
        ("mean_sensitivity", mean_sensitivity),
        ("mean_specificity", mean_specificity),
    ):
        if not 0 < value < 1:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    if mean_sensitivity + mean_specificity <= 1:
        raise ValueError("mean sensitivity + specificity must exceed 1 (better than chance)")
    rng = np.random.default_rng(seed)
    noise = (
        _class_effects(rng, positive, params.var_reader, (n_readers,))
        + _case_effects(rng, len(positive), params.var_case)[None, :]
        + _case_effects(rng, len(positive), params.var_reader_case, (n_readers,))
    )
    offsets = params.threshold_sd * rng.standard_normal(n_readers)
    if calibrate == "sample":
        # A reader calls case k positive when noise + mu * truth > t0 + offset_j; pooling
        # (noise - offset) over the panel's readings of one class turns each target into a
        # quantile, because every reader reads every case.
        shifted = noise - offsets[:, None]
        mean_threshold = _split_point(np.sort(shifted[:, ~positive].ravel()), mean_specificity)
        separation = mean_threshold - _split_point(
            np.sort(shifted[:, positive].ravel()), 1 - mean_sensitivity
        )
    elif calibrate == "population":
        total_sd = np.sqrt(
            params.var_reader + params.var_case + params.var_reader_case + params.threshold_sd**2
        )
        mean_threshold = float(stats.norm.ppf(mean_specificity) * total_sd)
        separation = mean_threshold + float(stats.norm.ppf(mean_sensitivity) * total_sd)
    else:
        raise ValueError(f"calibrate must be 'sample' or 'population', got {calibrate!r}")
    latent = noise + separation * positive[None, :]
    threshold = mean_threshold + offsets
    above_cut = latent - threshold[:, None]
    return SimulatedPanel(
        readers=tuple(f"reader{j + 1:03d}" for j in range(n_readers)),
        decision=above_cut > 0,
        rating=_to_scale(above_cut / params.rating_sd, rating_scale),
        threshold=threshold,
        separation=float(separation),
        mean_threshold=float(mean_threshold),
        parameters=params,
    )


def simulate_cnn_scores(truth: ArrayLike, *, auc: float, seed: int) -> np.ndarray:
    """Positive-class probabilities of a CNN whose expected AUC is ``auc``.

    Equal-variance binormal model (Dorfman & Alf 1969): latent scores N(0, 1) for negatives and
    N(d, 1) for positives with d = sqrt(2) * Phi^-1(auc), mapped to (0, 1) by the logistic
    function; one study's empirical AUC varies around ``auc``.
    """
    positive = _check_truth(truth)
    if not 0.5 <= auc < 1:
        raise ValueError(f"auc must lie in [0.5, 1), got {auc}")
    rng = np.random.default_rng(seed)
    separation = np.sqrt(2) * float(stats.norm.ppf(auc))
    latent = rng.standard_normal(len(positive)) + separation * positive
    return np.asarray(special.expit(latent - separation / 2), dtype=np.float64)


def simulate_mrmc(
    truth: ArrayLike,
    n_readers: int,
    separations: ArrayLike,
    *,
    seed: int,
    parameters: RoeMetzParameters | None = None,
    rating_scale: tuple[int, int] | None = None,
) -> MrmcDesign:
    """A fully crossed modalities x readers x cases study from the Roe & Metz (1997) model.

    ``separations`` gives mu for each modality (equal values simulate the null hypothesis).
    Ratings are the latent values, or integer ratings when a ``rating_scale`` is given.
    """
    positive = _check_truth(truth)
    params = parameters or RoeMetzParameters()
    mu = np.atleast_1d(np.asarray(separations, dtype=np.float64))
    t, r, k = len(mu), n_readers, len(positive)
    rng = np.random.default_rng(seed)
    latent = (
        mu[:, None, None] * positive[None, None, :]
        + _class_effects(rng, positive, params.var_reader, (r,))[None, :, :]
        + _case_effects(rng, k, params.var_case)[None, None, :]
        + _case_effects(rng, k, params.var_reader_case, (r,))[None, :, :]
        + _class_effects(rng, positive, params.var_modality_reader, (t, r))
        + _case_effects(rng, k, params.var_modality_case, (t,))[:, None, :]
        + _case_effects(rng, k, params.var_modality_reader_case, (t, r))
    )
    ratings = latent if rating_scale is None else _to_scale(latent / params.rating_sd, rating_scale)
    return MrmcDesign(
        truth=positive.astype(np.int8),
        ratings=ratings,
        modalities=tuple(f"modality{i + 1}" for i in range(t)),
        readers=tuple(f"reader{j + 1:03d}" for j in range(r)),
        cases=tuple(str(c + 1) for c in range(k)),
    )


def simulate_algorithm_and_readers(
    truth: ArrayLike,
    n_readers: int,
    *,
    reader_separation: float,
    algorithm_separation: float,
    seed: int,
    parameters: RoeMetzParameters | None = None,
    var_algorithm_case: float = 0.6,
) -> MrmcDesign:
    """One fixed algorithm and a random reader panel on the same cases (the single-treatment
    design of Hillis 2007, section 5.3), after Roe & Metz (1997).

    Readers as ``simulate_mrmc`` with one modality; the algorithm has no reader effect (it is
    the same algorithm in every simulated study) and reads mu_A * truth_k + C_k + E_k, sharing
    the case effects C_k with the readers and adding its own case noise E_k
    (``var_algorithm_case``). One modality; the reader "algorithm" comes first. Population
    AUCs: Phi(mu_A / sqrt(2 (var_case + var_algorithm_case))) for the algorithm and
    Phi(mu_R / sqrt(2 (var_reader + var_case + var_reader_case))) for the readers' mean.
    """
    positive = _check_truth(truth)
    params = parameters or RoeMetzParameters()
    if var_algorithm_case < 0:
        raise ValueError(f"var_algorithm_case must not be negative, got {var_algorithm_case}")
    k = len(positive)
    rng = np.random.default_rng(seed)
    case = _case_effects(rng, k, params.var_case)
    readers = (
        reader_separation * positive[None, :]
        + _class_effects(rng, positive, params.var_reader, (n_readers,))
        + case[None, :]
        + _case_effects(rng, k, params.var_reader_case, (n_readers,))
    )
    algorithm = algorithm_separation * positive + case + _case_effects(rng, k, var_algorithm_case)
    return MrmcDesign(
        truth=positive.astype(np.int8),
        ratings=np.vstack([algorithm[None, :], readers])[None, :, :],
        modalities=("modality1",),
        readers=("algorithm", *(f"reader{j + 1:03d}" for j in range(n_readers))),
        cases=tuple(str(c + 1) for c in range(k)),
    )
