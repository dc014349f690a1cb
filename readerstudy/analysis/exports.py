"""Exports of a study for analysts: every decision as CSV (streamed in constant memory), the
ratings for MRMC software (iMRMC, RJafroc, long CSV), and a self-contained HTML report."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.template.loader import render_to_string
from django.utils import timezone

from readerstudy.analysis.aided_data import AidedData, aided_data_get, aided_ratings_table
from readerstudy.analysis.design_reports import (
    PlotlyOnce,
    aided_report_section,
    diagnosis_report_section,
)
from readerstudy.analysis.diagnosis import diagnosis_analysis_get, diagnosis_export_dict
from readerstudy.analysis.insight import (
    gallery_report_section,
    operating_threshold,
    tsne_report_section,
)
from readerstudy.analysis.selectors import (
    StudyData,
    analysis_dict,
    study_analysis_get,
    subgroup_rows_get,
)
from readerstudy.core.spreadsheet import spreadsheet_safe
from readerstudy.reading.columns import (
    DECISION_ANSWER_COLUMNS,
    DECISION_EXPORT_COLUMNS,
    decision_answer_cells,
)
from readerstudy.reading.selectors import decision_iter
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import study_algorithm_get, study_cnn_probabilities
from readerstudy.stats.formats import RatingsTable, write_imrmc, write_long_csv
from readerstudy.stats.study import StudyAnalysis
from readerstudy.studies.design import study_design
from readerstudy.studies.models import Case, Study
from readerstudy.studies.selectors import reader_profile_list
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup

EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "decisions.csv"),
    "json": ("application/json", "analysis.json"),
    "imrmc": ("text/plain; charset=utf-8", "ratings.imrmc"),
    "ratings": ("text/csv; charset=utf-8", "ratings.csv"),
    "html": ("text/html; charset=utf-8", "report.html"),
    "readers": ("text/csv; charset=utf-8", "readers.csv"),
    "diagnosis": ("application/json", "diagnosis.json"),
    "png": ("image/png", "roc.png"),
    "svg": ("image/svg+xml", "roc.svg"),
}

DECISION_COLUMNS = [
    "decision_id",
    "reader",
    "simulated",
    "case",
    "source_id",
    "diagnosis",
    "truth",
    "cnn_score",
    *DECISION_ANSWER_COLUMNS,
    # Last, after the columns older exports had: the class the case's diagnosis maps to in
    # the study's scheme (blank where the study asks no diagnosis).
    "true_class",
]

# The readers CSV: who each reader was (their profile), by pseudonym; "name" only when
# identities are asked for.
READER_COLUMNS = [
    "reader",
    "simulated",
    "position",
    "board_certified",
    "experience",
    "notes",
    "consented_at",
]

CNN_READER = "CNN"


class _Echo:
    """A file-like object whose write returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


