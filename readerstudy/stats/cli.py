"""The ``analyze`` command's logic: any reader study's ratings file in, the MRMC analysis out.

``analyze_ratings`` reads a long CSV (``reader,modality,case,truth,rating``) or an iMRMC file
and returns a JSON-ready dict:

- ``source``, ``n_cases``, ``n_positive``, ``n_negative``
- ``modalities``: {modality: {``reader_auc``: {reader: AUC}, ``mean_auc``}} (modalities and
  readers in sorted order; with ``algorithm`` the algorithm is not among the readers)
- ``or`` (exactly two modalities; diff = first minus second in sorted order): ``cov``,
  ``modalities``, ``var_r``, ``var_tr`` (RJafroc 2.1.3's, see ``mrmc.or_components``), ``cov1``,
  ``cov2``, ``cov3``, ``var_error``, ``ms_t``, ``ms_r``, ``ms_tr``,
  ``rrrc`` {``f``, ``ndf``, ``ddf``, ``p``, ``diff``, ``se``, ``ci``},
  ``frrc`` {``chi2``, ``df``, ``p``, ``diff``, ``se``, ``ci``}, ``rrfc`` {as rrrc},
  ``modality_ci`` {modality: {``auc``, ``se``, ``df``, ``ci``}}
- ``algorithm_vs_readers`` (with ``algorithm``): ``algorithm``, ``cov``, ``algorithm_auc``,
  ``reader_mean_auc``, ``diff`` (reader mean minus algorithm), ``var_r``, ``var_error``,
  ``cov2``, ``rrrc`` {``t``, ``df``, ``p``, ``ci``}, ``rrfc`` {``t``, ``df``, ``p``, ``ci``}

Methods: Obuchowski & Rockette (1995) with Hillis (2007) df; Hillis (2007) section 5.3 for
the algorithm; covariances by jackknife or DeLong et al. (1988).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from readerstudy.stats.design import algorithm_panel, mrmc_design
from readerstudy.stats.formats import RatingsFormatError, RatingsTable, read_ratings, sorted_names
from readerstudy.stats.mrmc import (
    COVARIANCE_METHODS,
    CovarianceMethod,
    OrResult,
    algorithm_vs_readers,
    or_hillis,
)
from readerstudy.stats.roc import RocInputError, auc_ci
from readerstudy.stats.study import algorithm_vs_readers_dict, json_safe


def _reader_aucs(table: RatingsTable, modality: str, readers: tuple[str, ...]) -> dict[str, Any]:
    """Each reader's empirical AUC on the cases the reader read in this modality."""
    modality_rows = np.array([m == modality for m in table.modality])
    reader_of = np.array(table.reader)
    aucs: dict[str, Any] = {}
    for reader in readers:
        rows = modality_rows & (reader_of == reader)
        if not rows.any():
            continue
        try:
            aucs[reader] = auc_ci(table.truth[rows], table.rating[rows]).auc
        except RocInputError:
            aucs[reader] = None  # this reader's cases are all of one class
    return aucs


def _or_dict(result: OrResult, modalities: tuple[str, ...]) -> dict[str, Any]:
    return {
        "cov": result.cov_method,
        "modalities": list(modalities),
        **asdict(result.components),  # var_r, var_tr, cov1, cov2, cov3, var_error
        "ms_t": result.ms_t,
        "ms_r": result.ms_r,
        "ms_tr": result.ms_tr,
        "rrrc": {
            "f": result.rrrc.f,
            "ndf": result.rrrc.ndf,
            "ddf": result.rrrc.ddf,
            "p": result.rrrc.p,
            "diff": result.rrrc.diff,
            "se": result.rrrc.se,
            "ci": list(result.rrrc.ci),
        },
        "frrc": {
            "chi2": result.frrc.chi2,
            "df": result.frrc.df,
            "p": result.frrc.p,
            "diff": result.frrc.diff,
            "se": result.frrc.se,
            "ci": list(result.frrc.ci),
        },
        "rrfc": {
            "f": result.rrfc.f,
            "ndf": result.rrfc.ndf,
            "ddf": result.rrfc.ddf,
            "p": result.rrfc.p,
            "diff": result.rrfc.diff,
            "se": result.rrfc.se,
            "ci": list(result.rrfc.ci),
        },
        "modality_ci": {
            name: {"auc": ci.auc, "se": ci.se, "df": ci.df, "ci": list(ci.ci)}
            for name, ci in zip(modalities, result.modality_ci, strict=True)
        },
    }


