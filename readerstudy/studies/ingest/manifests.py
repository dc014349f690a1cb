"""Manifests in three formats, parsed into one kind of row with errors that name the cell.

- ``ham10000``: the HAM10000 metadata (Tschandl et al. 2018): ``image_id, dx, dx_type``
  required; ``lesion_id, age, sex, localization`` used when present. ``dx_type=histo`` is
  biopsy-proven. The image is the file whose name without extension is ``image_id``.
- ``isic``: ISIC Archive metadata: ``isic_id, diagnosis, diagnosis_confirm_type`` required;
  ``age_approx, sex, anatom_site_general, lesion_id, image_type`` used when present.
  ``diagnosis_confirm_type=histopathology`` is biopsy-proven.
- ``generic``: see GENERIC_COLUMNS (also shown on the upload page).

Header names are matched case-insensitively; the header is row 1, so a row number is the one
a spreadsheet shows. Every problem is collected (up to a cap) rather than only the first.
A stored cell (an id, a site, a confirmation) that a spreadsheet would run as a formula
(readerstudy.core.spreadsheet) is refused: an export of the study would carry it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from classifier.taxonomy import BIOPSY_CONFIRMATIONS, Taxonomy, TaxonomyError, is_biopsy_proven
from readerstudy.core.spreadsheet import formula_like
from readerstudy.studies.ingest.cells import safe_reference, unknown_diagnosis_message
from readerstudy.studies.ingest.issues import ImportIssue, IssueCollector

FORMATS = ("ham10000", "isic", "generic")

GENERIC_COLUMNS: dict[str, str] = {
    "image": "required: the image file's name (with or without extension; may include the "
    "sub-folders inside the zip)",
    "diagnosis": "required: a fine diagnosis code (mel, nv, bcc, akiec, scc, bkl, df, vasc) or "
    "a name such as melanoma, nevus, seborrheic keratosis",
    "case_id": "optional: the case's id in its source (e.g. an ISIC id); default: the image "
    "name without extension",
    "biopsy_proven": "optional: true/false (also yes/no, 1/0)",
    "confirmation": "optional: how the diagnosis was confirmed, e.g. histopathology; "
    f"{', '.join(sorted(BIOPSY_CONFIRMATIONS))} count as biopsy-proven when biopsy_proven "
    "is absent",
    "lesion_id": "optional: cases with the same lesion id show the same lesion",
    "age": "optional: age in years",
    "sex": "optional: female, male or empty",
    "site": "optional: body site",
    "modality": "optional: dermoscopic or clinical; must match the study",
}

_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0", ""})
_MISSING = frozenset({"", "nan", "na", "n/a", "none", "null", "unknown"})
MAX_LENGTHS = {"source_id": 128, "lesion_id": 64, "diagnosis_label": 128, "confirmation": 64}
MAX_SITE = 64


@dataclass(frozen=True)
class Columns:
    """Which manifest column holds each normalised field ("" when the format has none)."""

    source_id: str
    image: str
    diagnosis: str
    confirmation: str = ""
    biopsy_proven: str = ""
    lesion_id: str = "lesion_id"
    age: str = "age"
    sex: str = "sex"
    site: str = ""
    modality: str = ""
    required: tuple[str, ...] = ()


COLUMNS = {
    "ham10000": Columns(
        source_id="image_id",
        image="image_id",
        diagnosis="dx",
        confirmation="dx_type",
        site="localization",
        required=("image_id", "dx", "dx_type"),
    ),
    "isic": Columns(
        source_id="isic_id",
        image="isic_id",
        diagnosis="diagnosis",
        confirmation="diagnosis_confirm_type",
        age="age_approx",
        site="anatom_site_general",
        modality="image_type",
        required=("isic_id", "diagnosis", "diagnosis_confirm_type"),
    ),
    "generic": Columns(
        source_id="case_id",
        image="image",
        diagnosis="diagnosis",
        confirmation="confirmation",
        biopsy_proven="biopsy_proven",
        site="site",
        modality="modality",
        required=("image", "diagnosis"),
    ),
}


@dataclass
class ManifestRow:
    """One case as the manifest describes it, whatever the format."""

    row: int
    source_id: str
    image_ref: str
    diagnosis: str
    diagnosis_label: str
    biopsy_proven: bool
    confirmation: str
    lesion_id: str = ""
    age: int | None = None
    sex: str = ""
    site: str = ""
    modality: str = ""


@dataclass
class Manifest:
    name: str
    format: str
    columns: Columns
    rows: list[ManifestRow] = field(default_factory=list)
    rows_read: int = 0
    # Images named by rows refused for an error: named all the same (not "named by no row").
    rejected_image_refs: list[str] = field(default_factory=list)


def detect_format(header: list[str]) -> str | None:
    names = set(header)
    if {"image_id", "dx"} <= names:
        return "ham10000"
    if "isic_id" in names:
        return "isic"
    if {"image", "diagnosis"} <= names:
        return "generic"
    return None


def manifest_parse(
    path: Path,
    *,
    name: str,
    taxonomy: Taxonomy,
    issues: IssueCollector,
    manifest_format: str = "auto",
    max_bytes: int = 64 * 1024 * 1024,
    max_rows: int = 200_000,
) -> Manifest | None:
    """Read ``path`` (shown to users as ``name``); None when the file itself is unusable.

    Row problems go to ``issues``; rows with problems are left out of the result, which is
    then only good for further checks, never for importing.
    """
    text = _read_text(path, name=name, issues=issues, max_bytes=max_bytes)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:
        raw_header = next(reader)
    except StopIteration:
        issues.add(ImportIssue(file=name, message="the manifest is empty"))
        return None
    except csv.Error as error:
        issues.add(ImportIssue(file=name, row=1, message=f"not a readable CSV file: {error}"))
        return None
    header = [h.strip().lower() for h in raw_header]
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    for column in duplicates:
        issues.add(ImportIssue(file=name, row=1, field=column, message="column appears twice"))

    if manifest_format == "auto":
        detected = detect_format(header)
        if detected is None:
            issues.add(
                ImportIssue(
                    file=name,
                    row=1,
                    message="cannot tell the manifest format from its header; expected the "
                    "HAM10000 columns (image_id, dx, dx_type), the ISIC columns (isic_id, "
                    "diagnosis, diagnosis_confirm_type) or the generic columns (image, "
                    "diagnosis, ...)",
                )
            )
            return None
        manifest_format = detected
    if manifest_format not in COLUMNS:
        issues.add(ImportIssue(file=name, message=f"unknown manifest format {manifest_format!r}"))
        return None
    columns = COLUMNS[manifest_format]
    missing = [c for c in columns.required if c not in header]
    for column in missing:
        issues.add(
            ImportIssue(
                file=name,
                row=1,
                field=column,
                message=f"missing column {column!r} (required by the {manifest_format} format)",
            )
        )
    if missing or duplicates:
        return None

    manifest = Manifest(name=name, format=manifest_format, columns=columns)
    index = {h: i for i, h in enumerate(header) if h}
    try:
        for row_number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue  # blank lines that spreadsheets leave at the end
            manifest.rows_read += 1
            if manifest.rows_read > max_rows:
                issues.add(
                    ImportIssue(file=name, row=row_number, message=f"more than {max_rows} rows")
                )
                return manifest
            if len(values) != len(header):
                issues.add(
                    ImportIssue(
                        file=name,
                        row=row_number,
                        message=f"{len(values)} fields where the header has {len(header)}",
                    )
                )
                continue
            cells = {h: values[i].strip() for h, i in index.items()}
            parsed = _parse_row(cells, row_number, columns, taxonomy, name, issues, manifest_format)
            if parsed is not None:
                manifest.rows.append(parsed)
            elif cells.get(columns.image):
                manifest.rejected_image_refs.append(cells[columns.image])
    except csv.Error as error:
        issues.add(ImportIssue(file=name, row=reader.line_num, message=f"unreadable CSV: {error}"))
    return manifest


def _read_text(path: Path, *, name: str, issues: IssueCollector, max_bytes: int) -> str | None:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            issues.add(ImportIssue(file=name, message=f"manifest larger than {max_bytes} bytes"))
            return None
        data = path.read_bytes()
    except OSError as error:
        issues.add(ImportIssue(file=name, message=f"cannot read the manifest: {error.strerror}"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        issues.add(
            ImportIssue(
                file=name,
                row=line,
                message="the manifest is not UTF-8 text; save it as 'CSV UTF-8'",
            )
        )
        return None


def _dialect(text: str) -> type[csv.Dialect]:
    """Comma-separated, or semicolon/tab-separated as some spreadsheets export."""
    first = text.split("\n", 1)[0]

    class _Dialect(csv.excel):
        delimiter = max((",", ";", "\t"), key=first.count)

    return _Dialect


def _parse_row(
    cells: dict[str, str],
    row: int,
    columns: Columns,
    taxonomy: Taxonomy,
    name: str,
    issues: IssueCollector,
    manifest_format: str,
) -> ManifestRow | None:
    problems: list[ImportIssue] = []

    def problem(column: str, message: str) -> None:
        problems.append(
            ImportIssue(
                file=name, row=row, field=column, value=cells.get(column, "")[:200], message=message
            )
        )

    for column in _text_columns(columns):
        value = cells.get(column, "")
        # No identifier, site or confirmation in a real manifest is formula-like, and one that
        # was would reach the analysts' exports.
        if formula_like(value):
            problem(
                column,
                f"starts with {value[0]!r}: a spreadsheet opening an export of this study would "
                "run it as a formula; remove the leading character",
            )

    image_ref = cells.get(columns.image, "")
    if not image_ref:
        problem(columns.image, "empty; every row must name its image")
    elif not safe_reference(image_ref):
        problem(columns.image, "an image name must be a relative path inside the upload")
    source_id = cells.get(columns.source_id, "") or PurePosixPath(image_ref).stem
    if len(source_id) > MAX_LENGTHS["source_id"]:
        problem(columns.source_id or columns.image, "longer than 128 characters")

    label = cells.get(columns.diagnosis, "")
    diagnosis = ""
    if not label:
        problem(columns.diagnosis, "empty; every case needs its diagnosis")
    else:
        try:
            diagnosis = taxonomy.normalise(label)
        except TaxonomyError:
            problem(columns.diagnosis, unknown_diagnosis_message(label, taxonomy, manifest_format))

    confirmation = cells.get(columns.confirmation, "") if columns.confirmation else ""
    proven = is_biopsy_proven(confirmation)
    if columns.biopsy_proven and columns.biopsy_proven in cells:
        flag = cells[columns.biopsy_proven].lower()
        if flag in _TRUE:
            proven = True
        elif flag in _FALSE:
            proven = False
        else:
            problem(columns.biopsy_proven, "must be true or false")
    if len(confirmation) > MAX_LENGTHS["confirmation"]:
        problem(columns.confirmation, "longer than 64 characters")

    lesion_id = cells.get(columns.lesion_id, "")
    if len(lesion_id) > MAX_LENGTHS["lesion_id"]:
        problem(columns.lesion_id, "longer than 64 characters")

    age = None
    raw_age = cells.get(columns.age, "")
    if raw_age.lower() not in _MISSING:
        try:
            years = float(raw_age)
        except ValueError:
            years = math.nan
        if math.isnan(years) or not 0 <= years <= 120 or years != int(years):
            problem(columns.age, "age must be a whole number of years between 0 and 120")
        else:
            age = int(years)

    sex = cells.get(columns.sex, "").lower()
    if sex in _MISSING:
        sex = ""
    elif sex in ("f", "female"):
        sex = "female"
    elif sex in ("m", "male"):
        sex = "male"
    else:
        problem(columns.sex, "sex must be female, male or empty")

    site = cells.get(columns.site, "") if columns.site else ""
    if site.lower() in _MISSING:
        site = ""
    if len(site) > MAX_SITE:
        problem(columns.site, "longer than 64 characters")

    for issue in problems:
        issues.add(issue)
    if problems:
        return None
    return ManifestRow(
        row=row,
        source_id=source_id,
        image_ref=image_ref,
        diagnosis=diagnosis,
        diagnosis_label=label[: MAX_LENGTHS["diagnosis_label"]],
        biopsy_proven=proven,
        confirmation=confirmation,
        lesion_id=lesion_id,
        age=age,
        sex=sex,
        site=site,
        modality=cells.get(columns.modality, "") if columns.modality else "",
    )


def _text_columns(columns: Columns) -> list[str]:
    """The columns whose text is stored as it is (identifiers and free text)."""
    named = (
        columns.image,
        columns.source_id,
        columns.confirmation,
        columns.lesion_id,
        columns.site,
        columns.modality,
    )
    return list(dict.fromkeys(c for c in named if c))
