"""A model's own stated metrics, as a coordinator or analyst reads them on its card.

The metrics are whatever the model brought: this project's checkpoints store, per split, one
entry per task with its AUC, confidence interval, case counts, sensitivity, specificity and
threshold, beside notes and the training history; an ONNX or timm description holds any flat
JSON its authors wrote. The card shows the per-task entries as tables, every other value as a
labelled line, and a long record such as the training history as a count (the API keeps every
number).

The metrics are stored as JSON in PostgreSQL, which keeps no key order (jsonb), so the card
orders them itself: the validation split before the test split, the taxonomy's tasks in its
order before any other row or value, and the labelled lines by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DASH = "\u2013"
SPLIT_LABELS = {
    "val": "Validation split",
    "test": "Test split",
    "image_model_test": "The image model alone, test split",
}


def stated_metrics_display(
    metrics: Mapping[str, Any] | None, task_order: Sequence[str] = ()
) -> dict[str, list[dict[str, Any]]]:
    """``{"tables": [...], "lines": [...]}`` for the model card template.

    A table is ``{"key", "label", "rows"}``, one row per task with ``task``, ``auc``, ``ci``,
    ``cases``, ``sensitivity``, ``specificity`` and ``threshold`` as text; a line is
    ``{"label", "text"}``. ``task_order`` (the taxonomy's tasks) puts those rows first."""
    tables: list[dict[str, Any]] = []
    lines: list[dict[str, str]] = []
    for key, value in ordered_items(metrics or {}, list(SPLIT_LABELS)):
        if _is_task_table(value):
            tables.append(
                {
                    "key": key,
                    "label": SPLIT_LABELS.get(key, key),
                    "rows": [
                        _task_row(task, entry) for task, entry in ordered_items(value, task_order)
                    ],
                }
            )
        else:
            lines.extend(_lines(str(key), value, task_order))
    return {"tables": tables, "lines": lines}


def ordered_items(mapping: Mapping[str, Any], first: Sequence[str]) -> list[tuple[str, Any]]:
    """The items of ``mapping``: the keys named in ``first`` in that order, then the rest by
    name."""
    rank = {key: index for index, key in enumerate(first)}
    return sorted(mapping.items(), key=lambda item: (rank.get(item[0], len(rank)), str(item[0])))


def _is_task_table(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(entry, Mapping) and "auc" in entry for entry in value.values())
    )


def _task_row(task: str, entry: Mapping[str, Any]) -> dict[str, str]:
    ci = entry.get("auc_ci")
    positives, negatives = entry.get("n_positive"), entry.get("n_negative")
    return {
        "task": task,
        "auc": _fixed(entry.get("auc")),
        "ci": f"{_fixed(ci[0])}{DASH}{_fixed(ci[1])}"
        if isinstance(ci, list | tuple) and len(ci) == 2
        else DASH,
        "cases": f"{positives} / {negatives}"
        if positives is not None and negatives is not None
        else DASH,
        "sensitivity": _percent(entry.get("sensitivity")),
        "specificity": _percent(entry.get("specificity")),
        "threshold": _fixed(entry.get("threshold")),
    }


def _lines(label: str, value: object, task_order: Sequence[str]) -> list[dict[str, str]]:
    if isinstance(value, Mapping):
        if value and all(_is_scalar(item) for item in value.values()):
            text = "; ".join(
                f"{name} {_scalar(item)}" for name, item in ordered_items(value, task_order)
            )
            return [{"label": label, "text": text}]
        return [
            line
            for name, item in ordered_items(value, task_order)
            for line in _lines(f"{label} {name}", item, task_order)
        ]
    if isinstance(value, list) and value and not all(_is_scalar(item) for item in value):
        noun = "epochs" if label == "history" else "records"
        return [{"label": label, "text": f"{len(value)} {noun} (every number is in the API)"}]
    if isinstance(value, list):
        return [{"label": label, "text": ", ".join(_scalar(item) for item in value) or DASH}]
    return [{"label": label, "text": _scalar(value)}]


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _scalar(value: object) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: object) -> str:
    """Three decimals at most, without trailing zeros: 0.867877 -> 0.868, 0.91 -> 0.91."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fixed(value: object) -> str:
    """Three decimals, as AUCs are printed (0.850, not 0.85)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    return f"{value:.3f}"


def _percent(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    return f"{100 * value:.1f}%"