def analyze_ratings(
    path: str | Path,
    *,
    algorithm: str | None = None,
    cov: CovarianceMethod = "jackknife",
    level: float = 0.95,
) -> dict[str, Any]:
    """MRMC analysis of a ratings file: reader AUCs per modality, the Obuchowski-Rockette-
    Hillis test of two modalities (Hillis 2007), or an algorithm against the readers (Hillis
    2007, section 5.3) when ``algorithm`` names the reader id that holds its scores."""
    if cov not in COVARIANCE_METHODS:
        raise RatingsFormatError(
            f"the covariance method must be one of {', '.join(COVARIANCE_METHODS)}"
        )
    source = str(path)
    if not Path(path).is_file():
        raise RatingsFormatError(f"{source}: no such file")
    table = read_ratings(path)
    modalities = sorted_names(table.modality)
    readers = sorted_names(table.reader)
    case_truth = dict(zip(table.case, table.truth.tolist(), strict=True))
    n_positive = sum(case_truth.values())
    result: dict[str, Any] = {
        "source": source,
        "n_cases": len(case_truth),
        "n_positive": n_positive,
        "n_negative": len(case_truth) - n_positive,
    }
    if n_positive == 0 or n_positive == len(case_truth):
        raise RatingsFormatError(
            f"{source}: truth needs at least one positive and one negative case "
            f"(got {n_positive} positive of {len(case_truth)})"
        )
    panel = readers if algorithm is None else algorithm_panel(table, algorithm)
    result["modalities"] = {}
    for modality in modalities:
        aucs = _reader_aucs(table, modality, panel)
        defined = [a for a in aucs.values() if a is not None]
        result["modalities"][modality] = {
            "reader_auc": aucs,
            "mean_auc": float(np.mean(defined)) if defined else None,
        }
    if algorithm is not None:
        design = mrmc_design(table, readers=(algorithm, *panel))
        versus = algorithm_vs_readers(
            design.truth, design.ratings[0, 0], design.ratings[0, 1:], cov=cov, level=level
        )
        block = algorithm_vs_readers_dict(versus)
        assert block is not None
        result["algorithm_vs_readers"] = {"algorithm": algorithm, **block}
    elif len(modalities) == 2:
        design = mrmc_design(table)
        analysis = or_hillis(design.truth, design.ratings, cov=cov, level=level)
        result["or"] = _or_dict(analysis, design.modalities)
    return dict(json_safe(result))


def _number(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(values: Any) -> str:
    if not values or values[0] is None or values[1] is None:
        return "[n/a]"
    return f"[{values[0]:.4f}, {values[1]:.4f}]"


def format_summary(result: dict[str, Any]) -> str:
    """A readable summary of ``analyze_ratings``'s result for the terminal."""
    lines = [
        f"{result['source']}: {result['n_cases']} cases "
        f"({result['n_positive']} positive, {result['n_negative']} negative)"
    ]
    for modality, block in result["modalities"].items():
        lines.append(
            f"modality {modality}: {len(block['reader_auc'])} readers, "
            f"mean AUC {_number(block['mean_auc'])}"
        )
        lines += [f"  {reader}: AUC {_number(auc)}" for reader, auc in block["reader_auc"].items()]
    if "or" in result:
        block = result["or"]
        first, second = block["modalities"]
        rrrc, frrc, rrfc = block["rrrc"], block["frrc"], block["rrfc"]
        lines += [
            f"Obuchowski-Rockette-Hillis, {block['cov']} covariances, {first} - {second} = "
            f"{_number(rrrc['diff'])}",
            f"  random readers, random cases: F({rrrc['ndf']}, {_number(rrrc['ddf'], 2)}) = "
            f"{_number(rrrc['f'])}, p = {_number(rrrc['p'])}, CI {_interval(rrrc['ci'])}",
            f"  fixed readers: chi2(1) = {_number(frrc['chi2'])}, p = {_number(frrc['p'])}, "
            f"CI {_interval(frrc['ci'])}",
            f"  fixed cases: F({rrfc['ndf']}, {_number(rrfc['ddf'], 0)}) = "
            f"{_number(rrfc['f'])}, p = {_number(rrfc['p'])}",
            f"  Var(R) {_number(block['var_r'], 8)}  Var(TR) {_number(block['var_tr'], 8)}  "
            f"Cov1 {_number(block['cov1'], 8)}  Cov2 {_number(block['cov2'], 8)}  "
            f"Cov3 {_number(block['cov3'], 8)}  Var(E) {_number(block['var_error'], 8)}",
        ]
    elif len(result["modalities"]) > 2 and "algorithm_vs_readers" not in result:
        lines.append("OR analysis skipped: it compares exactly two modalities")
    if "algorithm_vs_readers" in result:
        block = result["algorithm_vs_readers"]
        rrrc, rrfc = block["rrrc"], block["rrfc"]
        lines += [
            f"algorithm {block['algorithm']} vs readers ({block['cov']} covariances): "
            f"AUC {_number(block['algorithm_auc'])} vs reader mean "
            f"{_number(block['reader_mean_auc'])}, readers - algorithm = "
            f"{_number(block['diff'])}",
            f"  random readers, random cases: t({_number(rrrc['df'], 2)}) = "
            f"{_number(rrrc['t'])}, p = {_number(rrrc['p'])}, CI {_interval(rrrc['ci'])}",
            f"  random readers, fixed cases: t({_number(rrfc['df'], 0)}) = "
            f"{_number(rrfc['t'])}, p = {_number(rrfc['p'])}, CI {_interval(rrfc['ci'])}",
        ]
    return "\n".join(lines)
