"""Studies of real skin-lesion images from ../shared/data for the integration tests."""

from __future__ import annotations

import csv
from pathlib import Path

from readerstudy.studies.models import Case, Study
from tests.factories import StudyFactory
from tests.support.env import shared_data
from tests.support.realcases import original_from_row, real_cases_add


def ham10000_rows(*, dx: tuple[str, ...] = ("mel", "nv"), histo_only: bool = True) -> list[dict]:
    folder = shared_data("ham10000")
    with (folder / "HAM10000_metadata.csv").open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["dx"] in dx and (r["dx_type"] == "histo" or not histo_only)
        ]
    return sorted(rows, key=lambda r: r["image_id"])


def add_real_cases(study: Study, rows: list[dict], *, folder: Path | None = None) -> list[Case]:
    """Cases for ``rows`` of the HAM10000 metadata (images in ``folder``, default the HAM10000
    set), stored as ``realcases`` stores every real case."""
    folder = folder or shared_data("ham10000")
    return real_cases_add(study, [original_from_row(row, folder) for row in rows])


def ham10000_study(n_cases: int, **kwargs: object) -> Study:
    """A study of ``n_cases`` biopsy-proven HAM10000 melanomas and nevi, alternating."""
    study = StudyFactory(**kwargs)
    rows = ham10000_rows()
    # Alternate melanomas and nevi so that every sample has both classes.
    mel = [r for r in rows if r["dx"] == "mel"]
    nv = [r for r in rows if r["dx"] == "nv"]
    mixed = [r for pair in zip(mel, nv, strict=False) for r in pair][:n_cases]
    add_real_cases(study, mixed)
    return study
