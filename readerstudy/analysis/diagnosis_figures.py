"""The diagnosis analysis's figures, drawn with plotly like the ROC figure: confusion-matrix
heatmaps (Esteva et al. 2017, Extended Data Fig. 3) and each reader's accuracy as a dot with
its Wilson interval, the CNN's accuracy as a line (Esteva et al. 2017, Fig. 3; Tschandl et al.
2019, Fig. 2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from readerstudy.analysis.figures import (
    AVERAGE_COLOUR,
    CNN_COLOUR,
    READER_COLOUR,
    SIMULATED_COLOUR,
)


def confusion_figure(confusion: list[list[int]], classes: list[str], *, title: str) -> go.Figure:
    """Rows the true class, columns the class answered; each cell shows its count, coloured
    by the share of its true class (so rare classes read as clearly as common ones)."""
    counts = np.asarray(confusion, dtype=np.float64).reshape(len(classes), len(classes))
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    figure = go.Figure(
        go.Heatmap(
            z=shares.tolist(),
            x=classes,
            y=classes,
            text=counts.astype(np.int64).tolist(),
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "share"}},
            # Gaps between the cells also keep plotly.js from its "fast" pixelated drawing,
            # which sets an inline style attribute the page's CSP refuses.
            xgap=2,
            ygap=2,
            hovertemplate=(
                "true %{y}, answered %{x}<br>%{text} cases (%{z:.0%} of %{y})<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": {"text": "Answered class"}, "side": "bottom", "type": "category"},
        yaxis={"title": {"text": "True class"}, "autorange": "reversed", "type": "category"},
        template="plotly_white",
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        height=420,
    )
    return figure


def accuracy_figure(
    result: dict[str, Any], *, simulated: set[str] | frozenset[str] = frozenset()
) -> go.Figure:
    """Each reader's accuracy with its 95% Wilson (1927) interval, the average reader, and
    the CNN's accuracy as a vertical line."""
    figure = go.Figure()
    readers = list(result["readers"].items())
    partial = set(result.get("partial_readers") or [])
    for is_simulated in (False, True):
        rows = [(name, block) for name, block in readers if (name in simulated) == is_simulated]
        if not rows:
            continue
        colour = SIMULATED_COLOUR if is_simulated else READER_COLOUR
        x = [block["accuracy"] for _, block in rows]
        lows = [block["accuracy_ci"][0] for _, block in rows]
        highs = [block["accuracy_ci"][1] for _, block in rows]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[f"{name} (partial)" if name in partial else name for name, _ in rows],
                mode="markers",
                marker={
                    "color": colour,
                    "size": 10,
                    "symbol": "diamond" if is_simulated else "circle",
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        None if v is None or h is None else max(0.0, h - v)
                        for v, h in zip(x, highs, strict=True)
                    ],
                    "arrayminus": [
                        None if v is None or lo is None else max(0.0, v - lo)
                        for v, lo in zip(x, lows, strict=True)
                    ],
                    "color": colour,
                    "thickness": 1,
                    "width": 3,
                },
                name="Simulated readers" if is_simulated else "Readers",
                customdata=[[block["n"]] for _, block in rows],
                hovertemplate="%{y}<br>accuracy %{x:.1%}<br>n = %{customdata[0]} cases"
                "<extra></extra>",
            )
        )
    average = result.get("average_reader") or {}
    if average.get("accuracy") is not None:
        figure.add_trace(
            go.Scatter(
                x=[average["accuracy"]],
                y=["Average reader"],
                mode="markers",
                marker={"color": AVERAGE_COLOUR, "size": 15, "symbol": "star"},
                name=f"Average reader ({average['n_readers']} readers)",
                hovertemplate="Average reader<br>accuracy %{x:.1%}<extra></extra>",
            )
        )
    algorithm = result.get("algorithm")
    if algorithm and algorithm.get("accuracy") is not None:
        accuracy = algorithm["accuracy"]
        names = [name for name, _ in readers] + (
            ["Average reader"] if average.get("accuracy") is not None else []
        )
        figure.add_trace(
            go.Scatter(
                x=[accuracy] * max(len(names), 1),
                y=[f"{n} (partial)" if n in partial else n for n in names] or [algorithm["name"]],
                mode="lines",
                line={"color": CNN_COLOUR, "width": 3, "dash": "dash"},
                name=f"{algorithm['name']} accuracy {100 * accuracy:.1f}%",
                hovertemplate=f"{algorithm['name']}<br>accuracy %{{x:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(
        title={"text": f"Accuracy on {result['n_cases']} cases", "font": {"size": 14}},
        xaxis={"title": {"text": "Accuracy"}, "range": [-0.01, 1.01], "tickformat": ".0%"},
        yaxis={"type": "category", "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
        margin={"l": 120, "r": 20, "t": 50, "b": 40},
        height=max(300, 60 + 28 * (len(readers) + 1)),
    )
    return figure
