"""The ``analyze_diagnoses`` command's logic: a diagnosis ratings CSV in, the analysis out.

``analyze_diagnoses`` reads ``reader,case,truth,answer`` (class labels) and returns a
JSON-ready dict:

- ``source``, ``n_cases``, ``classes`` (the order of every matrix and per-class entry)
- ``readers``: {reader: {``n``, ``accuracy``, ``accuracy_ci`` [lo, hi], ``mean_recall``,
  ``confusion`` (rows truth, columns answer), ``sensitivity`` and ``specificity``
  {class: {``estimate``, ``ci``}}}} (with ``algorithm`` the algorithm is not among them)
- ``complete_readers`` (read every case) and ``partial_readers``
- ``fleiss_kappa`` over the complete readers (None with fewer than two), ``fleiss_n_readers``
- ``cohen_kappa``: [{``readers`` [a, b], ``n``, ``kappa``}] for each pair on their common cases
- with ``algorithm``: ``algorithm`` (the same block as a reader's, with ``name``) and
  ``algorithm_vs_readers``: ``algorithm``, ``algorithm_accuracy``, ``reader_mean_accuracy`` (mean
  over the complete readers), ``diff`` (algorithm minus reader mean), ``diff_ci``,
  ``n_readers``, ``n_bootstrap``, ``seed``, ``mcnemar_p`` {reader: p} and ``mcnemar``
  {reader: {``n``, ``algorithm_only``, ``reader_only``}} on each reader's own cases.

Methods (``readerstudy.stats.diagnosis``): Wilson (1927) intervals, balanced accuracy
(Brodersen et al. 2010), exact McNemar (1947), a two-way case-and-reader bootstrap
(Obuchowski 1995), Fleiss (1971) and Cohen (1960) kappa.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from readerstudy.stats.diagnosis import (
    DiagnosisResult,
    algorithm_vs_panel,
    cohen_kappa_pairs,
    diagnosis_result,
    fleiss_kappa,
    mcnemar_exact,
)
from readerstudy.stats.diagnosis_formats import (
    DiagnosisRatings,
    checked_classes,
    read_diagnosis_csv,
)
from readerstudy.stats.formats import RatingsFormatError
from readerstudy.stats.study import json_safe


def _result_dict(result: DiagnosisResult) -> dict[str, Any]:
    return {
        "n": result.n,
        "accuracy": result.accuracy.estimate,
        "accuracy_ci": list(result.accuracy.ci),
        "mean_recall": result.mean_recall,
        "confusion": result.confusion,
        "sensitivity": {
            str(rates.label): {
                "estimate": rates.sensitivity.estimate,
                "ci": list(rates.sensitivity.ci),
            }
            for rates in result.per_class
        },
        "specificity": {
            str(rates.label): {
                "estimate": rates.specificity.estimate,
                "ci": list(rates.specificity.ci),
            }
            for rates in result.per_class
        },
    }


def _reader_result(
    ratings: DiagnosisRatings,
    answers: dict[str, str],
    reader: str,
    classes: tuple[str, ...],
    level: float,
) -> DiagnosisResult:
    truth = [ratings.case_truth[case] for case in answers]
    return diagnosis_result(
        truth, list(answers.values()), classes, level=level, name=f"reader {reader!r}"
    )


def _algorithm_block(
    ratings: DiagnosisRatings,
    answered: dict[str, dict[str, str]],
    algorithm: str,
    panel: tuple[str, ...],
    complete: list[str],
    classes: tuple[str, ...],
    *,
    n_bootstrap: int,
    seed: int,
    level: float,
) -> dict[str, Any]:
    cases = ratings.cases()
    algorithm_answers = answered[algorithm]
    unanswered = [case for case in cases if case not in algorithm_answers]
    if unanswered:
        raise RatingsFormatError(
            f"{ratings.source}: the algorithm {algorithm!r} has no answer for case "
            f"{unanswered[0]!r} (it must answer every case)"
        )
    mcnemar: dict[str, dict[str, int]] = {}
    mcnemar_p: dict[str, float] = {}
    for reader in panel:
        answers = answered[reader]
        test = mcnemar_exact(
            [ratings.case_truth[case] for case in answers],
            [algorithm_answers[case] for case in answers],
            list(answers.values()),
            classes,
        )
        mcnemar_p[reader] = test.p
        mcnemar[reader] = {
            "n": test.n_cases,
            "algorithm_only": test.algorithm_only,
            "reader_only": test.reader_only,
        }
    block: dict[str, Any] = {
        "algorithm": algorithm,
        "algorithm_accuracy": float(
            np.mean([algorithm_answers[case] == ratings.case_truth[case] for case in cases])
        ),
        "reader_mean_accuracy": None,
        "diff": None,
        "diff_ci": [None, None],
        "n_readers": len(complete),
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "mcnemar_p": mcnemar_p,
        "mcnemar": mcnemar,
    }
    if complete:
        matrix = np.array(
            [[answered[reader][case] for case in cases] for reader in complete],
            dtype=object,
        )
        versus = algorithm_vs_panel(
            [ratings.case_truth[case] for case in cases],
            [algorithm_answers[case] for case in cases],
            matrix,
            classes,
            n_bootstrap=n_bootstrap,
            seed=seed,
            level=level,
        )
        block.update(
            algorithm_accuracy=versus.algorithm_accuracy,
            reader_mean_accuracy=versus.reader_mean_accuracy,
            diff=versus.diff,
            diff_ci=list(versus.diff_ci),
        )
    return block


def analyze_diagnoses(
    path: str | Path,
    *,
    algorithm: str | None = None,
    classes: Iterable[str] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 2017,
    level: float = 0.95,
) -> dict[str, Any]:
    """Diagnosis analysis of a ratings file: each reader's accuracy, mean recall and
    confusion matrix, agreement between readers, and with ``algorithm`` (the reader id that
    holds the algorithm's answers) the algorithm against each reader and the panel."""
    return analyze_diagnosis_ratings(
        read_diagnosis_csv(path),
        algorithm=algorithm,
        classes=classes,
        n_bootstrap=n_bootstrap,
        seed=seed,
        level=level,
    )


def analyze_diagnosis_ratings(
    ratings: DiagnosisRatings,
    *,
    algorithm: str | None = None,
    classes: Iterable[str] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 2017,
    level: float = 0.95,
) -> dict[str, Any]:
    """``analyze_diagnoses`` of ratings already in memory (a study's stored answers): the
    same analysis, under the same keys. A reader is complete when they answered every case
    of ``ratings.case_truth``."""
    order = checked_classes(ratings, classes)
    if len(order) < 2:
        raise RatingsFormatError(
            f"{ratings.source}: a diagnosis needs at least two classes, found {list(order)}"
        )
    everyone = ratings.readers()
    if algorithm is not None and algorithm not in everyone:
        raise RatingsFormatError(
            f"{ratings.source}: the algorithm {algorithm!r} is not a reader "
            f"(readers: {', '.join(everyone)})"
        )
    panel = tuple(reader for reader in everyone if reader != algorithm)
    cases = ratings.cases()
    answered = ratings.answers_by_reader()
    complete = [reader for reader in panel if len(answered[reader]) == len(cases)]
    result: dict[str, Any] = {
        "source": ratings.source,
        "n_cases": len(cases),
        "classes": list(order),
        "readers": {
            reader: _result_dict(_reader_result(ratings, answered[reader], reader, order, level))
            for reader in panel
        },
        "complete_readers": complete,
        "partial_readers": [reader for reader in panel if reader not in complete],
        "fleiss_kappa": None,
        "fleiss_n_readers": len(complete),
    }
    if len(complete) >= 2:
        every_case = [[answered[reader][case] for case in cases] for reader in complete]
        result["fleiss_kappa"] = fleiss_kappa(every_case, order).kappa
    # None where a reader did not answer a case: each pair is compared on its common cases.
    with_gaps = [[answered[reader].get(case) for case in cases] for reader in panel]
    pairs = [
        {"readers": [kappa.reader_a, kappa.reader_b], "n": kappa.n_cases, "kappa": kappa.kappa}
        for kappa in cohen_kappa_pairs(with_gaps, order, panel)
    ]
    result["cohen_kappa"] = pairs
    if algorithm is not None:
        result["algorithm"] = {
            "name": algorithm,
            **_result_dict(_reader_result(ratings, answered[algorithm], algorithm, order, level)),
        }
        result["algorithm_vs_readers"] = _algorithm_block(
            ratings,
            answered,
            algorithm,
            panel,
            complete,
            order,
            n_bootstrap=n_bootstrap,
            seed=seed,
            level=level,
        )
    return dict(json_safe(result))


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(values: Any) -> str:
    if not values or values[0] is None or values[1] is None:
        return "[n/a]"
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def format_diagnosis_summary(result: dict[str, Any]) -> str:
    """A readable table of ``analyze_diagnoses``'s result for the terminal (Esteva et al.
    2017, Fig. 3's layout: each reader, the average reader, the algorithm)."""
    versus = result.get("algorithm_vs_readers")
    lines = [
        f"{result['source']}: {result['n_cases']} cases, {len(result['classes'])} classes "
        f"({', '.join(result['classes'])})",
        f"{'reader':<20} {'n':>5} {'accuracy':>9} {'95% CI':>16} {'mean recall':>12}"
        + (f" {'McNemar p':>10}" if versus else ""),
    ]
    rows = list(result["readers"].items())
    if "algorithm" in result:
        rows.append((f"{result['algorithm']['name']} (algorithm)", result["algorithm"]))
    for name, block in rows:
        p = versus["mcnemar_p"].get(name) if versus else None
        lines.append(
            f"{name:<20} {block['n']:>5} {_number(block['accuracy']):>9} "
            f"{_interval(block['accuracy_ci']):>16} {_number(block['mean_recall']):>12}"
            + (f" {_number(p, 4):>10}" if versus and p is not None else "")
        )
    # The average reader is the complete readers', as in the comparison with the algorithm.
    accuracies = [result["readers"][reader]["accuracy"] for reader in result["complete_readers"]]
    defined = [a for a in accuracies if a is not None]
    if defined:
        lines.append(f"{'average reader':<20} {'':>5} {_number(float(np.mean(defined))):>9}")
    if result["partial_readers"]:
        lines.append(f"partial readers: {', '.join(result['partial_readers'])}")
    lines.append(
        f"Fleiss' kappa ({result['fleiss_n_readers']} complete readers): "
        f"{_number(result['fleiss_kappa'])}"
    )
    if versus:
        lines.append(
            f"algorithm {versus['algorithm']} - reader mean ({versus['n_readers']} complete "
            f"readers): {_number(versus['algorithm_accuracy'])} - "
            f"{_number(versus['reader_mean_accuracy'])} = {_number(versus['diff'])}, "
            f"case-and-reader bootstrap CI {_interval(versus['diff_ci'])}"
        )
    return "\n".join(lines)
