"""What the analyses of a study's design show, for its page and for the HTML report: the
AI-assistance analysis of an AI-assisted study (unaided against aided) and the diagnosis
analysis of a study that asks a diagnosis.

The page and the report render the same sections (``analysis/_aided_sections.html``,
``analysis/_diagnosis_sections.html``) from the same context; the report draws their figures
inline, so it opens offline like the rest of the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from readerstudy.analysis.aided import aided_analysis_get
from readerstudy.analysis.diagnosis import DiagnosisData, diagnosis_analysis_get
from readerstudy.studies.models import Study
from readerstudy.studies.subgroups import ReaderSubgroup

if TYPE_CHECKING:
    import plotly.graph_objects as go


class PlotlyOnce:
    """Figures of one HTML report: the first one drawn carries plotly.js, the others use it."""

    def __init__(self, *, included: bool) -> None:
        self.included = included

    def html(self, figure: go.Figure | None) -> str:
        if figure is None:
            return ""
        text: str = figure.to_html(
            full_html=False, include_plotlyjs=not self.included, config={"displaylogo": False}
        )
        self.included = True
        return text


def _reader_changes(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per MRMC reader: their change in each figure of merit (None where missing)."""
    blocks = result["mrmc"]["blocks"]
    by_metric = {
        metric: {row["reader"]: row for row in block.get("reader_changes") or []}
        for metric, block in blocks.items()
    }
    return [
        {"reader": reader, "changes": [by_metric[metric].get(reader) for metric in blocks]}
        for reader in result["readers"]
    ]


def _aided_diagnosis_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    block = result.get("diagnosis") or {}
    if "accuracy" not in block:
        return []
    return [("Accuracy", block["accuracy"]), ("Mean recall", block["mean_recall"])]


def aided_sections_context(readers_with_answers: int, result: dict[str, Any]) -> dict[str, Any]:
    """What ``analysis/_aided_sections.html`` reads besides the study and the subgroup."""
    return {
        "result": result,
        "readers_with_answers": readers_with_answers,
        "mrmc": result["mrmc"]["blocks"],
        "reader_changes": _reader_changes(result),
        "diagnosis_rows": _aided_diagnosis_rows(result),
    }


def aided_report_section(
    study: Study,
    *,
    identities: bool,
    include_partial: bool,
    subgroup: ReaderSubgroup,
    plotly: PlotlyOnce,
) -> str:
    """The AI-assistance sections of the HTML report ("" for a study read unaided only)."""
    found = aided_analysis_get(
        study, identities=identities, include_partial=include_partial, subgroup=subgroup
    )
    if found is None:
        return ""
    data, result = found
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.aided_figures import aided_roc_figure, experience_figure

    return render_to_string(
        "analysis/_aided_sections.html",
        {
            "study": study,
            **aided_sections_context(len(data.readers), result),
            "include_partial": include_partial,
            "subgroup": subgroup,
            "report": True,
            "report_figures": {
                "roc": plotly.html(aided_roc_figure(result)),
                "experience": plotly.html(experience_figure(result)),
            },
        },
    )


def _diagnosis_reader_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The Esteva-style table's reader rows: n, accuracy with its Wilson CI, mean recall,
    per-class sensitivity in the scheme's order, and the exact McNemar test against the CNN."""
    versus = result.get("algorithm_vs_readers") or {}
    partial = set(result["partial_readers"])
    simulated = set(result["simulated_readers"])
    return [
        {
            "name": name,
            "simulated": name in simulated,
            "partial": name in partial,
            "n": block["n"],
            "accuracy": block["accuracy"],
            "accuracy_ci": block["accuracy_ci"],
            "mean_recall": block["mean_recall"],
            "sensitivity": [block["sensitivity"][label]["estimate"] for label in result["classes"]],
            "mcnemar_p": (versus.get("mcnemar_p") or {}).get(name),
            "mcnemar": (versus.get("mcnemar") or {}).get(name),
        }
        for name, block in result["readers"].items()
    ]


def diagnosis_sections_context(data: DiagnosisData, result: dict[str, Any]) -> dict[str, Any]:
    """What ``analysis/_diagnosis_sections.html`` reads from an analysis with results, besides
    the study, the subgroup and the figures."""
    classes = result["classes"]
    return {
        "rows": _diagnosis_reader_rows(result),
        "average": result["average_reader"],
        "class_headers": [(c.code, c.label) for c in data.scheme.classes],
        "average_sensitivity": [result["average_reader"]["sensitivity"][c] for c in classes],
        "cnn_sensitivity": (
            [result["algorithm"]["sensitivity"][c]["estimate"] for c in classes]
            if "algorithm" in result
            else None
        ),
    }


def diagnosis_figures(result: dict[str, Any], chosen_reader: str = "") -> dict[str, go.Figure]:
    """The diagnosis page's figures: every reader's accuracy, the confusion matrix of the
    readers pooled, the CNN's where it answers classes, and ``chosen_reader``'s if given."""
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.diagnosis_figures import accuracy_figure, confusion_figure

    classes = result["classes"]
    figures = {
        "accuracy": accuracy_figure(result, simulated=set(result["simulated_readers"])),
        "pooled": confusion_figure(
            result["pooled_confusion"],
            classes,
            title=f"Readers pooled ({result['average_reader']['n_readers']} readers)",
        ),
    }
    if "algorithm" in result:
        figures["cnn"] = confusion_figure(
            result["algorithm"]["confusion"], classes, title=result["algorithm"]["name"]
        )
    if chosen_reader:
        figures["reader"] = confusion_figure(
            result["readers"][chosen_reader]["confusion"], classes, title=f"Reader {chosen_reader}"
        )
    return figures


def diagnosis_report_section(
    study: Study,
    *,
    identities: bool,
    include_partial: bool,
    subgroup: ReaderSubgroup,
    plotly: PlotlyOnce,
) -> str:
    """The diagnosis sections of the HTML report ("" for a study that asks no diagnosis)."""
    found = diagnosis_analysis_get(
        study,
        identities=identities,
        include_partial=include_partial,
        subgroup=subgroup,
    )
    if found is None:
        return ""
    data, result = found
    context: dict[str, Any] = {
        "study": study,
        "data": data,
        "result": result,
        "include_partial": include_partial,
        "subgroup": subgroup,
        "report": True,
    }
    if result is not None:
        context.update(diagnosis_sections_context(data, result))
        figures = diagnosis_figures(result)
        context["figures"] = dict.fromkeys(figures, True)
        context["report_figures"] = {name: plotly.html(figure) for name, figure in figures.items()}
    return render_to_string("analysis/_diagnosis_sections.html", context)