def decisions_csv_lines(
    study: Study,
    *,
    identities: bool = False,
    model_version: ModelVersion | None = None,
    subgroup: ReaderSubgroup = EVERYONE,
) -> Iterator[str]:
    """Every decision of the study, all revisions, one CSV line at a time, with the CNN's
    probability for the case (``model_version``, by default the task's active model; blank
    where it has not scored the case).

    Memory stays constant whatever the number of decisions: rows stream from a database
    cursor and only the case table (truth and CNN score per case) is held.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(DECISION_COLUMNS)
    model_version = model_version or study_algorithm_get(study)
    scores = study_cnn_probabilities(study, model_version)
    scheme = study_design(study).scheme
    cases = {
        pk: (
            str(public_id),
            source_id,
            diagnosis,
            int(truth),
            scores.get(pk, ""),
            (scheme.class_of(diagnosis) if scheme else None) or "",
        )
        for pk, public_id, source_id, diagnosis, truth in Case.objects.filter(
            study=study
        ).values_list("pk", "public_id", "source_id", "diagnosis", "truth")
    }
    names: dict[int, str] = {}
    if identities:
        names = dict(study.enrolments.values_list("pk", "reader__username"))
    members = None
    if not subgroup.everyone:
        members = set(subgroup.enrolments(study.enrolments.all()).values_list("pk", flat=True))
    for row in decision_iter(study):
        decision = dict(zip(DECISION_EXPORT_COLUMNS, row, strict=True))
        if members is not None and decision["enrolment_id"] not in members:
            continue
        public_id, source_id, diagnosis, truth, cnn_score, true_class = cases[decision["case_id"]]
        yield writer.writerow(
            [
                spreadsheet_safe(value)
                for value in (
                    decision["decision_id"],
                    names.get(decision["enrolment_id"], decision["pseudonym"]),
                    int(decision["simulated"]),
                    public_id,
                    source_id,
                    diagnosis,
                    truth,
                    cnn_score,
                    *decision_answer_cells(decision),
                    true_class,
                )
            ]
        )


def readers_csv(
    study: Study, *, identities: bool = False, subgroup: ReaderSubgroup = EVERYONE
) -> str:
    """Every reader of the study (or of ``subgroup``) with their profile and when they agreed
    to the consent text, by pseudonym (by account name with ``identities``); blank fields for
    a reader without a profile or consent."""
    members = None
    if not subgroup.everyone:
        members = set(subgroup.enrolments(study.enrolments.all()).values_list("pk", flat=True))
    lines: list[list[object]] = [list(READER_COLUMNS)]
    for enrolment, profile in reader_profile_list(study):
        if members is not None and enrolment.pk not in members:
            continue
        name = enrolment.reader.get_username() if identities else enrolment.pseudonym
        certified = None if profile is None else profile.board_certified
        lines.append(
            [
                name,
                int(enrolment.simulated),
                profile.position if profile else "",
                "" if certified is None else int(certified),
                profile.experience if profile else "",
                profile.notes if profile else "",
                enrolment.consented_at.isoformat() if enrolment.consented_at else "",
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[spreadsheet_safe(v) for v in line] for line in lines])
    return buffer.getvalue()


def ratings_table(data: StudyData, *, identities: bool = False) -> RatingsTable:
    """One modality: each reader's confidence ratings and the CNN's probabilities as the
    reader "CNN", ready for ``analyze --algorithm CNN`` or RJafroc's StCadVsRad.

    Reader names are spreadsheet-safe: the long CSV opens in a spreadsheet as it is."""
    readers: list[str] = []
    cases: list[str] = []
    truth: list[int] = []
    rating: list[float] = []
    case_names = [str(pk) for pk in data.case_ids]
    for n, name in enumerate(case_names):
        readers.append(CNN_READER)
        cases.append(name)
        truth.append(int(data.truth[n]))
        rating.append(float(data.cnn[n]))
    for reader in data.readers:
        label = data.labels.get(reader.reader)
        name = str(spreadsheet_safe(label.name(identities) if label else reader.reader))
        for index, value in zip(reader.case_index, reader.rating, strict=True):
            readers.append(name)
            cases.append(case_names[index])
            truth.append(int(data.truth[index]))
            rating.append(float(value))
    return RatingsTable(
        reader=tuple(readers),
        modality=tuple("readers" for _ in readers),
        case=tuple(cases),
        truth=np.asarray(truth, dtype=np.int8),
        rating=np.asarray(rating, dtype=np.float64),
        source=f"study {data.study.pk}",
    )


def report_html(
    data: StudyData,
    analysis: StudyAnalysis | None,
    *,
    identities: bool = False,
    extra_sections: Iterable[str] = (),
) -> str:
    """A single HTML file that opens offline: plotly.js, the figure and every table inline."""
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.figures import matched_caption, roc_figure

    context: dict[str, Any] = {
        "data": data,
        "study": data.study,
        "analysis": None if analysis is None else analysis.to_dict(),
        "identities": identities,
        "generated_at": timezone.now(),
        "extra_sections": list(extra_sections),
        "subgroup_rows": [
            row.to_dict()
            for row in subgroup_rows_get(
                data, include_partial=bool(analysis and analysis.include_partial)
            )
        ],
    }
    if analysis is not None:
        figure = roc_figure(data, analysis, identities=identities)
        context["figure_html"] = figure.to_html(
            full_html=False, include_plotlyjs=True, config={"displaylogo": False}
        )
        context["reader_rows"] = reader_rows(data, analysis, identities=identities)
        context["mrmc_simulated"] = data.n_simulated(analysis.mrmc_readers)
        context["matched_caption"] = matched_caption(context["analysis"])
    return render_to_string("analysis/report.html", context)


def reader_rows(
    data: StudyData, analysis: StudyAnalysis, *, identities: bool
) -> list[dict[str, Any]]:
    """The per-reader table with display names, the simulated flag and the CNN at the reader's
    own sensitivity (``matched``: None for a reader left out of the comparisons)."""
    result = analysis.to_dict()
    matched = {row["reader"]: row for row in result["per_reader_matched"]}
    rows = []
    for row in result["readers"]:
        label = data.labels.get(row["reader"])
        rows.append(
            {
                **row,
                "matched": matched.get(row["reader"]),
                "name": label.name(identities) if label else row["reader"],
                "simulated": bool(label and label.simulated),
            }
        )
    return rows


def _case_columns(data: StudyData | AidedData) -> dict[str, dict[str, str]]:
    """The ratings' case numbers mapped to the case ids of the decisions CSV and the
    image set's own ids."""
    columns: dict[str, dict[str, str]] = {"case_id": {}, "source_id": {}}
    for pk, public_id, source_id in Case.objects.filter(pk__in=data.case_ids).values_list(
        "pk", "public_id", "source_id"
    ):
        columns["case_id"][str(pk)] = str(public_id)
        columns["source_id"][str(pk)] = str(spreadsheet_safe(source_id))
    return columns


