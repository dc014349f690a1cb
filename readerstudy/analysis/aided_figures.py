"""The AI-assistance page's figures, drawn with plotly from the analysis dict
(``analysis.aided.aided_analysis``): the CNN's ROC curve with each reader as an arrow from
their unaided to their aided operating point (Tschandl et al., Nat Med 2020, Fig. 2), and
each reader's change by experience band."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from readerstudy.analysis.figures import (
    AVERAGE_COLOUR,
    READER_COLOUR,
    SIMULATED_COLOUR,
    cnn_curve_add,
)

UNAIDED_COLOUR = "#7f8c8d"
# The bands in words: plotly would read "<3" in an axis label as the start of a tag.
BAND_WORDS = {"<3": "under 3", "3-10": "3 to 10", ">10": "over 10"}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def aided_roc_figure(result: dict[str, Any]) -> go.Figure | None:
    """The CNN's ROC curve (truth against its probability, on the scored cases) and, for each
    reader (of the analysis's subgroup, named in the title), an arrow from the unaided
    (1 - specificity, sensitivity) point to the aided one; None until the CNN has scored cases
    of both classes."""
    cnn = result.get("cnn")
    if cnn is None:
        return None
    figure = go.Figure()
    cnn_curve_add(figure, cnn, cnn["ci"], label="CNN alone")
    points = [
        p
        for p in result.get("points", [])
        if None not in (p["unaided"]["sensitivity"], p["unaided"]["specificity"])
        and None not in (p["aided"]["sensitivity"], p["aided"]["specificity"])
    ]
    annotations = []
    for phase, colour, symbol, name in (
        ("unaided", UNAIDED_COLOUR, "circle-open", "Readers unaided"),
        ("aided", None, "circle", "Readers with the CNN"),
    ):
        if not points:
            break
        figure.add_trace(
            go.Scatter(
                x=[1 - p[phase]["specificity"] for p in points],
                y=[p[phase]["sensitivity"] for p in points],
                mode="markers",
                marker={
                    "color": colour
                    or [SIMULATED_COLOUR if p["simulated"] else READER_COLOUR for p in points],
                    "size": 9,
                    "symbol": symbol,
                },
                name=name,
                text=[p["reader"] + (" (simulated)" if p["simulated"] else "") for p in points],
                customdata=[
                    [_pct(p[phase]["sensitivity"]), _pct(p[phase]["specificity"])] for p in points
                ],
                hovertemplate=(
                    f"%{{text}} {phase}<br>sensitivity %{{customdata[0]}}"
                    "<br>specificity %{customdata[1]}<extra></extra>"
                ),
            )
        )
    for p in points:
        annotations.append(
            {
                "x": 1 - p["aided"]["specificity"],
                "y": p["aided"]["sensitivity"],
                "ax": 1 - p["unaided"]["specificity"],
                "ay": p["unaided"]["sensitivity"],
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": 1,
                "arrowwidth": 1.5,
                "arrowcolor": SIMULATED_COLOUR if p["simulated"] else READER_COLOUR,
                "opacity": 0.8,
                "text": "",
            }
        )
    sens = result["mrmc"]["blocks"].get("sensitivity") or {}
    spec = result["mrmc"]["blocks"].get("specificity") or {}
    if sens.get("mean_unaided") is not None and spec.get("mean_unaided") is not None:
        for phase, symbol in (("unaided", "star-open"), ("aided", "star")):
            figure.add_trace(
                go.Scatter(
                    x=[1 - spec[f"mean_{phase}"]],
                    y=[sens[f"mean_{phase}"]],
                    mode="markers",
                    marker={"color": AVERAGE_COLOUR, "size": 15, "symbol": symbol},
                    name=(
                        f"Average reader {phase} (sens {_pct(sens[f'mean_{phase}'])}, "
                        f"spec {_pct(spec[f'mean_{phase}'])})"
                    ),
                )
            )
    subgroup = result.get("subgroup") or {}
    # Only a filter names itself: every reader is the figure's default.
    readers = f"readers ({subgroup['label']})" if set(subgroup) - {"label"} else "readers"
    figure.update_layout(
        title={
            "text": f"{result['study']['name']}: {readers} without and with the CNN "
            f"({result['cases_scored']} cases)<br>each arrow runs from a reader's unaided "
            "point to their aided point",
            "font": {"size": 15},
        },
        xaxis={"title": {"text": "1 - specificity"}, "range": [-0.01, 1.01], "constrain": "domain"},
        yaxis={
            "title": {"text": "Sensitivity"},
            "range": [-0.01, 1.01],
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        annotations=annotations,
        legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 90, "b": 40},
        height=720,
    )
    return figure


def experience_figure(result: dict[str, Any]) -> go.Figure | None:
    """Each reader's change (aided minus unaided) by experience band, with the band means;
    None without reader profiles."""
    block = result.get("experience") or {}
    if block.get("unavailable") or not block.get("readers"):
        return None
    order = block["bands"]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[BAND_WORDS.get(row["band"], row["band"]) for row in block["readers"]],
            y=[row["change"] for row in block["readers"]],
            mode="markers",
            marker={"color": READER_COLOUR, "size": 9, "opacity": 0.7},
            text=[row["reader"] for row in block["readers"]],
            name="Readers",
            hovertemplate="%{text}<br>band %{x}<br>change %{y:.3f}<extra></extra>",
        )
    )
    bands = [b for b in block["result"]["bands"] if b["change"]["n"]]
    figure.add_trace(
        go.Scatter(
            x=[BAND_WORDS.get(b["band"], b["band"]) for b in bands],
            y=[b["change"]["mean"] for b in bands],
            mode="markers",
            marker={"color": AVERAGE_COLOUR, "size": 15, "symbol": "line-ew-open"},
            name="Band mean",
            hovertemplate="band %{x}<br>mean change %{y:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={
            "title": {"text": "Dermoscopy experience (years)"},
            "categoryorder": "array",
            "categoryarray": [BAND_WORDS.get(band, band) for band in order],
            "type": "category",
        },
        yaxis={"title": {"text": f"Change in {block['measure']}, aided - unaided"}},
        template="plotly_white",
        height=420,
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
        legend={"orientation": "h"},
    )
    return figure
