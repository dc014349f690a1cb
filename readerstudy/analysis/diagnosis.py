"""From the database to the diagnosis statistics: a study's true classes, the CNN's class
answers and the readers' last classes, analysed as ``manage.py analyze_diagnoses`` analyses a
ratings file (``readerstudy.stats.diagnosis_cli.analyze_diagnosis_ratings``), under the same
JSON keys, with the study's own context added.

The truth of a case is the class its fine diagnosis maps to in the study's class scheme; a
case whose diagnosis is in no class is left out (the page says how many). While the algorithm
is scoring, the analysis covers the cases it has answered, as the ROC page covers the scored
ones; an algorithm without class answers (scores imported as P(positive) only) leaves the
readers analysed alone.

Readers who did not answer every analysed case (partial readers) keep their own row, but the
average reader, the CNN-vs-panel bootstrap and Fleiss' kappa use the readers who answered
every case; ``include_partial`` counts them in the average reader too (the bootstrap and
Fleiss' kappa need every reader on every case, so they never do). ``enrolment_ids`` restricts
everything to a subgroup of readers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.cache import cache

from readerstudy.analysis.selectors import ANALYSIS_CACHE_SECONDS, study_fingerprint
from readerstudy.reading.selectors import decision_final_list
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import (
    model_version_brief,
    study_algorithm_get,
    study_cnn_classes,
)
from readerstudy.stats.diagnosis_cli import analyze_diagnosis_ratings
from readerstudy.stats.diagnosis_formats import DiagnosisRatings
from readerstudy.studies.design import ClassScheme, study_design
from readerstudy.studies.models import Case, Enrolment, Study
from readerstudy.studies.selectors import subgroup_enrolment_ids
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup

ALGORITHM_NAME = "CNN"


@dataclass(frozen=True)
class DiagnosisData:
    """One study's diagnosis answers, by case id: the cases analysed, their true classes, the
    CNN's classes (empty without class answers) and each reader's last class."""

    study: Study
    scheme: ClassScheme
    model_version: ModelVersion | None
    case_ids: list[int]
    truth: dict[int, str]
    cnn: dict[int, str]
    answers: dict[str, dict[int, str]]  # pseudonym -> case id -> class
    usernames: dict[str, str]  # pseudonym -> account name
    simulated: frozenset[str]  # pseudonyms of simulated readers
    n_cases_total: int
    n_cases_unmapped: int  # cases whose diagnosis is in no class of the scheme

    @property
    def has_algorithm(self) -> bool:
        return bool(self.cnn)


def diagnosis_data_get(
    study: Study,
    model_version: ModelVersion | None = None,
    *,
    enrolment_ids: Collection[int] | None = None,
) -> DiagnosisData | None:
    """The study's diagnosis answers (None for a study that asks no diagnosis);
    ``enrolment_ids``: only these readers."""
    scheme = study_design(study).scheme
    if scheme is None:
        return None
    model_version = model_version or study_algorithm_get(study)
    cases = list(
        Case.objects.filter(study=study).order_by("position").values_list("pk", "diagnosis")
    )
    truth = {pk: scheme.class_of(diagnosis) for pk, diagnosis in cases}
    mapped = {pk: label for pk, label in truth.items() if label is not None}
    cnn = study_cnn_classes(study, model_version) if model_version else {}
    if cnn:
        mapped = {pk: label for pk, label in mapped.items() if pk in cnn}
    enrolments = Enrolment.objects.filter(study=study).select_related("reader")
    if enrolment_ids is not None:
        enrolments = enrolments.filter(pk__in=enrolment_ids)
    usernames = {e.pseudonym: e.reader.get_username() for e in enrolments}
    simulated = frozenset(e.pseudonym for e in enrolments if e.simulated)
    rows = decision_final_list(study).filter(diagnosis_class__isnull=False)
    if enrolment_ids is not None:
        rows = rows.filter(enrolment_id__in=enrolment_ids)
    answers: dict[str, dict[int, str]] = {}
    for row in rows.iterator(chunk_size=5000):
        if row["case_id"] in mapped:
            answers.setdefault(row["pseudonym"], {})[row["case_id"]] = row["diagnosis_class"]
    return DiagnosisData(
        study=study,
        scheme=scheme,
        model_version=model_version,
        case_ids=[pk for pk, _ in cases if pk in mapped],
        truth=mapped,
        cnn={pk: label for pk, label in cnn.items() if pk in mapped},
        answers=answers,
        usernames=usernames,
        simulated=simulated,
        n_cases_total=len(cases),
        n_cases_unmapped=sum(1 for label in truth.values() if label is None),
    )


def diagnosis_ratings(data: DiagnosisData, *, identities: bool) -> tuple[DiagnosisRatings, str]:
    """The answers as a ratings table (``reader,case,truth,answer``, the CNN as one more
    reader) and the algorithm's name in it ("CNN", unless a reader is named so)."""
    names = {p: data.usernames.get(p, p) if identities else p for p in data.answers}
    algorithm = ALGORITHM_NAME
    while algorithm in names.values():
        algorithm += " (algorithm)"
    readers: list[str] = []
    cases: list[str] = []
    labels: list[str] = []
    if data.has_algorithm:
        for pk in data.case_ids:
            readers.append(algorithm)
            cases.append(str(pk))
            labels.append(data.cnn[pk])
    for pseudonym, answered in data.answers.items():
        for pk, label in answered.items():
            readers.append(names[pseudonym])
            cases.append(str(pk))
            labels.append(label)
    ratings = DiagnosisRatings(
        reader=tuple(readers),
        case=tuple(cases),
        answer=tuple(labels),
        case_truth={str(pk): data.truth[pk] for pk in data.case_ids},
        row=tuple(range(1, len(readers) + 1)),
        source=f"study {data.study.pk}",
    )
    return ratings, algorithm


