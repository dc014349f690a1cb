"""An AI-assisted study's answers as arrays: every reader's unaided and aided answers on the
cases the CNN has scored, the CNN's output as the aided phase showed it, and the ratings of
both phases for MRMC software.

What the reader saw is what the analysis scores the AI by: on a faulty-AI case
(``Case.ai_output_inverted``, Tschandl et al. 2020) the shown probability is 1 - p and the
shown top class the CNN's least likely one (``reading.presenters.shown_probability`` and
``shown_class_ranking``, the grading page's own definitions), so the AI shown is wrong
exactly where the CNN was right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from readerstudy.analysis.selectors import ReaderLabel
from readerstudy.core.spreadsheet import spreadsheet_safe
from readerstudy.reading.phases import AIDED, UNAIDED
from readerstudy.reading.presenters import shown_class_ranking, shown_probability
from readerstudy.reading.selectors import decision_final_list
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import (
    study_algorithm_get,
    study_cnn_fine_probabilities,
    study_cnn_probabilities,
)
from readerstudy.stats.formats import RatingsTable
from readerstudy.studies.design import study_design
from readerstudy.studies.models import Case, Enrolment, Study
from readerstudy.studies.selectors import subgroup_enrolment_ids
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup

PHASES = (UNAIDED, AIDED)
# The AI's answer to the management question: the shown probability at or above one half
# says "malignant" (biopsy).
AI_POSITIVE_AT = 0.5
# Dermoscopy experience from least to most, in the bands of Tschandl et al. (Lancet Oncol
# 2019); the reader profiles' ExperienceBand values.
EXPERIENCE_BANDS = ("<3", "3-10", ">10")


def reader_experience_band(enrolment: Enrolment) -> str | None:
    """The reader's dermoscopy experience band for the benefit-by-experience section, or None
    where the reader has no profile. The reader profiles hang off the enrolment as
    ``enrolment.profile.experience``; a study without profiles (or before they exist) has
    none, and the section then says so."""
    # A missing one-to-one profile raises RelatedObjectDoesNotExist, an AttributeError.
    profile = getattr(enrolment, "profile", None)
    band = getattr(profile, "experience", None)
    return str(band) if band in EXPERIENCE_BANDS else None


def study_experience_bands(study: Study) -> dict[str, str | None]:
    """Pseudonym -> the reader's experience band (None without a profile)."""
    return {
        enrolment.pseudonym: reader_experience_band(enrolment)
        for enrolment in Enrolment.objects.filter(study=study)
    }


@dataclass(frozen=True)
class AidedData:
    """An AI-assisted study's readers x cases answers in both phases, on the scored cases.

    Per phase: ``answered`` (bool), ``biopsy`` (bool, False where unanswered or the design
    asks no management decision), ``rating`` (the confidence of malignancy, NaN where
    missing) and ``diagnosis`` (the class, None where missing). Readers are by pseudonym
    in ``readers`` order, only those of ``subgroup``."""

    study: Study
    model_version: ModelVersion | None
    case_ids: list[int]
    truth: np.ndarray
    cnn: np.ndarray
    faulty: np.ndarray
    shown_probability: np.ndarray
    truth_class: np.ndarray | None
    shown_class: np.ndarray | None
    classes: tuple[str, ...]
    readers: tuple[str, ...]
    labels: dict[str, ReaderLabel]
    answered: dict[str, np.ndarray]
    biopsy: dict[str, np.ndarray]
    rating: dict[str, np.ndarray]
    diagnosis: dict[str, np.ndarray]
    asks_management: bool
    n_cases_total: int
    subgroup: ReaderSubgroup = EVERYONE

    @property
    def n_cases(self) -> int:
        return len(self.case_ids)

    @property
    def paired(self) -> np.ndarray:
        """(readers, cases): the reader answered the case in both phases."""
        return self.answered[UNAIDED] & self.answered[AIDED]

    @property
    def complete(self) -> np.ndarray:
        """(readers,): the reader answered every scored case in both phases."""
        if not self.n_cases:
            return np.zeros(len(self.readers), dtype=bool)
        return np.asarray(self.paired.all(axis=1))

    @property
    def ai_says_positive(self) -> np.ndarray:
        return self.shown_probability >= AI_POSITIVE_AT

    def name(self, pseudonym: str, identities: bool) -> str:
        label = self.labels.get(pseudonym)
        return label.name(identities) if label else pseudonym

    def simulated(self, pseudonym: str) -> bool:
        label = self.labels.get(pseudonym)
        return bool(label and label.simulated)


