"""Shared fixtures: the external reference data under ../shared/refdata (the ``refdata``
fixture of tests/conftest.py), read in place."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from readerstudy.stats.design import MrmcDesign, mrmc_design
from readerstudy.stats.formats import read_long_csv
from readerstudy.stats.simulate import simulate_cnn_scores, simulate_reader_panel


@pytest.fixture(scope="session")
def asah(refdata: Path) -> dict[str, np.ndarray]:
    """pROC's aSAH data: outcome_poor (0/1) and the wfns, s100b and ndka predictors."""
    with open(refdata / "pROC" / "aSAH.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    data = {"truth": np.array([int(row["outcome_poor"]) for row in rows])}
    for name in ("wfns", "s100b", "ndka"):
        data[name] = np.array([float(row[name]) for row in rows])
    return data


@pytest.fixture(scope="session")
def vandyke(refdata: Path) -> MrmcDesign:
    return mrmc_design(read_long_csv(refdata / "vandyke" / "dataset02_ratings.csv"))


@pytest.fixture(scope="session")
def algorithm_study(tmp_path_factory):
    """A one-modality ratings file: a simulated CNN ("cnn") and six simulated readers on 100
    cases; (path, truth, cnn scores, panel)."""
    truth = np.array([1] * 30 + [0] * 70)
    panel = simulate_reader_panel(truth, 6, mean_sensitivity=0.85, mean_specificity=0.7, seed=5)
    cnn = simulate_cnn_scores(truth, auc=0.92, seed=5)
    rows = ["reader,modality,case,truth,rating"]
    for name, ratings in [("cnn", cnn), *zip(panel.readers, panel.rating, strict=True)]:
        rows += [f"{name},derm,c{k},{truth[k]},{float(ratings[k])!r}" for k in range(100)]
    path = tmp_path_factory.mktemp("cli") / "study.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, truth, cnn, panel