class ExportUnavailable(LookupError):
    """An export the study cannot give (the page answers 404, the command an error)."""


class NoFigureYet(ExportUnavailable):
    """The CNN has not scored cases of both classes, so there is no curve to draw."""


class NotADiagnosisStudy(ExportUnavailable):
    """The study asks no diagnosis, so there is no diagnosis analysis."""


def export_bytes(
    study: Study,
    fmt: str,
    *,
    identities: bool,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
) -> bytes:
    """Every export but the streamed decisions CSV, as bytes (the page and the command);
    ``include_partial`` and ``subgroup`` as in ``analysis_context_get``."""
    if fmt == "readers":
        return readers_csv(study, identities=identities, subgroup=subgroup).encode()
    if fmt == "diagnosis":
        found = diagnosis_analysis_get(
            study,
            identities=identities,
            include_partial=include_partial,
            subgroup=subgroup,
        )
        if found is None:
            raise NotADiagnosisStudy("this study asks no diagnosis")
        return json.dumps(diagnosis_export_dict(*found), indent=2, allow_nan=False).encode()
    data, analysis = study_analysis_get(study, include_partial=include_partial, subgroup=subgroup)
    if fmt == "json":
        return json.dumps(analysis_dict(data, analysis, identities=identities), indent=2).encode()
    if fmt in ("imrmc", "ratings"):
        # An AI-assisted study's ratings are its two phases as modalities (unaided, aided).
        columns_of: StudyData | AidedData = data
        if study.aided:
            columns_of = aided_data_get(study, subgroup=subgroup)
            table = aided_ratings_table(
                columns_of, identities=identities, include_partial=include_partial
            )
        else:
            table = ratings_table(data, identities=identities)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ratings"
            if fmt == "imrmc":
                # One line: a line break in the name would start a line of its own, which
                # a spreadsheet reads as a cell (a formula, if it starts with "=").
                name = " ".join(study.name.split())
                write_imrmc(table, path, description=f"readerstudy: {name}")
            else:
                write_long_csv(table, path, case_columns=_case_columns(columns_of))
            return path.read_bytes()
    if fmt == "html":
        # plotly.js comes with the ROC figure; without one, with the first figure drawn.
        plotly = PlotlyOnce(included=analysis is not None)
        sections = [
            aided_report_section(
                study,
                identities=identities,
                include_partial=include_partial,
                subgroup=subgroup,
                plotly=plotly,
            ),
            diagnosis_report_section(
                study,
                identities=identities,
                include_partial=include_partial,
                subgroup=subgroup,
                plotly=plotly,
            ),
        ]
        if data.model_version is not None and data.n_cases:
            sections.append(tsne_report_section(study, data.model_version, plotly=plotly))
            sections.append(
                gallery_report_section(
                    study, data.model_version, threshold=operating_threshold(analysis)[0]
                )
            )
        return report_html(data, analysis, identities=identities, extra_sections=sections).encode()
    if fmt not in ("png", "svg"):
        raise ValueError(f"unknown export format {fmt!r}")
    if analysis is None:
        raise NoFigureYet("no figure yet: the CNN has not scored cases of both classes")
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.figures import figure_image, roc_figure

    return figure_image(roc_figure(data, analysis, identities=identities), fmt)  # type: ignore[arg-type]
