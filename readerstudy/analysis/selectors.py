"""From the database to the pure statistics: a study's truth, CNN scores and readers' last
answers as arrays, and the cached analysis of them.

Readers appear under their pseudonym (R01, R02, ...) unless identities are asked for. An
analysis may be restricted to a subgroup of readers by their profile
(``readerstudy.studies.subgroups.ReaderSubgroup``); the CNN stays the same on the same cases.
The analysis covers the cases the CNN has scored; while scoring is under way the pages say
how many cases that is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.cache import cache

from readerstudy.reading.selectors import decision_final_list, decision_stamp_get
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import (
    cnn_score_stamp_get,
    model_version_brief,
    study_algorithm_get,
    study_cnn_probabilities,
)
from readerstudy.stats.power import Pilot, PlanningError, algorithm_pilot
from readerstudy.stats.readers import ReaderInput
from readerstudy.stats.study import StudyAnalysis, study_analysis
from readerstudy.stats.subgroups import SubgroupLine, subgroup_line
from readerstudy.studies.design import study_design
from readerstudy.studies.models import Case, Enrolment, Study
from readerstudy.studies.selectors import (
    case_stamp_get,
    reader_profile_groups_get,
    reader_profile_stamp_get,
    subgroup_pseudonyms,
)
from readerstudy.studies.subgroups import (
    EVERYONE,
    SUBGROUP_LABELS,
    SUBGROUP_PARAMETERS,
    ReaderSubgroup,
)

ANALYSIS_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class ReaderLabel:
    pseudonym: str
    username: str
    simulated: bool

    def name(self, identities: bool) -> str:
        return self.username if identities else self.pseudonym


@dataclass(frozen=True)
class StudyData:
    """The arrays of one study, restricted to the cases the CNN has scored; ``readers`` are
    the subgroup's, ``panel`` every reader of the study (for the subgroup lines)."""

    study: Study
    model_version: ModelVersion | None
    case_ids: list[int]
    truth: np.ndarray
    cnn: np.ndarray
    readers: list[ReaderInput]
    labels: dict[str, ReaderLabel]
    n_cases_total: int
    n_decisions: int
    subgroup: ReaderSubgroup = EVERYONE
    panel: tuple[ReaderInput, ...] = ()
    # False for a diagnosis-only study: the readers' points come from their classes, and
    # they gave no confidence of malignancy to draw curves or run MRMC on.
    readers_rated: bool = True

    @property
    def n_cases(self) -> int:
        return len(self.case_ids)

    def n_simulated(self, pseudonyms: Iterable[str]) -> int:
        """How many of these readers are simulated (a demo panel), not dermatologists."""
        return sum(1 for p in pseudonyms if (label := self.labels.get(p)) and label.simulated)

    @property
    def analysable(self) -> bool:
        """The CNN's curve needs scored cases of both classes."""
        return self.n_cases > 0 and 0 < int(self.truth.sum()) < self.n_cases


def study_fingerprint(
    study: Study, model_version: ModelVersion | None, subgroup: ReaderSubgroup = EVERYONE
) -> str:
    """Changes whenever a decision, a score, a case or a reader's profile (which moves readers
    between subgroups) of the study is added or changed (each package says when its own rows
    changed); names the subgroup, so that two subgroups never share a cached analysis.

    The stamps are counts and last ids, which a recreated database repeats (a demo or test
    database rebuilt while Redis keeps its cache): the study's creation time, to the
    microsecond, tells such a study from the one the cache remembers."""
    decisions = decision_stamp_get(study)
    scores = cnn_score_stamp_get(study, model_version) if model_version else (0, None)
    cases = case_stamp_get(study)
    profiles = reader_profile_stamp_get(study)
    last_profile = profiles[1].timestamp() if profiles[1] else None
    return (
        f"{study.pk}@{study.created_at.timestamp():.6f}:"
        f"{model_version.pk if model_version else '-'}:"
        f"{decisions[0]}.{decisions[1]}:{scores[0]}.{scores[1]}:{cases[0]}.{cases[1]}:"
        f"{profiles[0]}.{last_profile}:{subgroup.key}"
    )


