"""What the CNN did to the readers of an AI-assisted study (issue 18): unaided against aided
reading of the same readers and cases, from the pure statistics.

- Unaided and aided as two modalities: Obuchowski-Rockette-Hillis on the AUC of the
  confidence ratings and on the sensitivity and specificity of the management decision
  (``stats.aided_mrmc``, as MRMCaov), with each reader's change and the mean change.
- The switching table of Maron et al. (JMIR 2020) against the AI *as shown*
  (``stats.switching``): the management decision against the shown probability >= 0.5, and
  for a diagnosis question the class against the shown top class; pooled and per reader.
- Faulty-AI cases apart (Tschandl et al., Nat Med 2020): their switching table and the
  readers' accuracy on them against the other cases.
- A diagnosis question: accuracy and mean recall unaided against aided
  (``stats.aided_diagnosis``).
- Benefit by experience (``stats.experience``): each reader's change against the experience
  band of their profile.

Everything may be restricted to a subgroup of readers by their profile (``ReaderSubgroup``,
as the ROC and diagnosis pages are); the CNN stays the same on the same cases.

Readers who have not answered every scored case in both phases are left out (named, with
their counts), as the ROC page leaves partial readers out of MRMC; ``include_partial`` counts
their paired answers in the switching tables and the figure, never in MRMC or the paired
diagnosis comparison, which need every case.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

import numpy as np
from django.core.cache import cache

from readerstudy.analysis.aided_data import (
    AI_POSITIVE_AT,
    EXPERIENCE_BANDS,
    AidedData,
    aided_data_get,
    study_experience_bands,
)
from readerstudy.analysis.selectors import ANALYSIS_CACHE_SECONDS, study_fingerprint
from readerstudy.reading.phases import AIDED, UNAIDED
from readerstudy.scoring.selectors import model_version_brief
from readerstudy.stats.aided_diagnosis import aided_diagnosis
from readerstudy.stats.aided_mrmc import FIGURES_OF_MERIT, aided_mrmc
from readerstudy.stats.diagnosis import DiagnosisInputError
from readerstudy.stats.experience import benefit_by_experience
from readerstudy.stats.means import mean_t_ci
from readerstudy.stats.readers import wilson_ci
from readerstudy.stats.roc import RocInputError, auc_ci, roc_curve
from readerstudy.stats.study import json_safe
from readerstudy.stats.switching import switching_analysis
from readerstudy.studies.models import Study
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup


def _plain(value: Any) -> Any:
    """A statistics dataclass (or several) as plain JSON values."""
    return json_safe(asdict(value)) if hasattr(value, "__dataclass_fields__") else json_safe(value)


def _mrmc(data: AidedData, panel: np.ndarray, names: list[str]) -> dict[str, Any]:
    """ORH on AUC, sensitivity and specificity of the complete readers; a reason instead of a
    block where a figure cannot be computed."""
    blocks: dict[str, Any] = {}
    if not data.asks_management:
        return {"unavailable": "the study asks no management decision", "blocks": blocks}
    if len(names) < 2:
        return {
            "unavailable": f"needs two readers who answered every case in both phases "
            f"({len(names)} so far)",
            "blocks": blocks,
        }
    for metric in FIGURES_OF_MERIT:
        source = data.rating if metric == "auc" else data.biopsy
        try:
            result = aided_mrmc(
                data.truth,
                source[UNAIDED][panel].astype(np.float64),
                source[AIDED][panel].astype(np.float64),
                metric=metric,  # type: ignore[arg-type]
                readers=names,
            )
        except (RocInputError, ValueError) as error:
            blocks[metric] = {"metric": metric, "unavailable": str(error)}
            continue
        block = _plain(result)
        block.pop("components", None)
        blocks[metric] = block
    return {"unavailable": None, "blocks": blocks}


def _switching(
    unaided_correct: np.ndarray,
    ai_correct: np.ndarray,
    aided_correct: np.ndarray,
    changed: np.ndarray,
    answered: np.ndarray,
    names: list[str],
    n_bootstrap: int,
    agrees: np.ndarray | None = None,
) -> dict[str, Any] | None:
    if not answered.any():
        return None
    result = switching_analysis(
        unaided_correct,
        np.broadcast_to(ai_correct, answered.shape),
        aided_correct,
        changed,
        readers=names,
        answered=answered,
        aided_agrees_with_ai=agrees,
        n_bootstrap=n_bootstrap,
    )
    block = _plain(result)
    block["ai_correct_cases"] = int(ai_correct[answered.any(axis=0)].sum())
    block["cases"] = int(answered.any(axis=0).sum())
    return block


def _accuracy_apart(
    unaided_correct: np.ndarray,
    aided_correct: np.ndarray,
    answered: np.ndarray,
    faulty: np.ndarray,
    names: list[str],
) -> dict[str, Any]:
    """Each reader's accuracy unaided and aided on the faulty-AI cases and on the others, and
    the panel's means with Student t intervals over readers; ``difference``: aided accuracy
    on faulty cases minus on the others, per reader (Tschandl 2020's over-reliance)."""
    per_reader = []
    columns = {"faulty": faulty, "other": ~faulty}
    for j, name in enumerate(names):
        row: dict[str, Any] = {"reader": name}
        for key, cases in columns.items():
            here = answered[j] & cases
            n = int(here.sum())
            row[key] = {
                "n": n,
                "unaided": _plain(wilson_ci(int((unaided_correct[j] & here).sum()), n)),
                "aided": _plain(wilson_ci(int((aided_correct[j] & here).sum()), n)),
            }
        per_reader.append(row)

    def values(key: str, phase: str) -> np.ndarray:
        return np.array(
            [row[key][phase]["estimate"] for row in per_reader if row[key]["n"]], dtype=float
        )

    panel: dict[str, Any] = {}
    for key in columns:
        panel[key] = {
            "cases": int(columns[key].sum()),
            "unaided": _plain(mean_t_ci(values(key, "unaided"))),
            "aided": _plain(mean_t_ci(values(key, "aided"))),
            "change": _plain(mean_t_ci(values(key, "aided") - values(key, "unaided"))),
        }
    both = [r for r in per_reader if r["faulty"]["n"] and r["other"]["n"]]
    panel["difference"] = _plain(
        mean_t_ci(
            [r["faulty"]["aided"]["estimate"] - r["other"]["aided"]["estimate"] for r in both]
        )
    )
    return {"per_reader": per_reader, "panel": panel}


def _questions(
    data: AidedData, panel: np.ndarray, names: list[str], n_bootstrap: int
) -> dict[str, dict[str, Any]]:
    """Per question asked (management, diagnosis): the switching table on every case and on
    the faulty-AI cases, and the accuracy on faulty cases against the others."""
    answered = data.paired[panel]
    questions: dict[str, dict[str, Any]] = {}
    if data.asks_management:
        truth = data.truth.astype(bool)
        unaided = data.biopsy[UNAIDED][panel]
        aided = data.biopsy[AIDED][panel]
        questions["management"] = {
            "unaided_correct": unaided == truth,
            "ai_correct": data.ai_says_positive == truth,
            "aided_correct": aided == truth,
            "changed": unaided != aided,
            "answered": answered,
            "agrees": None,
        }
    if data.truth_class is not None and data.shown_class is not None:
        unaided = data.diagnosis[UNAIDED][panel]
        aided = data.diagnosis[AIDED][panel]
        has_answer = np.array([c is not None for c in data.shown_class])
        questions["diagnosis"] = {
            "unaided_correct": unaided == data.truth_class,
            "ai_correct": (data.shown_class == data.truth_class) & has_answer,
            "aided_correct": aided == data.truth_class,
            "changed": unaided != aided,
            # Cases whose CNN gave no classes (imported P(positive) only) showed no class.
            "answered": answered & has_answer,
            "agrees": aided == data.shown_class,
        }
    out: dict[str, dict[str, Any]] = {}
    for key, q in questions.items():
        faulty = data.faulty
        block: dict[str, Any] = {
            "switching": _switching(
                q["unaided_correct"],
                q["ai_correct"],
                q["aided_correct"],
                q["changed"],
                q["answered"],
                names,
                n_bootstrap,
                q["agrees"],
            ),
            "faulty_switching": None,
            "faulty_accuracy": None,
        }
        if faulty.any() and q["answered"][:, faulty].any():
            block["faulty_switching"] = _switching(
                q["unaided_correct"][:, faulty],
                q["ai_correct"][faulty],
                q["aided_correct"][:, faulty],
                q["changed"][:, faulty],
                q["answered"][:, faulty],
                names,
                n_bootstrap,
                None if q["agrees"] is None else q["agrees"][:, faulty],
            )
            block["faulty_accuracy"] = _accuracy_apart(
                q["unaided_correct"], q["aided_correct"], q["answered"], faulty, names
            )
        out[key] = block
    return out


def _diagnosis(
    data: AidedData, panel: np.ndarray, names: list[str], n_bootstrap: int
) -> dict[str, Any] | None:
    if data.truth_class is None or not panel.any():
        return None
    cases = np.array([c is not None for c in data.truth_class])
    try:
        result = aided_diagnosis(
            data.truth_class[cases],
            data.diagnosis[UNAIDED][panel][:, cases],
            data.diagnosis[AIDED][panel][:, cases],
            data.classes,
            readers=names,
            n_bootstrap=n_bootstrap,
        )
    except DiagnosisInputError as error:
        return {"unavailable": str(error)}
    return _plain(result)


def _points(data: AidedData, rows: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """Each reader's sensitivity and specificity in each phase on their paired answers (the
    figure's arrows); None where the cases lack a class."""
    truth = data.truth.astype(bool)
    points = []
    for name, j in zip(names, np.flatnonzero(rows), strict=True):
        here = data.paired[j]
        point: dict[str, Any] = {"reader": name, "simulated": data.simulated(data.readers[j])}
        for phase in (UNAIDED, AIDED):
            decision = data.biopsy[phase][j]
            positive, negative = here & truth, here & ~truth
            point[phase] = {
                "sensitivity": float(decision[positive].mean()) if positive.any() else None,
                "specificity": float((~decision[negative]).mean()) if negative.any() else None,
            }
        points.append(point)
    return points


def _experience(
    bands: dict[str, str | None],
    changes: dict[str, float],
    measure: str,
    order: tuple[str, ...] = EXPERIENCE_BANDS,
) -> dict[str, Any]:
    """Each reader's change by band over the bands of ``order`` (a subgroup of one band has
    that band alone); the trend and the Jonckheere-Terpstra test need readers in two bands."""
    rows: list[dict[str, Any]] = [
        {"reader": reader, "band": bands.get(reader), "change": change}
        for reader, change in changes.items()
    ]
    with_band = [row for row in rows if row["band"] in order]
    block: dict[str, Any] = {
        "measure": measure,
        "bands": list(order),
        "readers": with_band,
        "without_profile": sum(1 for row in rows if row["band"] is None),
        "result": None,
        "trend_unavailable": None,
    }
    if not with_band:
        block["unavailable"] = "no reader profiles" if rows else "no readers to compare"
        return block
    block["unavailable"] = None
    block["result"] = _plain(
        benefit_by_experience(
            [row["change"] for row in with_band],
            [row["band"] for row in with_band],
            order=order,
        )
    )
    if len({row["band"] for row in with_band}) < 2:
        # One band: no order to test (the permutation test would answer p = 1).
        block["result"]["trend"] = block["result"]["jonckheere"] = None
        block["trend_unavailable"] = "the readers are all in one experience band"
    return block


def aided_analysis(
    data: AidedData,
    *,
    identities: bool = False,
    include_partial: bool = False,
    bands: dict[str, str | None] | None = None,
    n_bootstrap: int = 2000,
) -> dict[str, Any]:
    """The AI-assistance analysis of ``data`` as plain JSON values (the page, the API and
    the tests read the same dict). ``bands``: each reader's (pseudonym's) experience band."""
    complete = data.complete
    names = [data.name(p, identities) for p, c in zip(data.readers, complete, strict=True) if c]
    has_pairs = np.asarray(data.paired.any(axis=1), dtype=bool)
    counted = has_pairs if include_partial else complete & has_pairs
    counted_names = [
        data.name(p, identities) for p, c in zip(data.readers, counted, strict=True) if c
    ]
    partial = [
        {
            "reader": data.name(p, identities),
            "simulated": data.simulated(p),
            "unaided": int(data.answered[UNAIDED][j].sum()),
            "aided": int(data.answered[AIDED][j].sum()),
        }
        for j, p in enumerate(data.readers)
        if not complete[j]
    ]
    result: dict[str, Any] = {
        "study": {
            "id": data.study.pk,
            "name": data.study.name,
            "ai_assistance": data.study.ai_assistance,
            "design": data.study.design,
            "faulty_ai_percent": data.study.faulty_ai_percent,
            "ai_show_saliency": data.study.ai_show_saliency,
        },
        "model": model_version_brief(data.model_version),
        "cases_total": data.n_cases_total,
        "cases_scored": data.n_cases,
        "n_positive": int(data.truth.sum()),
        "n_negative": int(data.n_cases - data.truth.sum()),
        "faulty_cases": int(data.faulty.sum()),
        "reader_identities": "names" if identities else "pseudonyms",
        "include_partial": include_partial,
        "subgroup": {**data.subgroup.as_dict(), "label": data.subgroup.label},
        "readers": names,
        "simulated_readers": [
            data.name(p, identities)
            for p, c in zip(data.readers, complete, strict=True)
            if c and data.simulated(p)
        ],
        "partial_readers": partial,
        "cnn": None,
        "ai_positive_at": AI_POSITIVE_AT,
    }
    if data.n_cases and 0 < int(data.truth.sum()) < data.n_cases:
        curve = roc_curve(data.truth, data.cnn)
        auc = auc_ci(data.truth, data.cnn)
        result["cnn"] = {
            "auc": auc.auc,
            "ci": list(auc.ci),
            "roc": {"fpr": curve.fpr.tolist(), "tpr": curve.tpr.tolist()},
        }
    mrmc = _mrmc(data, complete, names)
    result["mrmc"] = mrmc
    result["questions"] = _questions(data, counted, counted_names, n_bootstrap)
    result["diagnosis"] = _diagnosis(data, complete, names, n_bootstrap)
    result["points"] = _points(data, counted, counted_names) if data.asks_management else []
    # Benefit by experience: the change in AUC where readers rate, else in diagnosis accuracy.
    changes: dict[str, float] = {}
    measure = "AUC"
    auc_block = mrmc["blocks"].get("auc") or {}
    if auc_block.get("reader_changes"):
        changes = {row["reader"]: row["change"] for row in auc_block["reader_changes"]}
    elif result["diagnosis"] and result["diagnosis"].get("per_reader"):
        measure = "diagnosis accuracy"
        changes = {
            row["reader"]: row["accuracy_change"] for row in result["diagnosis"]["per_reader"]
        }
    by_name = {data.name(p, identities): (bands or {}).get(p) for p in data.readers}
    order = EXPERIENCE_BANDS if data.subgroup.experience is None else (data.subgroup.experience,)
    result["experience"] = _experience(by_name, changes, measure, order)
    return dict(json_safe(result))


def aided_analysis_get(
    study: Study,
    *,
    identities: bool = False,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
) -> tuple[AidedData, dict[str, Any]] | None:
    """The study's arrays and its AI-assistance analysis, of the readers of ``subgroup``,
    cached until a decision, a score, a case or a reader's profile is added or changed; None
    for a study read unaided only."""
    if not study.aided:
        return None
    data = aided_data_get(study, subgroup=subgroup)
    bands = study_experience_bands(study)
    digest = hashlib.sha256(repr(sorted(bands.items())).encode()).hexdigest()[:12]
    key = (
        f"aided:{study_fingerprint(study, data.model_version, subgroup)}:{int(identities)}:"
        f"{int(include_partial)}:{digest}"
    )
    result = cache.get(key)
    if result is None:
        result = aided_analysis(
            data, identities=identities, include_partial=include_partial, bands=bands
        )
        cache.set(key, result, ANALYSIS_CACHE_SECONDS)
    return data, result