def aided_data_get(
    study: Study, model_version: ModelVersion | None = None, subgroup: ReaderSubgroup = EVERYONE
) -> AidedData:
    """Both phases' last answers of every reader (of ``subgroup``) on the cases the study's
    algorithm scored, and the CNN's output as it was shown."""
    model_version = model_version or study_algorithm_get(study)
    rows = list(
        Case.objects.filter(study=study)
        .order_by("position")
        .values_list("pk", "truth", "diagnosis", "ai_output_inverted")
    )
    scores = study_cnn_probabilities(study, model_version)
    scored = [row for row in rows if row[0] in scores]
    index = {pk: n for n, (pk, *_) in enumerate(scored)}
    cnn = np.asarray([scores[pk] for pk, *_ in scored], dtype=np.float64)
    faulty = np.asarray([bool(inverted) for *_, inverted in scored], dtype=bool)
    design = study_design(study)
    scheme = design.scheme
    truth_class = shown_class = None
    if scheme is not None:
        fine = study_cnn_fine_probabilities(study, model_version)
        truth_class = np.asarray([scheme.class_of(d) for _, _, d, _ in scored], dtype=object)
        shown_class = np.asarray(
            [
                shown_class_ranking(scheme, fine[pk], inverted=bool(inv))[0][0]
                if fine.get(pk)
                else None
                for pk, _, _, inv in scored
            ],
            dtype=object,
        )
    enrolments = Enrolment.objects.filter(study=study).select_related("reader")
    members = subgroup_enrolment_ids(study, subgroup)
    if members is not None:
        enrolments = enrolments.filter(pk__in=members)
    labels = {
        e.pseudonym: ReaderLabel(e.pseudonym, e.reader.get_username(), e.simulated)
        for e in enrolments
    }
    answers: dict[str, dict[str, dict[int, dict[str, Any]]]] = {p: {} for p in PHASES}
    for phase in PHASES:
        rows_of_phase = decision_final_list(study, phase=phase)
        if members is not None:
            rows_of_phase = rows_of_phase.filter(enrolment_id__in=members)
        for row in rows_of_phase.iterator(chunk_size=5000):
            position = index.get(row["case_id"])
            if position is not None:
                answers[phase].setdefault(row["pseudonym"], {})[position] = row
    readers = tuple(sorted(set(answers[UNAIDED]) | set(answers[AIDED])))
    shape = (len(readers), len(scored))
    answered = {p: np.zeros(shape, dtype=bool) for p in PHASES}
    biopsy = {p: np.zeros(shape, dtype=bool) for p in PHASES}
    rating = {p: np.full(shape, np.nan) for p in PHASES}
    diagnosis = {p: np.full(shape, None, dtype=object) for p in PHASES}
    for phase in PHASES:
        for j, reader in enumerate(readers):
            for k, row in answers[phase].get(reader, {}).items():
                answered[phase][j, k] = True
                biopsy[phase][j, k] = bool(row["biopsy"])
                if row["confidence"] is not None:
                    rating[phase][j, k] = float(row["confidence"])
                diagnosis[phase][j, k] = row["diagnosis_class"]
    return AidedData(
        study=study,
        model_version=model_version,
        case_ids=[pk for pk, *_ in scored],
        truth=np.asarray([int(t) for _, t, _, _ in scored], dtype=np.int8),
        cnn=cnn,
        faulty=faulty,
        shown_probability=np.asarray(
            [shown_probability(p, inverted=bool(f)) for p, f in zip(cnn, faulty, strict=True)],
            dtype=np.float64,
        ),
        truth_class=truth_class,
        shown_class=shown_class,
        classes=scheme.codes if scheme is not None else (),
        readers=readers,
        labels=labels,
        answered=answered,
        biopsy=biopsy,
        rating=rating,
        diagnosis=diagnosis,
        asks_management=design.management is not None,
        n_cases_total=len(rows),
        subgroup=subgroup,
    )


def aided_ratings_table(
    data: AidedData, *, identities: bool = False, include_partial: bool = False
) -> RatingsTable:
    """The confidence ratings as two modalities, ``unaided`` and ``aided``, of the readers who
    answered every scored case in both phases (the MRMC panel of the AI-assistance page), so
    that ``manage.py analyze`` reads the file back to the page's Obuchowski-Rockette-Hillis
    figures (aided minus unaided: the modalities sort as aided, unaided). ``include_partial``
    adds every other reader's answers, which ``analyze`` then refuses as an incomplete design.
    The CNN is no modality here: its probabilities are in the decisions CSV."""
    keep = np.ones(len(data.readers), dtype=bool) if include_partial else data.complete
    readers: list[str] = []
    modalities: list[str] = []
    cases: list[str] = []
    truth: list[int] = []
    rating: list[float] = []
    for phase in PHASES:
        for j, pseudonym in enumerate(data.readers):
            if not keep[j]:
                continue
            name = str(spreadsheet_safe(data.name(pseudonym, identities)))
            for k in np.flatnonzero(data.answered[phase][j] & ~np.isnan(data.rating[phase][j])):
                readers.append(name)
                modalities.append(phase)
                cases.append(str(data.case_ids[k]))
                truth.append(int(data.truth[k]))
                rating.append(float(data.rating[phase][j, k]))
    return RatingsTable(
        reader=tuple(readers),
        modality=tuple(modalities),
        case=tuple(cases),
        truth=np.asarray(truth, dtype=np.int8),
        rating=np.asarray(rating, dtype=np.float64),
        source=f"study {data.study.pk}",
    )
