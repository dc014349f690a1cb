"""Diagnosis among N classes: readers and an algorithm answering one class per case.

Per reader (and for the algorithm): accuracy with its Wilson (1927) interval, mean recall
(balanced accuracy, Brodersen et al. 2010), per-class sensitivity and specificity (one class
against the rest) and the confusion matrix, as Esteva et al. (Nature 2017) and Tschandl et al.
(Lancet Oncol 2019) report them. The algorithm against each reader: the exact McNemar (1947)
test on the cases both answered; against the panel: the difference of accuracy with a
two-way (case and reader) bootstrap interval. Agreement between readers: Fleiss' (1971) kappa
and Cohen's (1960) kappa per pair.

Answers are class labels; ``classes`` gives the class set and its order (the confusion
matrix's rows are the truth, its columns the answer, both in that order). Labels outside
``classes`` raise DiagnosisInputError naming the array and the label.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from readerstudy.stats.bootstrap import case_reader_counts, percentile_ci
from readerstudy.stats.readers import WilsonCi, wilson_ci


class DiagnosisInputError(ValueError):
    """Class labels or answers that cannot be analysed; the message names what is wrong."""


@dataclass(frozen=True)
class ClassRates:
    """One class against the rest: sensitivity (recall of the class) and specificity."""

    label: Hashable
    sensitivity: WilsonCi
    specificity: WilsonCi


@dataclass(frozen=True)
class DiagnosisResult:
    """One reader's (or the algorithm's) answers scored against the truth.

    confusion[i, j]: cases of true class i answered j (classes in the given order).
    mean_recall: the mean of the per-class recalls over the classes present in the truth
    (balanced accuracy; NaN without cases).
    """

    n: int
    accuracy: WilsonCi
    mean_recall: float
    per_class: tuple[ClassRates, ...]
    confusion: np.ndarray


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar (1947) test of two raters' accuracy on the same cases.

    algorithm_only: cases the first (the algorithm) got right and the second (the reader)
    wrong; reader_only: the reverse. p is two-sided; 1.0 when there are no discordant cases.
    """

    n_cases: int
    algorithm_only: int
    reader_only: int
    p: float


@dataclass(frozen=True)
class PanelComparison:
    """The algorithm's accuracy minus the readers' mean accuracy, on the same cases, with a
    percentile interval from a two-way bootstrap of cases and readers."""

    n_cases: int
    n_readers: int
    algorithm_accuracy: float
    reader_mean_accuracy: float
    diff: float
    diff_ci: tuple[float, float]
    n_bootstrap: int
    seed: int


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' (1971) kappa of readers who all answered every case; NaN when chance
    agreement is 1 (every answer the same class)."""

    kappa: float
    n_readers: int
    n_cases: int


@dataclass(frozen=True)
class CohenKappa:
    """Cohen's (1960) kappa of two readers on the cases both answered."""

    reader_a: str
    reader_b: str
    n_cases: int
    kappa: float


def class_indices(values: ArrayLike, classes: Sequence[Hashable], name: str) -> np.ndarray:
    """``values`` as indices into ``classes``; DiagnosisInputError naming ``name`` and the
    first label that is not a class."""
    index = {label: i for i, label in enumerate(classes)}
    if len(index) != len(classes):
        raise DiagnosisInputError(f"classes must be distinct, got {list(classes)}")
    labels = np.asarray(values, dtype=object)
    if labels.ndim != 1:
        raise DiagnosisInputError(f"{name} must be one-dimensional, got shape {labels.shape}")
    out = np.empty(len(labels), dtype=np.intp)
    for k, label in enumerate(labels.tolist()):
        position = index.get(label)
        if position is None:
            raise DiagnosisInputError(
                f"{name}: {label!r} (entry {k}) is not one of the classes {list(classes)}"
            )
        out[k] = position
    return out


def _checked_pair(
    truth: ArrayLike, answer: ArrayLike, classes: Sequence[Hashable], name: str
) -> tuple[np.ndarray, np.ndarray]:
    if len(classes) < 2:
        raise DiagnosisInputError(f"a diagnosis needs at least two classes, got {list(classes)}")
    truth_index = class_indices(truth, classes, "truth")
    answer_index = class_indices(answer, classes, name)
    if len(truth_index) != len(answer_index):
        raise DiagnosisInputError(
            f"{name} has {len(answer_index)} answers but truth has {len(truth_index)} cases"
        )
    return truth_index, answer_index


def confusion_matrix(
    truth: ArrayLike, answer: ArrayLike, classes: Sequence[Hashable], name: str = "answer"
) -> np.ndarray:
    """Counts of (true class, answered class), rows the truth and columns the answer, in the
    order of ``classes`` (the layout of Esteva et al. 2017, Extended Data Fig. 3)."""
    truth_index, answer_index = _checked_pair(truth, answer, classes, name)
    k = len(classes)
    flat = np.bincount(truth_index * k + answer_index, minlength=k * k)
    return flat.reshape(k, k).astype(np.int64)


