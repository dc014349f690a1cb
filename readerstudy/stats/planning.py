"""The ``plan_study`` command's and the planning page's logic: a pilot's ratings in, the power
of a planned study, the cases it needs for each reader count and a power table out.

``study_plan`` returns a JSON-ready dict:

- ``source``, ``design`` (``two-modality`` or ``algorithm-vs-readers``), ``comparison`` (what
  the difference is: "first - second" or "readers - algorithm")
- ``analysis`` (rrrc, frrc, rrfc), ``effect`` (the difference planned for), ``effect_source``
  (``pilot``: the pilot's observed difference, as RJafroc, or ``given``), ``alpha``,
  ``target_power``
- ``pilot``: {``readers``, ``cases``, ``observed_effect``}
- ``variance_components``: the OR components (``var_r``, ``var_tr``, ``cov1``, ``cov2``,
  ``cov3``, ``var_error``) or, for an algorithm, ``ms_r``, ``var_r``, ``var_error``, ``cov2``
- ``power`` (one reader count and one case count given): the power of that study
- ``cases_needed``: {"<J>": K or null (no K up to ``power.MAX_CASES`` is enough)}
- ``table``: [{``readers``, ``cases``, ``power``}] for every reader count and case count

Methods: Hillis, Obuchowski & Berbaum (2011); Hillis (2007, section 5.3); see ``power``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readerstudy.stats.design import algorithm_panel, mrmc_design
from readerstudy.stats.formats import RatingsFormatError, RatingsTable, read_ratings
from readerstudy.stats.mrmc import CovarianceMethod
from readerstudy.stats.power import (
    ANALYSES,
    MAX_CASES,
    Analysis,
    Pilot,
    PlanningError,
    algorithm_pilot,
    cases_needed,
    power_given_jk,
    power_table,
    two_modality_pilot,
)
from readerstudy.stats.study import json_safe

DEFAULT_READERS = "3:30"
DEFAULT_CASES = (100, 200, 400, 800)
MAX_READERS = 200
TABLE_COLUMNS = ("readers", "cases", "power")
# How the page names the JSON's variance components (Hillis et al. 2005, Table I).
COMPONENT_LABELS = {
    "ms_r": "MS(R) of the differences",
    "var_r": "Var(R)",
    "var_tr": "Var(T*R)",
    "cov1": "Cov1",
    "cov2": "Cov2",
    "cov3": "Cov3",
    "var_error": "Var(error)",
}


@dataclass(frozen=True)
class PlanRequest:
    """What the planner asks for (the command's options, the page's form)."""

    readers: tuple[int, ...]
    cases: tuple[int, ...] | None = None
    effect: float | None = None
    alpha: float = 0.05
    power: float = 0.8
    analysis: Analysis = "rrrc"


def parse_readers(text: str) -> tuple[int, ...]:
    """``"6"`` or an inclusive range ``"3:30"``."""
    try:
        if ":" in text:
            low, high = (int(part) for part in text.split(":", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise PlanningError(
            f"the reader count must be a number or a range like 3:30; got {text!r}"
        ) from None
    if low < 2 or high < low or high > MAX_READERS:
        raise PlanningError(
            f"the reader counts must lie within 2 to {MAX_READERS}, low to high; got {text!r}"
        )
    return tuple(range(low, high + 1))


def parse_cases(text: str) -> tuple[int, ...]:
    """``"200"`` or several case counts ``"100,200,400"``."""
    try:
        counts = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise PlanningError(
            f"the case count must be a number or numbers like 100,200; got {text!r}"
        ) from None
    if not counts or counts[0] < 2 or counts[-1] > MAX_CASES:
        raise PlanningError(f"the case counts must lie within 2 to {MAX_CASES}; got {text!r}")
    return counts


def pilot_from_table(
    table: RatingsTable, *, algorithm: str | None = None, cov: CovarianceMethod = "jackknife"
) -> tuple[Pilot, str]:
    """The pilot of a ratings table and what its difference means: two modalities (first
    minus second in sorted order), or with ``algorithm`` that reader's ratings against every
    other reader in a one-modality table."""
    if algorithm is not None:
        panel = algorithm_panel(table, algorithm)
        design = mrmc_design(table, readers=(algorithm, *panel))
        ratings = design.ratings[0]
        pilot = algorithm_pilot(design.truth, ratings[0], ratings[1:], cov=cov)
        return pilot, f"readers - {algorithm}"
    design = mrmc_design(table)
    if len(design.modalities) != 2:
        raise RatingsFormatError(
            f"{table.source}: planning compares two modalities, or an --algorithm against "
            f"the readers; the file has {len(design.modalities)} modalities "
            f"({', '.join(design.modalities)})"
        )
    if len(design.readers) < 2:
        raise RatingsFormatError(f"{table.source}: a pilot needs at least two readers")
    first, second = design.modalities
    return two_modality_pilot(design.truth, design.ratings, cov=cov), f"{first} - {second}"


def pilot_from_file(
    path: str | Path, *, algorithm: str | None = None, cov: CovarianceMethod = "jackknife"
) -> tuple[Pilot, str]:
    """The pilot of a long CSV (reader,modality,case,truth,rating) or iMRMC file."""
    if not Path(path).is_file():
        raise RatingsFormatError(f"{path}: no such file")
    try:
        table = read_ratings(path)
    except UnicodeDecodeError:
        raise RatingsFormatError(
            f"{path}: not UTF-8 text; expected a long CSV or an iMRMC file"
        ) from None
    return pilot_from_table(table, algorithm=algorithm, cov=cov)


def study_plan(pilot: Pilot, request: PlanRequest, *, source: str, comparison: str) -> dict:
    """Power, cases needed per reader count and the power table (Hillis et al. 2011)."""
    if request.analysis not in ANALYSES:
        raise PlanningError(f"the analysis must be one of {', '.join(ANALYSES)}")
    effect = pilot.observed_effect if request.effect is None else request.effect
    cases = request.cases or DEFAULT_CASES
    options: dict[str, Any] = {
        "effect": effect,
        "alpha": request.alpha,
        "analysis": request.analysis,
    }
    result: dict[str, Any] = {
        "source": source,
        "design": pilot.design,
        "comparison": comparison,
        "analysis": request.analysis,
        "effect": effect,
        "effect_source": "pilot" if request.effect is None else "given",
        "alpha": request.alpha,
        "target_power": request.power,
        "pilot": {
            "readers": pilot.n_readers,
            "cases": pilot.n_cases,
            "observed_effect": pilot.observed_effect,
        },
        "variance_components": dict(pilot.components),
    }
    if len(request.readers) == 1 and request.cases is not None and len(request.cases) == 1:
        result["power"] = power_given_jk(
            pilot, request.readers[0], request.cases[0], **options
        ).power
    needed = {}
    for readers in request.readers:
        found = cases_needed(pilot, readers, power=request.power, **options)
        needed[str(readers)] = None if found is None else found.cases
    result["cases_needed"] = needed
    result["table"] = [
        {"readers": row.readers, "cases": row.cases, "power": row.power}
        for row in power_table(pilot, request.readers, cases, **options)
    ]
    return dict(json_safe(result))


def table_csv(plan: dict) -> str:
    """The power table as CSV, with each reader count's cases needed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*TABLE_COLUMNS, "cases_needed"])
    for row in plan["table"]:
        needed = plan["cases_needed"].get(str(row["readers"]))
        writer.writerow(
            [row["readers"], row["cases"], f"{row['power']:.6f}", "" if needed is None else needed]
        )
    return out.getvalue()


