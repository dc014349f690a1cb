"""A model's own stated metrics read as tables and lines on its card, not as a Python dict."""

from __future__ import annotations

import html

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import load_checkpoint
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.stated_metrics import stated_metrics_display

TASKS = list(load_taxonomy().tasks)
ORDERED_TEST_ROWS = (
    "melanoma-vs-nevus",
    "carcinoma-vs-keratosis",
    "isic-uda1 melanoma-vs-nevus",
    "melanoma-vs-nevus tta",
)


def test_the_shipped_models_metrics_become_one_table_per_split_with_every_task() -> None:
    metrics = load_checkpoint(DEFAULT_CHECKPOINT).metrics
    shown = stated_metrics_display(metrics, task_order=TASKS)

    tables = {table["key"]: table for table in shown["tables"]}
    assert set(tables) == {"val", "test"}
    assert tables["test"]["label"] == "Test split"
    melanoma = next(row for row in tables["test"]["rows"] if row["task"] == "melanoma-vs-nevus")
    stated = metrics["test"]["melanoma-vs-nevus"]
    assert melanoma == {
        "task": "melanoma-vs-nevus",
        "auc": f"{stated['auc']:.3f}",
        "ci": f"{stated['auc_ci'][0]:.3f}\u2013{stated['auc_ci'][1]:.3f}",
        "cases": f"{stated['n_positive']} / {stated['n_negative']}",
        "sensitivity": f"{100 * stated['sensitivity']:.1f}%",
        "specificity": f"{100 * stated['specificity']:.1f}%",
        "threshold": f"{stated['threshold']:.3f}",
    }
    # The taxonomy's tasks first, in its order, then the others by name.
    assert [row["task"] for row in tables["test"]["rows"]] == list(ORDERED_TEST_ROWS)
    assert [table["key"] for table in shown["tables"]] == ["val", "test"]

    lines = {line["label"]: line["text"] for line in shown["lines"]}
    assert lines["epoch"] == "7"
    assert lines["history"] == f"{len(metrics['history'])} epochs (every number is in the API)"
    assert lines["thresholds"].startswith("melanoma-vs-nevus 0.339; carcinoma-vs-keratosis 0.427")
    assert lines["test_note"] == metrics["test_note"]


def test_the_order_is_the_same_whatever_order_the_json_came_in() -> None:
    """PostgreSQL's jsonb keeps no key order, so the card cannot rely on the file's."""
    metrics = load_checkpoint(DEFAULT_CHECKPOINT).metrics
    scrambled = {
        key: dict(reversed(value.items())) if isinstance(value, dict) else value
        for key, value in reversed(metrics.items())
    }
    assert list(scrambled) != list(metrics)
    assert stated_metrics_display(scrambled, TASKS) == stated_metrics_display(metrics, TASKS)


def test_a_brought_models_flat_metrics_are_shown_by_name() -> None:
    shown = stated_metrics_display(
        {
            "auc_melanoma_vs_nevus": 0.91,
            "source": "our paper, table 2",
            "calibrated": False,
            "sizes": [224, 224],
            "training": {"data": "ISIC 2019", "epochs": 30, "augmentation": {"flips": True}},
            "external": {"isic2020": {"auc": 0.84, "n_positive": 40, "n_negative": 80}},
        }
    )

    assert shown["tables"] == [
        {
            "key": "external",
            "label": "external",
            "rows": [
                {
                    "task": "isic2020",
                    "auc": "0.840",
                    "ci": "\u2013",
                    "cases": "40 / 80",
                    "sensitivity": "\u2013",
                    "specificity": "\u2013",
                    "threshold": "\u2013",
                }
            ],
        }
    ]
    assert shown["lines"] == [
        {"label": "auc_melanoma_vs_nevus", "text": "0.91"},
        {"label": "calibrated", "text": "no"},
        {"label": "sizes", "text": "224, 224"},
        {"label": "source", "text": "our paper, table 2"},
        {"label": "training augmentation", "text": "flips yes"},
        {"label": "training data", "text": "ISIC 2019"},
        {"label": "training epochs", "text": "30"},
    ]
    assert stated_metrics_display({}) == {"tables": [], "lines": []}
    assert stated_metrics_display(None) == {"tables": [], "lines": []}


def test_the_models_page_shows_the_shipped_models_test_auc_in_a_table(
    default_model, analyst_client
) -> None:
    page = html.unescape(analyst_client.get("/scoring/models/").content.decode())
    stated = default_model.metrics["test"]["melanoma-vs-nevus"]

    assert "<caption>Test split</caption>" in page
    assert f'<th scope="row">melanoma-vs-nevus</th><td class="num">{stated["auc"]:.3f}</td>' in page
    assert "Active for: every task without a model of its own." in page
    # Read back from PostgreSQL (jsonb orders keys by length): still the card's own order.
    test_split = page[page.index("<caption>Test split</caption>") :]
    rows = [test_split.index(f'<th scope="row">{task}</th>') for task in ORDERED_TEST_ROWS]
    assert rows == sorted(rows)
    assert (
        "akiec → akiec; bcc → bcc; bkl → bkl; df → df; mel → mel; nv → nv; vasc → vasc; "
        "nv:biopsied → nv" in page
    )
    assert "'auc_ci'" not in page and "train_loss" not in page
