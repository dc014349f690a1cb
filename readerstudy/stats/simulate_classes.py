"""Simulated readers who name one class among N (diagnosis studies), for demos and tests.

Each reader j has their own accuracy a_j, drawn around the panel's mean on the logit scale
(readers differ in skill, as in Tschandl et al., Lancet Oncol 2019, where 511 readers' accuracy
on seven classes spread widely around a mean near 60%). Case k also has a difficulty d_k shared
by every reader, so that readers agree on easy cases and err together on hard ones, which is
what makes Fleiss' kappa (and a CNN-vs-panel comparison) meaningful:

    P(reader j names the true class of case k) = expit(logit(a_j) - d_k)

A wrong answer is a class other than the truth, drawn with the weights of ``confusion``
(row: true class), e.g. higher for classes of the same lineage (melanoma is mistaken for a
nevus more often than for a vascular lesion); uniform over the other classes by default.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special


def simulate_class_answers(
    truth: ArrayLike,
    n_classes: int,
    n_readers: int,
    *,
    mean_accuracy: float,
    reader_sd: float = 0.5,
    case_sd: float = 0.8,
    confusion: ArrayLike | None = None,
    seed: int,
) -> np.ndarray:
    """Class indices answered by ``n_readers`` readers for each case, shape (readers, cases).

    ``truth``: each case's true class index (0 .. n_classes - 1). ``mean_accuracy``: the
    panel's mean probability of naming the true class of a case of average difficulty.
    ``confusion``: (n_classes, n_classes) non-negative weights of the wrong answers.
    """
    truth = np.asarray(truth, dtype=int)
    if truth.ndim != 1 or truth.size == 0:
        raise ValueError("truth must be a non-empty 1-D array of class indices")
    if n_classes < 2 or truth.min() < 0 or truth.max() >= n_classes:
        raise ValueError(f"truth must hold class indices 0..{n_classes - 1}")
    if not 0 < mean_accuracy < 1:
        raise ValueError("mean_accuracy must lie strictly between 0 and 1")
    if n_readers < 1:
        raise ValueError("n_readers must be at least 1")
    weights = np.ones((n_classes, n_classes)) if confusion is None else np.asarray(confusion, float)
    if weights.shape != (n_classes, n_classes) or (weights < 0).any():
        raise ValueError(f"confusion must be a non-negative {n_classes}x{n_classes} array")
    weights = weights.copy()
    np.fill_diagonal(weights, 0.0)
    empty = weights.sum(axis=1) == 0
    weights[empty] = 1.0
    np.fill_diagonal(weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    rng = np.random.default_rng(seed)
    skill = special.logit(mean_accuracy) + reader_sd * rng.standard_normal(n_readers)
    difficulty = case_sd * rng.standard_normal(truth.size)
    right = rng.random((n_readers, truth.size)) < special.expit(skill[:, None] - difficulty)
    cumulative = np.cumsum(weights[truth], axis=1)  # (cases, classes)
    draws = rng.random((n_readers, truth.size, 1))
    wrong = (draws > cumulative[None, :, :]).sum(axis=2)
    wrong = np.minimum(wrong, n_classes - 1)
    return np.where(right, truth[None, :], wrong)