def _effect_line(plan: dict) -> str:
    where = "the pilot's observed difference" if plan["effect_source"] == "pilot" else "given"
    return (
        f"effect {plan['effect']:+.4f} ({plan['comparison']}; {where}), alpha {plan['alpha']}, "
        f"{plan['analysis'].upper()}, target power {plan['target_power']}"
    )


def format_plan(plan: dict, readers: Sequence[int]) -> str:
    """A readable summary of ``study_plan``'s result for the terminal."""
    pilot = plan["pilot"]
    lines = [
        f"{plan['source']}: pilot of {pilot['readers']} readers and {pilot['cases']} cases "
        f"({plan['design']})",
        _effect_line(plan),
        "variance components: "
        + "  ".join(f"{name} {value:.8f}" for name, value in plan["variance_components"].items()),
    ]
    if "power" in plan:
        row = plan["table"][0]
        lines.append(
            f"power with {row['readers']} readers and {row['cases']} cases: {plan['power']:.4f}"
        )
    lines.append("cases needed:")
    for j in readers:
        k = plan["cases_needed"][str(j)]
        lines.append(f"  {j} readers: {'more than ' + str(MAX_CASES) if k is None else k}")
    counts, rows = power_rows(plan)
    lines.append("power table: readers \\ cases " + "".join(f"{k:>8}" for k in counts))
    lines += [f"{j:>29} " + "".join(f"{p:8.3f}" for p in powers) for j, powers in rows]
    return "\n".join(lines)


def power_curve_figure(plan: dict) -> dict[str, Any]:
    """A plotly figure spec (plain JSON, no plotly import): power over reader counts, one
    line per case count, and the target power as a dashed line."""
    curves: dict[int, tuple[list[int], list[float]]] = {}
    for row in plan["table"]:
        readers, powers = curves.setdefault(row["cases"], ([], []))
        readers.append(row["readers"])
        powers.append(row["power"])
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"{cases} cases",
            "x": readers,
            "y": powers,
            "hovertemplate": f"%{{x}} readers, {cases} cases: power %{{y:.3f}}<extra></extra>",
        }
        for cases, (readers, powers) in sorted(curves.items())
    ]
    all_readers = [row["readers"] for row in plan["table"]]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"target {plan['target_power']:.0%}",
            "x": [min(all_readers), max(all_readers)],
            "y": [plan["target_power"], plan["target_power"]],
            "line": {"dash": "dash", "color": "#6b7780"},
            "hoverinfo": "skip",
        }
    )
    return {
        "data": data,
        "layout": {
            "xaxis": {
                "title": {"text": "Readers"},
                "dtick": 1 if len(set(all_readers)) <= 15 else 5,
            },
            "yaxis": {"title": {"text": "Power"}, "range": [0, 1.02], "tickformat": ".0%"},
            "legend": {"orientation": "h", "y": -0.2},
            "margin": {"l": 60, "r": 20, "t": 20, "b": 60},
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        },
    }


def power_rows(plan: dict) -> tuple[list[int], list[tuple[int, list[float]]]]:
    """The power table pivoted for a page: the case counts, and per reader count its powers."""
    counts = sorted({row["cases"] for row in plan["table"]})
    by_readers: dict[int, list[float]] = {}
    for row in plan["table"]:
        by_readers.setdefault(row["readers"], []).append(row["power"])
    return counts, list(by_readers.items())
