"""Simulated aided reading for the demo and the tests: unaided answers that move toward the AI.

A sequential aided study (Tschandl et al., Nature Medicine 2020; Maron et al., JMIR 2020)
records each reader's unaided answer, shows the CNN's output, and records the aided answer.
This module turns an unaided panel (e.g. ``simulate.simulate_reader_panel``) and the CNN's
scores on the same cases into aided answers with one documented knob, ``automation_bias``.

The model, for reader j and case k:

1. The reader's unaided evidence is z_jk = Phi^-1((rating_jk - low + 1/2) / levels), the
   probit of the centre of the rating's bin on the scale (low, high), which inverts the
   rating map of ``simulate.py``; its sign is set by the unaided decision (the bin at the
   reader's cut holds both decisions), so z_jk > 0 exactly when the reader biopsied.
2. The AI's shown evidence is a_k = Phi^-1(s_k) - Phi^-1(cnn_threshold), where s_k is the
   CNN's probability as shown: the score, or 1 - score on a faulty-AI case (Tschandl 2020
   inverted the output on a share of cases to measure over-reliance). a_k > 0 exactly when
   the shown output says "malignant".
3. Reader j relies on the AI with weight w_j = automation_bias ** exp(reliance_sd * e_j +
   skill_effect * s_j), where e_j ~ N(0, 1) is the reader's own (seeded) disposition and s_j
   the reader's standardised unaided accuracy. w_j is 0 when automation_bias is 0 (the AI is
   ignored), 1 when it is 1 (the AI's answer is adopted), rises with automation_bias for
   every reader, and is smaller for more accurate readers (skill_effect > 0), who lean less
   on the AI (Tschandl 2020: experts gained least and changed their answers least).
4. The aided evidence is (1 - w_j) z_jk + w_j a_k: the aided decision is its sign and the
   aided rating its bin on the scale.

So with a good AI the weaker readers gain most (they lean more and have more to gain), and on
faulty-AI cases every reader who leans at all is pulled toward the wrong answer. Because the
aided evidence moves along a line toward a_k as w_j grows, a reading that agrees with the AI
at one automation_bias agrees at every higher one (with the same seed).

For diagnosis questions, ``simulate_aided_answers`` uses the same reliance w_j as the
probability that a reader who disagrees with the AI's answer adopts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from readerstudy.stats.simulate import _check_truth, _to_scale

# The probit of a bin centre at the reader's cut is 0: nudged to this side of the decision.
_AT_CUT = 1e-9


@dataclass(frozen=True)
class SimulatedAidedReading:
    """Aided decisions (True = biopsy) and ratings (readers x cases), the CNN output as shown
    (inverted on faulty cases), which cases were faulty, and each reader's reliance w_j."""

    decision: np.ndarray
    rating: np.ndarray
    shown_score: np.ndarray
    faulty: np.ndarray
    reliance: np.ndarray
    automation_bias: float


@dataclass(frozen=True)
class SimulatedAidedAnswers:
    """Aided class answers (readers x cases), which readings changed, and the reliances."""

    answer: np.ndarray
    changed: np.ndarray
    reliance: np.ndarray
    automation_bias: float


def _checked_bias(automation_bias: float) -> float:
    if not 0.0 <= automation_bias <= 1.0:
        raise ValueError(f"automation_bias must lie in [0, 1], got {automation_bias}")
    return float(automation_bias)


def reader_reliance(
    unaided_accuracy: ArrayLike,
    automation_bias: float,
    *,
    seed: int,
    reliance_sd: float = 0.5,
    skill_effect: float = 0.5,
) -> np.ndarray:
    """Each reader's weight on the AI, w_j = automation_bias ** exp(reliance_sd * e_j +
    skill_effect * s_j) (step 3 of the module's model), from the readers' unaided accuracy."""
    bias = _checked_bias(automation_bias)
    if reliance_sd < 0 or skill_effect < 0:
        raise ValueError("reliance_sd and skill_effect must not be negative")
    accuracy = np.asarray(unaided_accuracy, dtype=np.float64)
    spread = accuracy.std()
    skill = (accuracy - accuracy.mean()) / spread if spread > 0 else np.zeros_like(accuracy)
    disposition = np.random.default_rng(seed).standard_normal(len(accuracy))
    return np.asarray(bias ** np.exp(reliance_sd * disposition + skill_effect * skill))


