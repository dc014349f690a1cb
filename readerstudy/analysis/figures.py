"""The study's figure: the CNN's ROC curve with every reader as a point on it (Esteva et al.
2017, Fig. 3; Brinker et al. 2019), built once with plotly for the page, the HTML report and
the PNG/SVG export."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
import plotly.graph_objects as go
from django.conf import settings

from readerstudy.analysis.selectors import StudyData
from readerstudy.stats.roc import roc_curve
from readerstudy.stats.study import StudyAnalysis

CNN_COLOUR = "#1f4e5f"
READER_COLOUR = "#c0392b"
SIMULATED_COLOUR = "#b07d12"
AVERAGE_COLOUR = "#111111"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "n/a"
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}%"


def cnn_curve_add(figure: go.Figure, cnn: dict[str, Any], ci: Any, *, label: str) -> None:
    """The CNN's empirical ROC curve, with its AUC and 95% CI in the legend, and the chance
    diagonal: the ground of every figure that places readers on the CNN's curve."""
    lo, hi = ci
    figure.add_trace(
        go.Scatter(
            x=cnn["roc"]["fpr"],
            y=cnn["roc"]["tpr"],
            mode="lines",
            line={"color": CNN_COLOUR, "width": 3},
            name=f"{label} (AUC {cnn['auc']:.3f}, 95% CI {lo:.3f}-{hi:.3f})",
            hovertemplate="CNN<br>1 - specificity %{x:.3f}<br>sensitivity %{y:.3f}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"color": "#9aa5ab", "dash": "dot", "width": 1},
            name="Chance",
            hoverinfo="skip",
        )
    )


def roc_figure(
    data: StudyData,
    analysis: StudyAnalysis,
    *,
    identities: bool = False,
    reader_curves: bool = False,
) -> go.Figure:
    """CNN curve (AUC with DeLong CI in the legend), readers, average reader, and the CNN's
    operating points at the readers' mean sensitivity (Brinker) and specificity (Tschandl)."""
    result = analysis.to_dict()
    cnn = result["cnn"]
    figure = go.Figure()
    cnn_curve_add(figure, cnn, cnn["delong_ci"], label="CNN")
    readers_by_name = {reader.reader: reader for reader in data.readers}
    for simulated in (False, True):
        rows = [
            row
            for row in result["readers"]
            if bool(data.labels.get(row["reader"]) and data.labels[row["reader"]].simulated)
            == simulated
        ]
        if not rows:
            continue
        # Readers without confidence ratings (a diagnosis-only study) have a point, no curve.
        if reader_curves and data.readers_rated:
            for row in rows:
                reader = readers_by_name[row["reader"]]
                truth = data.truth[reader.case_index]
                if 0 < truth.sum() < len(truth):
                    curve = roc_curve(truth, reader.rating)
                    figure.add_trace(
                        go.Scatter(
                            x=curve.fpr,
                            y=curve.tpr,
                            mode="lines",
                            line={
                                "width": 1,
                                "color": SIMULATED_COLOUR if simulated else READER_COLOUR,
                            },
                            opacity=0.35,
                            name=f"{_label(data, row['reader'], identities)} ROC",
                            showlegend=False,
                            hoverinfo="skip",
                        )
                    )
        colour = SIMULATED_COLOUR if simulated else READER_COLOUR
        names = [_label(data, row["reader"], identities) for row in rows]
        x = [None if row["specificity"] is None else 1 - row["specificity"] for row in rows]
        y = [row["sensitivity"] for row in rows]
        # 1 - specificity turns the specificity interval around: its upper bound is the
        # point's lower error.
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                error_x=_error_bars(
                    x, [row["specificity_ci"] for row in rows], colour, flipped=True
                ),
                error_y=_error_bars(y, [row["sensitivity_ci"] for row in rows], colour),
                mode="markers",
                marker={
                    "color": colour,
                    "size": 10,
                    "symbol": "diamond" if simulated else "circle",
                    "line": {"color": "#ffffff", "width": 1},
                },
                name="Simulated readers" if simulated else "Dermatologists",
                text=names,
                customdata=[
                    [
                        _pct(row["sensitivity"]),
                        _ci(row["sensitivity_ci"]),
                        _pct(row["specificity"]),
                        _ci(row["specificity_ci"]),
                        row["n_cases"],
                    ]
                    for row in rows
                ],
                hovertemplate=(
                    "%{text}<br>sensitivity %{customdata[0]} (95% CI %{customdata[1]})"
                    "<br>specificity %{customdata[2]} (95% CI %{customdata[3]})"
                    "<br>n = %{customdata[4]} cases<extra></extra>"
                ),
            )
        )
    average = result["average_reader"]
    if average and average["n_readers"]:
        figure.add_trace(
            go.Scatter(
                x=[1 - average["specificity"]],
                y=[average["sensitivity"]],
                mode="markers",
                marker={"color": AVERAGE_COLOUR, "size": 16, "symbol": "star"},
                name=(
                    f"Average reader (sens {_pct(average['sensitivity'])}, "
                    f"spec {_pct(average['specificity'])})"
                ),
                hovertemplate="Average of %{text} readers<extra></extra>",
                text=[str(average["n_readers"])],
            )
        )
    for key, label, symbol in (
        ("brinker", "CNN at readers' mean sensitivity", "triangle-up"),
        ("tschandl", "CNN at readers' mean specificity", "triangle-right"),
    ):
        point = result.get(key)
        if not point or point["cnn_value"] is None:
            continue
        if key == "brinker":
            x, y = 1 - point["cnn_value"], point["target"]
            detail = f"specificity {_pct(point['cnn_value'])} (95% CI {_ci(point['cnn_ci'])})"
        else:
            x, y = 1 - point["target"], point["cnn_value"]
            detail = f"sensitivity {_pct(point['cnn_value'])} (95% CI {_ci(point['cnn_ci'])})"
        figure.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                marker={"color": CNN_COLOUR, "size": 13, "symbol": symbol},
                name=f"{label}: {detail}",
                hovertemplate=f"{label}<br>{detail}<extra></extra>",
            )
        )
    figure.update_layout(
        title={
            "text": f"{data.study.name}: CNN vs readers ({data.n_cases} cases)"
            # A line break, not <sup>: plotly draws <sup> with an inline style the CSP refuses.
            + "".join(f"<br>{line}" for line in matched_caption_lines(result)),
            "font": {"size": 15},
        },
        xaxis={"title": {"text": "1 - specificity"}, "range": [-0.01, 1.01], "constrain": "domain"},
        yaxis={
            "title": {"text": "Sensitivity"},
            "range": [-0.01, 1.01],
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 110, "b": 40},
        height=720,
    )
    return figure