def study_data_get(
    study: Study, model_version: ModelVersion | None = None, subgroup: ReaderSubgroup = EVERYONE
) -> StudyData:
    model_version = model_version or study_algorithm_get(study)
    cases = list(Case.objects.filter(study=study).order_by("position").values_list("pk", "truth"))
    scores = study_cnn_probabilities(study, model_version)
    scored = [(pk, truth) for pk, truth in cases if pk in scores]
    index = {pk: n for n, (pk, _) in enumerate(scored)}
    labels = {
        row.pseudonym: ReaderLabel(row.pseudonym, row.reader.get_username(), row.simulated)
        for row in Enrolment.objects.filter(study=study).select_related("reader")
    }
    per_reader: dict[str, tuple[list[int], list[bool], list[float]]] = {}
    positive_classes = study_positive_classes(study)
    decisions_of_reader: Counter[str] = Counter()
    for row in decision_final_list(study).iterator(chunk_size=5000):
        decisions_of_reader[row["pseudonym"]] += 1
        position = index.get(row["case_id"])
        if position is None:
            continue
        cases_of, decisions_of, ratings_of = per_reader.setdefault(row["pseudonym"], ([], [], []))
        cases_of.append(position)
        if row["biopsy"] is None:
            # A diagnosis-only study: the reader's class stands for the management decision.
            biopsy = row["diagnosis_class"] in positive_classes
            decisions_of.append(biopsy)
            ratings_of.append(float(biopsy))
        else:
            decisions_of.append(bool(row["biopsy"]))
            ratings_of.append(float(row["confidence"]))
    panel = [
        ReaderInput(
            reader=pseudonym,
            case_index=np.asarray(cases_of, dtype=np.int64),
            decision=np.asarray(decisions_of, dtype=bool),
            rating=np.asarray(ratings_of, dtype=np.float64),
        )
        for pseudonym, (cases_of, decisions_of, ratings_of) in sorted(per_reader.items())
    ]
    readers = panel
    n_decisions = sum(decisions_of_reader.values())
    if not subgroup.everyone:
        members = subgroup_pseudonyms(study, subgroup)
        readers = [reader for reader in panel if reader.reader in members]
        # The scope counts the subgroup's decisions beside its readers, not the panel's.
        n_decisions = sum(decisions_of_reader[pseudonym] for pseudonym in members)
    return StudyData(
        study=study,
        model_version=model_version,
        case_ids=[pk for pk, _ in scored],
        truth=np.asarray([int(truth) for _, truth in scored], dtype=np.int8),
        cnn=np.asarray([scores[pk] for pk, _ in scored], dtype=np.float64),
        readers=readers,
        labels=labels,
        n_cases_total=len(cases),
        n_decisions=n_decisions,
        subgroup=subgroup,
        panel=tuple(panel),
        readers_rated=study.asks_management,
    )


def study_positive_classes(study: Study) -> frozenset[str]:
    """The classes read as a biopsy decision on the ROC page of a study that asks a diagnosis
    (``ClassScheme.positive_codes`` of the study's task); empty for a management study."""
    scheme = study_design(study).scheme
    if scheme is None:
        return frozenset()
    definition = study.task_definition or {}
    return scheme.positive_codes(definition.get("positive", ()), definition.get("negative", ()))


def _usable_readers(data: StudyData) -> list[ReaderInput]:
    """Readers with at least one graded case (a reader who has not started has no point)."""
    return [reader for reader in data.readers if len(reader.case_index)]


def study_pilot_get(study: Study) -> tuple[Pilot, str]:
    """The study as a planning pilot: the CNN against the readers who graded every scored
    case (Hillis 2007, section 5.3), and what its difference means."""
    data = study_data_get(study)
    if not data.analysable:
        raise PlanningError(
            f"study {study.pk}: the CNN has not scored cases of both classes yet, so the study "
            "cannot be a pilot"
        )
    if not data.readers_rated:
        raise PlanningError(
            f"study {study.pk}: its readers gave diagnoses, not confidence ratings, so it "
            "cannot be an ROC pilot"
        )
    complete = [r for r in data.readers if len(r.case_index) == data.n_cases]
    if len(complete) < 2:
        raise PlanningError(
            f"study {study.pk}: a pilot needs two readers who graded all {data.n_cases} scored "
            f"cases; {len(complete)} did"
        )
    ratings = np.zeros((len(complete), data.n_cases))
    for row, reader in enumerate(complete):
        ratings[row, reader.case_index] = reader.rating
    return algorithm_pilot(data.truth, data.cnn, ratings), "readers - CNN"


@dataclass(frozen=True)
class AnalysisContext:
    """Everything a page, an API answer or an export of one study's analysis reads, built once
    per request by ``analysis_context_get``: the algorithm in use, the fingerprint that says
    whether anything changed, the study's arrays and the analysis (None until the algorithm
    has scored cases of both classes)."""

    study: Study
    model_version: ModelVersion | None
    fingerprint: str
    data: StudyData
    analysis: StudyAnalysis | None


