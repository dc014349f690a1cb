"""Ratings files: long CSV and iMRMC round trips, and errors that say where the input is bad."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.stats.design import mrmc_design, table_from_design
from readerstudy.stats.formats import (
    RatingsFormatError,
    RatingsTable,
    read_imrmc,
    read_long_csv,
    read_ratings,
    write_imrmc,
    write_long_csv,
)
from readerstudy.stats.mrmc import or_hillis
from readerstudy.stats.simulate import simulate_mrmc


def _reader_aucs(design):
    return or_hillis(design.truth, design.ratings).auc


def test_van_dyke_round_trips_through_imrmc_with_the_same_aucs(vandyke, tmp_path):
    path = tmp_path / "vandyke.imrmc"
    write_imrmc(table_from_design(vandyke), path)
    back = mrmc_design(read_imrmc(path))
    assert back.readers == vandyke.readers and back.cases == vandyke.cases
    np.testing.assert_array_equal(back.ratings, vandyke.ratings)
    np.testing.assert_array_equal(_reader_aucs(back), _reader_aucs(vandyke))


def test_imrmc_file_has_the_header_and_truth_rows_rjafroc_reads(vandyke, tmp_path):
    path = tmp_path / "vandyke.imrmc"
    write_imrmc(table_from_design(vandyke), path)
    lines = path.read_text().splitlines()
    assert {"N0: 69", "N1: 45", "NR: 5", "NM: 2", "BEGIN DATA:"} <= set(lines)
    data = lines[lines.index("BEGIN DATA:") + 1 :]
    assert data[0] == "-1,1,0,0"  # truth rows: reader -1
    assert all(len(line.split(",")) == 4 for line in data)
    assert len(data) == 114 + 2 * 5 * 114


def test_names_that_are_not_integers_survive_an_imrmc_round_trip(tmp_path):
    truth = np.array([1] * 6 + [0] * 9)
    design = simulate_mrmc(truth, 3, [1.0, 1.5], seed=1, rating_scale=(0, 100))
    named = type(design)(
        truth=design.truth,
        ratings=design.ratings,
        modalities=("clinical", "dermoscopy"),
        readers=("dr a", 'dr "b"', "dr,c"),
        cases=tuple(f"ISIC_{i:07d}" for i in range(15)),
    )
    path = tmp_path / "named.imrmc"
    write_imrmc(table_from_design(named), path)
    text = path.read_text()
    assert "ISIC" not in text.split("BEGIN DATA:")[1]  # integer ids in the data rows
    back = mrmc_design(read_imrmc(path))
    assert set(back.readers) == set(named.readers)
    assert set(back.cases) == set(named.cases)
    order = [back.readers.index(r) for r in named.readers]
    cases = [back.cases.index(c) for c in named.cases]
    np.testing.assert_array_equal(back.ratings[:, order][:, :, cases], named.ratings)


def test_long_csv_round_trips_with_the_same_aucs(vandyke, tmp_path):
    path = tmp_path / "vandyke.csv"
    write_long_csv(table_from_design(vandyke), path)
    back = mrmc_design(read_long_csv(path))
    np.testing.assert_array_equal(_reader_aucs(back), _reader_aucs(vandyke))


def test_fractional_ratings_round_trip_exactly(tmp_path):
    table = RatingsTable(
        reader=("a", "a", "b", "b"),
        modality=("m",) * 4,
        case=("1", "2", "1", "2"),
        truth=np.array([1, 0, 1, 0], dtype=np.int8),
        rating=np.array([0.1 + 0.2, 1 / 3, 2.5e-17, 7.0]),
    )
    for writer, name in ((write_long_csv, "t.csv"), (write_imrmc, "t.imrmc")):
        writer(table, tmp_path / name)
        back = read_ratings(tmp_path / name)
        np.testing.assert_array_equal(np.sort(back.rating), np.sort(table.rating))


def test_read_ratings_tells_imrmc_from_csv(vandyke, tmp_path):
    write_imrmc(table_from_design(vandyke), tmp_path / "x.txt")
    write_long_csv(table_from_design(vandyke), tmp_path / "y.txt")
    assert len(read_ratings(tmp_path / "x.txt").rating) == len(
        read_ratings(tmp_path / "y.txt").rating
    )


GOOD_HEADER = "reader,modality,case,truth,rating\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("reader,modality,case,truth\nr,m,1,1\n", r"row 1: missing column 'rating'"),
        (GOOD_HEADER + "r,m,1,1,5\nr,m,2,0,high\n", r"row 3, field 'rating': 'high' is not"),
        (GOOD_HEADER + "r,m,1,2,5\n", r"row 2, field 'truth': '2' is not 0 or 1"),
        (
            GOOD_HEADER + "r,m,1,1,5\nr,m,2,0,3\ns,m,1,0,4\n",
            r"row 4, field 'truth': case '1' has truth 0 here but 1 at row 2",
        ),
        (GOOD_HEADER + "r,m,1,1,5\nr,m,1,1,4\n", r"row 3: .* rated twice \(first at row 2\)"),
        (GOOD_HEADER + "r,m,1,1,nan\n", r"row 2, field 'rating': 'nan' is not a finite"),
        (GOOD_HEADER + ",m,1,1,3\n", r"row 2, field 'reader': empty"),
        ("", r"the file is empty"),
    ],
)
def test_bad_csv_input_names_the_file_row_and_field(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(RatingsFormatError, match=message) as error:
        read_long_csv(path)
    assert str(path) in str(error.value)


def test_an_incomplete_design_names_the_missing_reading(tmp_path):
    path = tmp_path / "holes.csv"
    path.write_text(GOOD_HEADER + "r,m,1,1,5\nr,m,2,0,3\ns,m,1,1,4\n")
    with pytest.raises(RatingsFormatError, match=r"reader 's' has no rating for case '2'"):
        mrmc_design(read_long_csv(path))


def test_imrmc_header_counts_must_match_the_data(vandyke, tmp_path):
    path = tmp_path / "v.imrmc"
    write_imrmc(table_from_design(vandyke), path)
    path.write_text(path.read_text().replace("NR: 5", "NR: 6"))
    with pytest.raises(RatingsFormatError, match="header says NR: 6 but the data have 5"):
        read_imrmc(path)


def test_imrmc_rows_with_a_missing_field_name_their_row(tmp_path):
    path = tmp_path / "short.imrmc"
    path.write_text("x\nBEGIN DATA:\n-1,1,0,1\n1,1,A\n")
    with pytest.raises(RatingsFormatError, match=r"row 4: expected readerID"):
        read_imrmc(path)
