"""What the AI did to the readers: the switching table of sequential aided reading.

Maron et al. (J Med Internet Res 2020, "Artificial intelligence and its effect on
dermatologists' accuracy in dermoscopic melanoma image classification") cross-tabulate each
reading by whether the reader's unaided answer was right and whether the AI's output was
right, and count how often the reader changed the answer once the AI was shown. Two rates
summarise it:

- **misled** (automation bias): among readings where the reader was right unaided and the AI
  wrong, the share where the reader switched to a wrong answer (Maron et al.: 39%);
- **helped**: among readings where the reader was wrong unaided and the AI right, the share
  where the reader switched to the right answer.

Per reader, each rate has a Wilson (1927) interval. Pooled over the panel, the readings are
clustered by reader and by case, so the pooled rate (events over opportunities, all readings)
gets a percentile interval from the two-way case-and-reader bootstrap
(``bootstrap.case_reader_counts``; Obuchowski 1995), which is wider than a Wilson interval
that would treat the readings as independent.

Inputs are readers x cases booleans; ``answered`` marks the readings that exist (default:
every reader read every case). With more than two answers a switch to a wrong answer may not
be the AI's answer: pass ``aided_agrees_with_ai`` to count only switches to the AI's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from readerstudy.stats.bootstrap import case_reader_counts, percentile_ci
from readerstudy.stats.readers import WilsonCi, wilson_ci


class SwitchingInputError(ValueError):
    """Answers that cannot form a switching table; the message says which array is wrong."""


@dataclass(frozen=True)
class SwitchingCell:
    """Readings with the unaided answer right or wrong and the AI right or wrong: how many,
    how many the reader changed after seeing the AI, and how many were right when aided."""

    reader_correct: bool
    ai_correct: bool
    n: int
    switched: int
    kept: int
    aided_correct: int


@dataclass(frozen=True)
class SwitchingTable:
    """The 2 x 2 table (cells in the order reader right/AI right, reader right/AI wrong,
    reader wrong/AI right, reader wrong/AI wrong) and the two switching rates with Wilson
    intervals (which treat the readings as independent)."""

    cells: tuple[SwitchingCell, ...]
    misled: WilsonCi
    helped: WilsonCi


@dataclass(frozen=True)
class ReaderSwitching:
    """One reader's switching table over the readings the reader answered."""

    reader: str
    table: SwitchingTable


@dataclass(frozen=True)
class PooledRate:
    """A switching rate pooled over all readings (events / opportunities) with a two-way
    (case and reader) bootstrap percentile interval."""

    events: int
    opportunities: int
    estimate: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class SwitchingAnalysis:
    """Per-reader tables, the pooled table (naive Wilson CIs) and the pooled misled / helped
    rates with their case-and-reader bootstrap CIs (use these for the panel)."""

    per_reader: tuple[ReaderSwitching, ...]
    pooled: SwitchingTable
    misled: PooledRate
    helped: PooledRate
    n_bootstrap: int
    seed: int
    level: float