def diagnosis_result(
    truth: ArrayLike,
    answer: ArrayLike,
    classes: Sequence[Hashable],
    *,
    level: float = 0.95,
    name: str = "answer",
) -> DiagnosisResult:
    """Accuracy (Wilson 1927 score interval), mean recall (balanced accuracy; Brodersen et al.
    2010), per-class sensitivity and specificity with Wilson intervals, and the confusion
    matrix of one rater's answers."""
    confusion = confusion_matrix(truth, answer, classes, name)
    n = int(confusion.sum())
    correct = int(np.trace(confusion))
    per_true = confusion.sum(axis=1)
    per_answer = confusion.sum(axis=0)
    present = per_true > 0
    recall = np.diag(confusion)[present] / per_true[present]
    per_class = []
    for i, label in enumerate(classes):
        hits = int(confusion[i, i])
        negatives = n - int(per_true[i])
        true_negatives = negatives - (int(per_answer[i]) - hits)
        per_class.append(
            ClassRates(
                label=label,
                sensitivity=wilson_ci(hits, int(per_true[i]), level),
                specificity=wilson_ci(true_negatives, negatives, level),
            )
        )
    return DiagnosisResult(
        n=n,
        accuracy=wilson_ci(correct, n, level),
        mean_recall=float(recall.mean()) if len(recall) else float("nan"),
        per_class=tuple(per_class),
        confusion=confusion,
    )


def mcnemar_exact(
    truth: ArrayLike,
    algorithm_answer: ArrayLike,
    reader_answer: ArrayLike,
    classes: Sequence[Hashable],
) -> McNemarResult:
    """Exact McNemar (1947) test that the algorithm and a reader are equally accurate on the
    same cases: conditional on the b + c discordant cases (one right, the other wrong), the
    algorithm-only count b is Binomial(b + c, 1/2) under the null; two-sided p-value."""
    truth_index, algorithm_index = _checked_pair(truth, algorithm_answer, classes, "algorithm")
    _, reader_index = _checked_pair(truth, reader_answer, classes, "reader")
    algorithm_right = algorithm_index == truth_index
    reader_right = reader_index == truth_index
    b = int((algorithm_right & ~reader_right).sum())
    c = int((~algorithm_right & reader_right).sum())
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return McNemarResult(n_cases=len(truth_index), algorithm_only=b, reader_only=c, p=min(p, 1.0))


def algorithm_vs_panel(
    truth: ArrayLike,
    algorithm_answer: ArrayLike,
    reader_answers: ArrayLike,
    classes: Sequence[Hashable],
    *,
    n_bootstrap: int = 2000,
    seed: int = 2017,
    level: float = 0.95,
) -> PanelComparison:
    """The algorithm's accuracy minus the mean accuracy of a panel who read every case
    (``reader_answers``: readers x cases), with a two-way bootstrap percentile interval.

    Each resample draws the cases with replacement and, independently, the readers with
    replacement, and recomputes both accuracies on the drawn cases (the algorithm on the
    same cases, so the comparison stays paired): the case-and-reader bootstrap of MRMC
    studies (Obuchowski 1995; Beiden, Wagner & Campbell 2000), which lets the interval
    reflect reader as well as case variability. Percentile interval (Efron & Tibshirani 1993,
    ch. 13); seeded, so a result repeats.
    """
    if n_bootstrap < 1:
        raise DiagnosisInputError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    truth_index, algorithm_index = _checked_pair(truth, algorithm_answer, classes, "algorithm")
    answers = np.asarray(reader_answers, dtype=object)
    if answers.ndim != 2 or answers.shape[1] != len(truth_index) or answers.shape[0] < 1:
        raise DiagnosisInputError(
            f"reader answers must be (readers, {len(truth_index)} cases) with at least one "
            f"reader, got shape {answers.shape}"
        )
    n_cases = len(truth_index)
    if n_cases == 0:
        raise DiagnosisInputError("no cases to compare on")
    reader_right = np.array(
        [
            class_indices(row, classes, f"reader {r}") == truth_index
            for r, row in enumerate(answers)
        ],
        dtype=np.float64,
    )
    algorithm_right = (algorithm_index == truth_index).astype(np.float64)
    n_readers = reader_right.shape[0]
    algorithm_accuracy = float(algorithm_right.mean())
    reader_mean = float(reader_right.mean())
    case_counts, reader_counts = case_reader_counts(n_cases, n_readers, n_bootstrap, seed)
    # Accuracy of every reader on each resample's cases: (n_readers, n_bootstrap).
    reader_accuracy = reader_right @ case_counts.T / n_cases
    boot_reader_mean = (reader_counts * reader_accuracy.T).sum(axis=1) / n_readers
    boot_algorithm = case_counts @ algorithm_right / n_cases
    return PanelComparison(
        n_cases=n_cases,
        n_readers=n_readers,
        algorithm_accuracy=algorithm_accuracy,
        reader_mean_accuracy=reader_mean,
        diff=algorithm_accuracy - reader_mean,
        diff_ci=percentile_ci(boot_algorithm - boot_reader_mean, level),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )


def fleiss_kappa(reader_answers: ArrayLike, classes: Sequence[Hashable]) -> FleissKappa:
    """Fleiss' (1971) kappa for readers x cases answers, every reader answering every case:
    (P_bar - P_e) / (1 - P_e), with P_bar the mean pairwise agreement per case and P_e the
    chance agreement from the pooled class proportions."""
    answers = np.asarray(reader_answers, dtype=object)
    if answers.ndim != 2 or answers.shape[0] < 2 or answers.shape[1] < 1:
        raise DiagnosisInputError(
            f"Fleiss' kappa needs (readers, cases) answers with at least two readers and one "
            f"case, got shape {answers.shape}"
        )
    n_readers, n_cases = answers.shape
    index = np.array([class_indices(row, classes, f"reader {r}") for r, row in enumerate(answers)])
    k = len(classes)
    # counts[i, j]: readers who put case i in class j.
    counts = np.zeros((n_cases, k))
    np.add.at(counts, (np.broadcast_to(np.arange(n_cases), index.shape), index), 1.0)
    per_case = ((counts**2).sum(axis=1) - n_readers) / (n_readers * (n_readers - 1))
    observed = float(per_case.mean())
    proportions = counts.sum(axis=0) / (n_cases * n_readers)
    chance = float((proportions**2).sum())
    kappa = float("nan") if 1 - chance <= 1e-12 else (observed - chance) / (1 - chance)
    return FleissKappa(kappa=kappa, n_readers=n_readers, n_cases=n_cases)


def cohen_kappa(
    answer_a: ArrayLike,
    answer_b: ArrayLike,
    classes: Sequence[Hashable],
    *,
    reader_a: str = "a",
    reader_b: str = "b",
) -> CohenKappa:
    """Cohen's (1960) kappa of two readers' answers on the same cases: (p_o - p_e) / (1 - p_e),
    p_e from each reader's own class proportions; NaN when p_e is 1."""
    first = class_indices(answer_a, classes, f"reader {reader_a}")
    second = class_indices(answer_b, classes, f"reader {reader_b}")
    if len(first) != len(second) or len(first) == 0:
        raise DiagnosisInputError(
            f"readers {reader_a!r} and {reader_b!r} need answers on the same, non-empty cases "
            f"(got {len(first)} and {len(second)})"
        )
    k = len(classes)
    n = len(first)
    observed = float((first == second).mean())
    chance = float(
        (np.bincount(first, minlength=k) * np.bincount(second, minlength=k)).sum() / n**2
    )
    kappa = float("nan") if 1 - chance <= 1e-12 else (observed - chance) / (1 - chance)
    return CohenKappa(reader_a=reader_a, reader_b=reader_b, n_cases=n, kappa=kappa)


def cohen_kappa_pairs(
    reader_answers: Sequence[Sequence[Hashable | None]] | np.ndarray,
    classes: Sequence[Hashable],
    readers: Sequence[str],
) -> tuple[CohenKappa, ...]:
    """Cohen's (1960) kappa of every pair of readers on the cases both answered
    (``reader_answers``: readers x cases, None where a reader did not answer); pairs without a
    common case are left out. The same numbers as ``cohen_kappa`` pair by pair, computed for
    all pairs at once from per-class indicator matrices (a panel of 500 readers has 125,000
    pairs)."""
    if len(readers) < 2:
        return ()
    answers = np.asarray(reader_answers, dtype=object)
    if answers.ndim != 2 or answers.shape[0] != len(readers):
        raise DiagnosisInputError(
            f"reader answers must be ({len(readers)} readers, cases), got shape {answers.shape}"
        )
    present = np.array([[label is not None for label in row] for row in answers], dtype=bool)
    index = np.full(answers.shape, -1, dtype=np.intp)
    for r, row in enumerate(answers):
        index[r, present[r]] = class_indices(row[present[r]], classes, f"reader {readers[r]!r}")
    shown = present.astype(np.float64)
    common = shown @ shown.T  # cases both answered
    agree = np.zeros_like(common)
    # marginal[k][a, b]: cases that b also answered where a said class k.
    marginal = []
    for k in range(len(classes)):
        said = (index == k).astype(np.float64)
        agree += said @ said.T
        marginal.append(said @ shown.T)
    chance_numerator = sum(m * m.T for m in marginal)
    pairs = []
    for first, second in zip(*np.triu_indices(len(readers), k=1), strict=True):
        a, b = int(first), int(second)
        n = int(common[a, b])
        if n == 0:
            continue
        observed = agree[a, b] / n
        chance = chance_numerator[a, b] / n**2
        kappa = float("nan") if 1 - chance <= 1e-12 else (observed - chance) / (1 - chance)
        pairs.append(
            CohenKappa(reader_a=readers[a], reader_b=readers[b], n_cases=n, kappa=float(kappa))
        )
    return tuple(pairs)
