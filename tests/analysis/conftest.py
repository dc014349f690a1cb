"""Shared fixtures: the external reference data under ../shared/refdata (the ``refdata``
fixture of tests/conftest.py), read in place."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from readerstudy.analysis.formats import MrmcDesign, mrmc_design, read_long_csv


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