def _boolean(values: ArrayLike, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2:
        raise SwitchingInputError(f"{name} must be (readers, cases), got shape {array.shape}")
    if shape is not None and array.shape != shape:
        raise SwitchingInputError(f"{name} has shape {array.shape}, expected {shape}")
    if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
        raise SwitchingInputError(f"{name} must be True/False")
    return array.astype(bool)


def _table(
    unaided: np.ndarray,
    ai: np.ndarray,
    aided: np.ndarray,
    changed: np.ndarray,
    misled: np.ndarray,
    helped: np.ndarray,
    level: float,
) -> SwitchingTable:
    """Counts over the readings in the given (flattened, answered-only) arrays."""
    cells = []
    for reader_correct in (True, False):
        for ai_correct in (True, False):
            here = (unaided == reader_correct) & (ai == ai_correct)
            switched = int((here & changed).sum())
            cells.append(
                SwitchingCell(
                    reader_correct=reader_correct,
                    ai_correct=ai_correct,
                    n=int(here.sum()),
                    switched=switched,
                    kept=int(here.sum()) - switched,
                    aided_correct=int((here & aided).sum()),
                )
            )
    return SwitchingTable(
        cells=tuple(cells),
        misled=wilson_ci(int(misled.sum()), int((unaided & ~ai).sum()), level),
        helped=wilson_ci(int(helped.sum()), int((~unaided & ai).sum()), level),
    )


def _pooled(
    events: np.ndarray,
    opportunities: np.ndarray,
    case_counts: np.ndarray,
    reader_counts: np.ndarray,
    level: float,
) -> PooledRate:
    e = events.astype(np.float64)
    o = opportunities.astype(np.float64)
    # Each resample weighs reading (j, k) by (times reader j drawn) x (times case k drawn).
    boot_events = np.einsum("bj,jb->b", reader_counts, e @ case_counts.T)
    boot_opportunities = np.einsum("bj,jb->b", reader_counts, o @ case_counts.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = boot_events / boot_opportunities
    total = int(o.sum())
    return PooledRate(
        events=int(e.sum()),
        opportunities=total,
        estimate=float(e.sum() / total) if total else float("nan"),
        ci=percentile_ci(rates, level),
    )


def switching_analysis(
    unaided_correct: ArrayLike,
    ai_correct: ArrayLike,
    aided_correct: ArrayLike,
    changed: ArrayLike,
    *,
    readers: Sequence[str] | None = None,
    answered: ArrayLike | None = None,
    aided_agrees_with_ai: ArrayLike | None = None,
    n_bootstrap: int = 2000,
    seed: int = 2020,
    level: float = 0.95,
) -> SwitchingAnalysis:
    """The switching table and the misled / helped rates of Maron et al. (2020), per reader
    (Wilson 1927 intervals) and pooled (two-way case-and-reader bootstrap percentile interval,
    Obuchowski 1995; Efron & Tibshirani 1993, ch. 13).

    All arrays are (readers, cases) booleans: ``ai_correct`` may also be one row (cases,)
    when every reader saw the same AI output. ``changed``: the aided answer differs from the
    unaided one. A reading that did not change must keep its correctness; otherwise the
    input is refused as inconsistent.
    """
    unaided = _boolean(unaided_correct, "unaided_correct", None)
    shape = unaided.shape
    ai_array = np.asarray(ai_correct)
    if ai_array.ndim == 1:
        ai_array = np.broadcast_to(ai_array, shape)
    ai = _boolean(ai_array, "ai_correct", shape)
    aided = _boolean(aided_correct, "aided_correct", shape)
    switch = _boolean(changed, "changed", shape)
    present = (
        np.ones(shape, dtype=bool) if answered is None else _boolean(answered, "answered", shape)
    )
    agrees = (
        np.ones(shape, dtype=bool)
        if aided_agrees_with_ai is None
        else _boolean(aided_agrees_with_ai, "aided_agrees_with_ai", shape)
    )
    if (present & ~switch & (aided != unaided)).any():
        raise SwitchingInputError(
            "a reading whose answer did not change cannot change from right to wrong or back "
            "(aided_correct differs from unaided_correct where changed is False)"
        )
    n_readers, n_cases = shape
    names = (
        tuple(readers) if readers is not None else tuple(f"reader{j + 1}" for j in range(n_readers))
    )
    if len(names) != n_readers:
        raise SwitchingInputError(f"{len(names)} reader names for {n_readers} readers")
    misled = present & unaided & ~ai & switch & ~aided & agrees
    helped = present & ~unaided & ai & switch & aided & agrees
    per_reader = tuple(
        ReaderSwitching(
            reader=names[j],
            table=_table(
                unaided[j][present[j]],
                ai[j][present[j]],
                aided[j][present[j]],
                switch[j][present[j]],
                misled[j][present[j]],
                helped[j][present[j]],
                level,
            ),
        )
        for j in range(n_readers)
    )
    pooled = _table(
        unaided[present],
        ai[present],
        aided[present],
        switch[present],
        misled[present],
        helped[present],
        level,
    )
    case_counts, reader_counts = case_reader_counts(n_cases, n_readers, n_bootstrap, seed)
    return SwitchingAnalysis(
        per_reader=per_reader,
        pooled=pooled,
        misled=_pooled(misled, present & unaided & ~ai, case_counts, reader_counts, level),
        helped=_pooled(helped, present & ~unaided & ai, case_counts, reader_counts, level),
        n_bootstrap=n_bootstrap,
        seed=seed,
        level=level,
    )