def matched_caption_lines(result: dict[str, Any]) -> list[str]:
    """The figure's caption: how many readers the CNN beat at their own sensitivity (Brinker
    et al. 2019), and the mean and range of its specificity there; [] without readers."""
    summary = result.get("matched_summary")
    if not summary or not summary["n_readers"]:
        return []
    partial = len(result.get("partial_readers") or [])
    left_out = (
        f"; {partial} partial reader{'s' if partial != 1 else ''} left out"
        if partial and not result.get("include_partial")
        else ""
    )
    return [
        f"The CNN beat {summary['beat']} of {summary['n_readers']} readers at their sensitivity "
        f"(tied {summary['tied']}, lost {summary['lost']}){left_out}",
        f"the CNN's specificity there: mean {_pct(summary['mean'])}, "
        f"range {_pct(summary['min'])}-{_pct(summary['max'])}",
    ]


def matched_caption(result: dict[str, Any]) -> str:
    """The caption of ``matched_caption_lines`` as one sentence (the report's)."""
    return "; ".join(matched_caption_lines(result))


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _error_bars(
    values: list[float | None], cis: list[Any], colour: str, *, flipped: bool = False
) -> dict[str, Any]:
    """Asymmetric error bars from each point's 95% Wilson interval (Wilson 1927); none where
    the interval is undefined."""
    plus: list[float | None] = []
    minus: list[float | None] = []
    for value, ci in zip(values, cis, strict=True):
        if value is None or not ci or ci[0] is None:
            plus.append(None)
            minus.append(None)
            continue
        low, high = (1 - ci[1], 1 - ci[0]) if flipped else (ci[0], ci[1])
        plus.append(max(0.0, high - value))
        minus.append(max(0.0, value - low))
    return {
        "type": "data",
        "symmetric": False,
        "array": plus,
        "arrayminus": minus,
        "color": colour,
        "thickness": 1,
        "width": 3,
    }


def _label(data: StudyData, pseudonym: str, identities: bool) -> str:
    label = data.labels.get(pseudonym)
    name = label.name(identities) if label else pseudonym
    return f"{name} (simulated)" if label and label.simulated else name


def tsne_figure(points: list[dict[str, Any]]) -> go.Figure:
    """The t-SNE map (van der Maaten & Hinton 2008) of the cases' CNN embeddings, coloured by
    truth, each point named by its case, as the analysis page draws it."""
    figure = go.Figure()
    for truth, name, colour in ((0, "negative", CNN_COLOUR), (1, "positive", READER_COLOUR)):
        group = [point for point in points if point["truth"] == truth]
        if not group:
            continue
        figure.add_trace(
            go.Scatter(
                x=[point["x"] for point in group],
                y=[point["y"] for point in group],
                mode="markers",
                marker={"color": colour, "size": 7},
                name=name,
                text=[point["source_id"] or point["case"] for point in group],
                customdata=[[point["diagnosis"], _score(point["score"])] for point in group],
                hovertemplate=(
                    "%{text}<br>%{customdata[0]}<br>CNN P(positive) %{customdata[1]}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        template="plotly_white",
        height=560,
        margin={"l": 30, "r": 10, "t": 10, "b": 30},
        xaxis={"showticklabels": False, "zeroline": False},
        yaxis={"showticklabels": False, "zeroline": False},
        legend={"orientation": "h"},
    )
    return figure


def figure_json(figure: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON for Plotly.react in the browser."""
    return _plain(figure.to_plotly_json())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def figure_image(figure: go.Figure, image_format: Literal["png", "svg"]) -> bytes:
    """Render with kaleido in headless Chromium (READERSTUDY_CHROMIUM, default
    /usr/bin/chromium); nothing is downloaded."""
    os.environ.setdefault("BROWSER_PATH", str(settings.READERSTUDY_CHROMIUM))
    return figure.to_image(
        format=image_format, width=900, height=900, scale=2 if image_format == "png" else 1
    )