def analysis_context_get(
    study: Study,
    model_version: ModelVersion | None = None,
    *,
    fingerprint: str | None = None,
    n_bootstrap: int = 2000,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
) -> AnalysisContext:
    """The study's analysis context. The analysis itself is cached until a decision, a score or
    a case is added; ``fingerprint``, where the caller already has it, is not computed again.
    ``include_partial`` counts the readers who have not graded every scored case in the
    average reader and the operating-point comparisons (never in MRMC). ``subgroup``
    restricts the readers (the fingerprint, and so the cache key, names it)."""
    model_version = model_version or study_algorithm_get(study)
    fingerprint = fingerprint or study_fingerprint(study, model_version, subgroup)
    data = study_data_get(study, model_version, subgroup)
    analysis = None
    if data.analysable:
        scope = "with-partial" if include_partial else "complete"
        rated = "rated" if data.readers_rated else "unrated"
        # The subgroup is in the fingerprint we compute, but a caller may pass its own.
        key = f"analysis:{fingerprint}:{n_bootstrap}:{scope}:{rated}:{subgroup.key}"
        analysis = cache.get(key)
        if analysis is None:
            analysis = study_analysis(
                data.truth,
                data.cnn,
                _usable_readers(data),
                n_bootstrap=n_bootstrap,
                include_partial=include_partial,
                readers_rated=data.readers_rated,
            )
            cache.set(key, analysis, ANALYSIS_CACHE_SECONDS)
    return AnalysisContext(
        study=study,
        model_version=model_version,
        fingerprint=fingerprint,
        data=data,
        analysis=analysis,
    )


def study_analysis_get(
    study: Study,
    model_version: ModelVersion | None = None,
    *,
    n_bootstrap: int = 2000,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
) -> tuple[StudyData, StudyAnalysis | None]:
    """The study's data and its full analysis (None until the CNN has scored both classes)."""
    context = analysis_context_get(
        study,
        model_version,
        n_bootstrap=n_bootstrap,
        include_partial=include_partial,
        subgroup=subgroup,
    )
    return context.data, context.analysis


def analysis_dict(
    data: StudyData, analysis: StudyAnalysis | None, *, identities: bool
) -> dict[str, Any]:
    """The JSON export: the study, the model, the scope, and every figure of the analysis."""
    study = data.study
    result: dict[str, Any] = {
        "study": {
            "id": study.pk,
            "name": study.name,
            "task": study.task_definition,
            "modality": study.modality,
            "confidence_scale": study.confidence_scale,
            "ai_assistance": study.ai_assistance,
        },
        # The readers' answers analysed here: those given without the CNN. An AI-assisted
        # study's answers with it are compared with these by its aided analysis.
        "phase": "unaided",
        "model": model_version_brief(data.model_version),
        "cases_total": data.n_cases_total,
        "cases_scored": data.n_cases,
        "reader_identities": "names" if identities else "pseudonyms",
        "subgroup": {
            **dict.fromkeys(SUBGROUP_PARAMETERS),
            **data.subgroup.as_dict(),
            "label": data.subgroup.label,
            "n_readers": len(data.readers),
        },
        "analysis": None if analysis is None else analysis.to_dict(),
        "subgroup_lines": [
            row.to_dict()
            for row in subgroup_rows_get(
                data, include_partial=bool(analysis and analysis.include_partial)
            )
        ],
    }
    labels = data.labels
    if result["analysis"] is not None:
        result["analysis"]["mrmc_simulated_readers"] = data.n_simulated(
            result["analysis"]["mrmc_readers"]
        )
        for row in result["analysis"]["readers"] + result["analysis"]["per_reader_matched"]:
            label = labels.get(row["reader"])
            row["simulated"] = bool(label and label.simulated)
            if identities and label:
                row["reader"] = label.username
        if identities:
            for key in ("mrmc_readers", "partial_readers"):
                result["analysis"][key] = [
                    labels[p].username if p in labels else p for p in result["analysis"][key]
                ]
    return result


@dataclass(frozen=True)
class SubgroupRow:
    """One line of the subgroup table: every reader, or the readers of one position or one
    experience band (``parameter`` and ``value`` as in the query, ``query`` to restrict the
    page to them)."""

    parameter: str | None
    value: str | None
    label: str
    query: str
    line: SubgroupLine

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "value": self.value,
            "label": self.label,
            **self.line.to_dict(),
        }


def subgroup_rows_get(data: StudyData, *, include_partial: bool = False) -> list[SubgroupRow]:
    """Brinker et al. (2019)'s lines side by side: every reader, then each position and each
    experience band that some reader of the study has (in the order of the choices), each with
    its average reader and the CNN at it. Readers who have not graded every scored case count
    only with ``include_partial``, as in the average reader. Empty before the CNN has scored
    cases of both classes."""
    if not data.analysable:
        return []
    counted = [r for r in data.panel if include_partial or len(r.case_index) == data.n_cases]
    rows = [
        SubgroupRow(None, None, "All readers", "", subgroup_line(data.truth, data.cnn, counted))
    ]
    groups = reader_profile_groups_get(data.study)
    for parameter in SUBGROUP_PARAMETERS:
        for value in SUBGROUP_LABELS[parameter]:
            members = set(groups[parameter].get(value, ()))
            if not members:
                continue
            subgroup = ReaderSubgroup(**{parameter: value})
            readers = [r for r in counted if r.reader in members]
            rows.append(
                SubgroupRow(
                    parameter,
                    value,
                    subgroup.label,
                    subgroup.query,
                    subgroup_line(data.truth, data.cnn, readers),
                )
            )
    return rows
