"""The import's first phases, before any image is read: unpack the zip, parse the manifest,
select the rows and find each selected row's image file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from classifier.taxonomy import Task, load_taxonomy
from readerstudy.studies.ingest.archives import ArchiveLimits, archive_extract
from readerstudy.studies.ingest.duplicates import duplicate_ids_check, duplicate_issue, row_issue
from readerstudy.studies.ingest.folders import ImageFolder
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected, IssueCollector
from readerstudy.studies.ingest.manifests import Manifest, manifest_parse
from readerstudy.studies.ingest.options import ImportOptions, ImportSource, ProgressCallback
from readerstudy.studies.ingest.selection import Selection, rows_select
from readerstudy.studies.models import Study


@dataclass
class Prepared:
    """What the manifest asks for: its selected rows and the file each one names."""

    manifest: Manifest
    selection: Selection
    folder: ImageFolder
    files: dict[int, Path] = field(default_factory=dict)  # manifest row -> image file


def study_task(study: Study) -> Task:
    """The study's task as it was when the study was created (its stored snapshot)."""
    definition = study.task_definition
    return Task(
        name=str(definition["name"]),
        label=str(definition.get("label") or definition["name"]),
        positive=frozenset(definition["positive"]),
        negative=frozenset(definition["negative"]),
    )


def unpack(
    source: ImportSource, staging: Path, limits: ArchiveLimits, progress: ProgressCallback
) -> tuple[Path, list[str]]:
    """The folder of images, and the zip members left packed (neither image nor CSV)."""
    name = source.images_name or source.images.name
    if source.images.is_dir():
        return source.images, []
    if not source.images.is_file():
        raise ImportRejected([ImportIssue(file=name, message="no such file or folder")])
    progress("unpacking the zip", 0, 0)
    shutil.rmtree(staging, ignore_errors=True)
    plan = archive_extract(source.images, staging, name=name, limits=limits)
    return staging, plan.ignored


def prepare(
    study: Study,
    source: ImportSource,
    images_root: Path,
    left_out: list[str],
    options: ImportOptions,
    config: dict[str, int],
    issues: IssueCollector,
) -> Prepared | None:
    """The selected rows and their files; None when there is no manifest to read."""
    folder = ImageFolder.scan(images_root, left_out=left_out)
    manifest_path, manifest_name = source.manifest, source.manifest_name
    if manifest_path is None:
        found = sorted(p for p in images_root.rglob("*.csv") if "__MACOSX" not in p.parts)
        found = [p for p in found if not p.name.startswith(".")]
        if len(found) != 1:
            where = source.images_name or source.images.name
            issues.add(
                ImportIssue(
                    file=where,
                    message=f"{len(found)} CSV files found; the upload must hold exactly one "
                    "manifest (or name the manifest separately)",
                )
            )
            return None
        manifest_path = found[0]
        manifest_name = found[0].relative_to(images_root).as_posix()
    manifest = manifest_parse(
        manifest_path,
        name=manifest_name or manifest_path.name,
        taxonomy=load_taxonomy(),
        issues=issues,
        manifest_format=options.manifest_format,
        max_bytes=config["MANIFEST_MAX_BYTES"],
        max_rows=config["MANIFEST_MAX_ROWS"],
    )
    if manifest is None:
        return None
    selection = rows_select(
        manifest,
        task=study_task(study),
        modality=study.modality,
        require_biopsy_proven=study.require_biopsy_proven,
        biopsy_proven_only=options.biopsy_proven_only,
        issues=issues,
        sample=options.sample,
        limit=options.limit,
        seed=options.seed,
        allow_same_lesion=options.allow_same_lesion,
    )
    prepared = Prepared(manifest=manifest, selection=selection, folder=folder)
    if not selection.rows and not issues:
        excluded = len(selection.excluded)
        issues.add(
            ImportIssue(
                file=manifest.name,
                message=f"no case to import: all {excluded} rows were left out (see the report)"
                if excluded
                else "no case to import: the manifest has no rows",
            )
        )
    duplicate_rows = duplicate_ids_check(study, manifest, issues)
    used_by: dict[str, int] = {}
    for row in selection.rows:
        if row.row in duplicate_rows:
            continue
        relative, problem = folder.resolve(row.image_ref)
        if relative is None:
            issues.add(row_issue(manifest, row, manifest.columns.image, problem))
            continue
        if relative in used_by:
            clash = f"{relative} is also the image of row {used_by[relative]}"
            issues.add(duplicate_issue(manifest, row, "image", clash))
            continue
        used_by[relative] = row.row
        prepared.files[row.row] = folder.by_path[relative]
    return prepared