def _average_reader(result: dict[str, Any], readers: list[str]) -> dict[str, Any]:
    """The average reader of Esteva et al. (2017): the mean over ``readers`` of each one's
    accuracy, mean recall and per-class sensitivity (a class none of them saw is None)."""

    def mean(values: list[float | None]) -> float | None:
        defined = [v for v in values if v is not None]
        return float(np.mean(defined)) if defined else None

    blocks = [result["readers"][name] for name in readers]
    return {
        "n_readers": len(readers),
        "readers": readers,
        "accuracy": mean([b["accuracy"] for b in blocks]),
        "mean_recall": mean([b["mean_recall"] for b in blocks]),
        "sensitivity": {
            label: mean([b["sensitivity"][label]["estimate"] for b in blocks])
            for label in result["classes"]
        },
    }


def diagnosis_analysis(
    data: DiagnosisData,
    *,
    identities: bool = False,
    include_partial: bool = False,
    n_bootstrap: int = 2000,
) -> dict[str, Any] | None:
    """The analysis of ``analyze_diagnoses --json`` (its keys, the CNN as the algorithm) plus
    the study's context: ``study``, ``model``, ``cases_total``, ``cases_unmapped``,
    ``reader_identities``, ``include_partial``, ``simulated_readers``, ``average_reader``
    {``n_readers``, ``readers``, ``accuracy``, ``mean_recall``, ``sensitivity`` {class: mean}}
    and ``pooled_confusion`` (the sum of the average reader's readers' matrices). None while
    no case can be analysed."""
    if not data.case_ids:
        return None
    ratings, algorithm = diagnosis_ratings(data, identities=identities)
    result = analyze_diagnosis_ratings(
        ratings,
        algorithm=algorithm if data.has_algorithm else None,
        classes=data.scheme.codes,
        n_bootstrap=n_bootstrap,
    )
    counted = list(result["readers"]) if include_partial else list(result["complete_readers"])
    k = len(result["classes"])
    pooled = np.zeros((k, k), dtype=np.int64)
    for name in counted:
        pooled += np.asarray(result["readers"][name]["confusion"], dtype=np.int64)
    study = data.study
    result.update(
        study={
            "id": study.pk,
            "name": study.name,
            "design": study.design,
            "scheme": data.scheme.name,
            "class_labels": {c.code: c.label for c in data.scheme.classes},
        },
        model=model_version_brief(data.model_version),
        algorithm_answers=data.has_algorithm,
        cases_total=data.n_cases_total,
        cases_unmapped=data.n_cases_unmapped,
        reader_identities="names" if identities else "pseudonyms",
        include_partial=include_partial,
        simulated_readers=sorted(
            (data.usernames.get(p, p) if identities else p) for p in data.simulated
        ),
        average_reader=_average_reader(result, counted),
        pooled_confusion=pooled.tolist(),
    )
    return result


def diagnosis_export_dict(data: DiagnosisData, result: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON export and API answer: the analysis, or while nothing can be analysed, the
    study's context with no case and no reader."""
    if result is not None:
        return result
    return {
        "source": f"study {data.study.pk}",
        "n_cases": 0,
        "classes": list(data.scheme.codes),
        "readers": {},
        "study": {"id": data.study.pk, "name": data.study.name, "design": data.study.design},
        "model": model_version_brief(data.model_version),
        "cases_total": data.n_cases_total,
        "cases_unmapped": data.n_cases_unmapped,
    }


def diagnosis_analysis_get(
    study: Study,
    *,
    identities: bool = False,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
    n_bootstrap: int = 2000,
) -> tuple[DiagnosisData, dict[str, Any] | None] | None:
    """The study's diagnosis data and analysis, cached until a decision, a score or a case is
    added (None for a study that asks no diagnosis); ``subgroup``: only its readers
    (``?position=``, ``?experience=``, by their profile)."""
    model_version = study_algorithm_get(study)
    enrolment_ids = subgroup_enrolment_ids(study, subgroup)
    data = diagnosis_data_get(study, model_version, enrolment_ids=enrolment_ids)
    if data is None:
        return None
    readers = (
        "all"
        if enrolment_ids is None
        else hashlib.sha256(",".join(map(str, sorted(enrolment_ids))).encode()).hexdigest()[:16]
    )
    key = (
        f"diagnosis:{study_fingerprint(study, model_version)}:{n_bootstrap}:"
        f"{int(identities)}{int(include_partial)}:{readers}"
    )
    result = cache.get(key)
    if result is None:
        result = diagnosis_analysis(
            data, identities=identities, include_partial=include_partial, n_bootstrap=n_bootstrap
        )
        cache.set(key, result, ANALYSIS_CACHE_SECONDS)
    return data, result
