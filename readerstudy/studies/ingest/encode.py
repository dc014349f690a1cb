"""The import's image phase: decode, check and store every selected image, in parallel."""

from __future__ import annotations

import threading

from readerstudy.studies.ingest.duplicates import (
    duplicate_issue,
    row_issue,
    study_duplicates,
)
from readerstudy.studies.ingest.images import EncodedImage, ImageLimits, images_encode_many
from readerstudy.studies.ingest.issues import IssueCollector
from readerstudy.studies.ingest.options import ProgressCallback
from readerstudy.studies.ingest.prepare import Prepared
from readerstudy.studies.ingest.storage import StoredImage, images_store, stored_files_delete
from readerstudy.studies.models import Study


def images_encode_and_store(
    study: Study,
    prepared: Prepared,
    limits: ImageLimits,
    config: dict[str, int],
    issues: IssueCollector,
    stored: list[str],
    storage_folder: str,
    progress: ProgressCallback,
) -> dict[int, StoredImage]:
    """Decode, check and store every selected image; returns manifest row -> stored image.

    The worker threads store files as long as no error has been found (in the manifest or an
    image); after the first error the rest are still checked (to report them all) but
    nothing more is written, and what was written is removed.
    """
    manifest = prepared.manifest
    rows = {row.row: row for row in prepared.selection.rows}
    jobs = [(row_number, str(path)) for row_number, path in prepared.files.items()]
    total = len(jobs)
    progress("processing images", 0, total)
    seen: dict[str, int] = {}
    encoded: dict[int, StoredImage] = {}
    keep_writing = threading.Event()
    if not issues:
        keep_writing.set()

    def store(image: EncodedImage) -> tuple[str, str, str] | None:
        if not keep_writing.is_set():
            return None
        return images_store(image, storage_folder, stored)

    results = images_encode_many(jobs, limits, config["WORKERS"], store)
    for done, (row_number, image, names, problem) in enumerate(results, start=1):
        row = rows[row_number]
        name = prepared.files[row_number].name
        if image is None:
            message = f"unreadable image {name}: {problem}"
            issues.add(row_issue(manifest, row, manifest.columns.image, message))
        elif image.pixel_sha256 in seen:
            clash = f"{name} has the same pixels as the image of row {seen[image.pixel_sha256]}"
            issues.add(duplicate_issue(manifest, row, "pixels", clash))
        else:
            seen[image.pixel_sha256] = row_number
            if names is not None:
                encoded[row_number] = StoredImage(image, *names)
        if issues:
            keep_writing.clear()
        progress("processing images", done, total)
        if issues.full:
            break
    results.close()  # waits for the threads, so nothing is written after this
    if issues:
        stored_files_delete(stored, storage_folder)
        encoded.clear()
    by_pixels = {sha: rows[row_number] for sha, row_number in seen.items()}
    for issue in study_duplicates(study, manifest, by_pixels=by_pixels):
        issues.add(issue)
    return encoded