def choose_faulty_cases(n_cases: int, share: float, *, seed: int) -> np.ndarray:
    """A seeded mask of round(share x n_cases) cases whose shown AI output is inverted."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1], got {share}")
    rng = np.random.default_rng(seed)
    mask = np.zeros(n_cases, dtype=bool)
    mask[rng.choice(n_cases, size=round(share * n_cases), replace=False)] = True
    return mask


def simulate_aided_reading(
    truth: ArrayLike,
    unaided_decision: ArrayLike,
    unaided_rating: ArrayLike,
    cnn_scores: ArrayLike,
    *,
    automation_bias: float,
    seed: int,
    rating_scale: tuple[int, int] = (0, 100),
    faulty: ArrayLike | None = None,
    cnn_threshold: float = 0.5,
    reliance_sd: float = 0.5,
    skill_effect: float = 0.5,
) -> SimulatedAidedReading:
    """Aided decisions and ratings that move toward the CNN's shown output with weight w_j per
    reader (the model of the module docstring). ``unaided_decision`` and ``unaided_rating``
    are (readers, cases) on ``rating_scale``, as ``simulate_reader_panel`` draws them;
    ``cnn_scores`` are the CNN's probabilities; ``faulty`` marks cases shown inverted."""
    positive = _check_truth(truth)
    decision = np.asarray(unaided_decision, dtype=bool)
    rating = np.asarray(unaided_rating, dtype=np.float64)
    scores = np.asarray(cnn_scores, dtype=np.float64)
    n_cases = len(positive)
    if decision.ndim != 2 or decision.shape != rating.shape or decision.shape[1] != n_cases:
        raise ValueError(
            f"unaided decisions {decision.shape} and ratings {rating.shape} must both be "
            f"(readers, {n_cases} cases)"
        )
    if scores.shape != (n_cases,) or not ((scores >= 0) & (scores <= 1)).all():
        raise ValueError(f"cnn_scores must be {n_cases} probabilities in [0, 1]")
    if not 0 < cnn_threshold < 1:
        raise ValueError(f"cnn_threshold must lie strictly between 0 and 1, got {cnn_threshold}")
    low, high = rating_scale
    levels = high - low + 1
    if not ((rating >= low) & (rating <= high)).all():
        raise ValueError(f"unaided ratings must lie on the scale {rating_scale}")
    inverted = np.zeros(n_cases, dtype=bool) if faulty is None else np.asarray(faulty, dtype=bool)
    if inverted.shape != (n_cases,):
        raise ValueError(f"faulty must mark {n_cases} cases, got shape {inverted.shape}")

    reader_evidence = special.ndtri((rating - low + 0.5) / levels)
    reader_evidence = np.where(
        decision, np.maximum(reader_evidence, _AT_CUT), np.minimum(reader_evidence, -_AT_CUT)
    )
    shown = np.where(inverted, 1.0 - scores, scores)
    ai_evidence = special.ndtri(np.clip(shown, 1e-9, 1 - 1e-9)) - special.ndtri(cnn_threshold)
    # The AI says "malignant" when the shown score exceeds the threshold, as the CNN decides.
    ai_evidence = np.where(
        shown > cnn_threshold, np.maximum(ai_evidence, _AT_CUT), np.minimum(ai_evidence, -_AT_CUT)
    )

    accuracy = (decision == positive[None, :]).mean(axis=1)
    weight = reader_reliance(
        accuracy,
        automation_bias,
        seed=seed,
        reliance_sd=reliance_sd,
        skill_effect=skill_effect,
    )
    aided = (1 - weight[:, None]) * reader_evidence + weight[:, None] * ai_evidence[None, :]
    return SimulatedAidedReading(
        decision=aided > 0,
        rating=_to_scale(aided, rating_scale),
        shown_score=shown,
        faulty=inverted,
        reliance=weight,
        automation_bias=float(automation_bias),
    )


def simulate_aided_answers(
    truth: ArrayLike,
    unaided_answers: ArrayLike,
    ai_answers: ArrayLike,
    *,
    automation_bias: float,
    seed: int,
    reliance_sd: float = 0.5,
    skill_effect: float = 0.5,
) -> SimulatedAidedAnswers:
    """Aided class answers for diagnosis questions: where reader j's unaided answer differs
    from the AI's shown answer, the reader adopts the AI's answer with probability w_j (the
    reliance of the module's model, from the readers' unaided accuracy); otherwise the answer
    stays. The same seed and a higher automation_bias adopt a superset of the answers."""
    labels = np.asarray(truth, dtype=object)
    unaided = np.asarray(unaided_answers, dtype=object)
    ai = np.asarray(ai_answers, dtype=object)
    if unaided.ndim != 2 or unaided.shape[1] != len(labels) or ai.shape != labels.shape:
        raise ValueError(
            f"unaided answers {unaided.shape} must be (readers, {len(labels)} cases) and the "
            f"AI's answers one per case, got {ai.shape}"
        )
    accuracy = (unaided == labels[None, :]).mean(axis=1)
    rng = np.random.default_rng(seed)
    weight = reader_reliance(
        accuracy,
        automation_bias,
        seed=int(rng.integers(2**32)),
        reliance_sd=reliance_sd,
        skill_effect=skill_effect,
    )
    draw = rng.random(unaided.shape)
    adopt = (unaided != ai[None, :]) & (draw < weight[:, None])
    answer = np.where(adopt, np.broadcast_to(ai, unaided.shape), unaided)
    return SimulatedAidedAnswers(
        answer=answer,
        changed=adopt,
        reliance=weight,
        automation_bias=float(automation_bias),
    )
