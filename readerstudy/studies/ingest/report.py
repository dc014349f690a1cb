"""The report of an import, shown to coordinators on the study page and through the API."""

from __future__ import annotations

from collections import Counter

from classifier.taxonomy import load_taxonomy
from readerstudy.studies.ingest.folders import ImageFolder
from readerstudy.studies.ingest.manifests import Manifest
from readerstudy.studies.ingest.selection import Selection


def import_report(
    *,
    task_name: str,
    images_name: str,
    options: dict[str, object],
    manifest: Manifest | None,
    selection: Selection | None,
    folder: ImageFolder | None,
) -> dict[str, object]:
    """What the import found: rows read, available and drawn per diagnosis, every excluded
    row with its reason, and files in the upload that no row names."""
    report: dict[str, object] = {
        "images": images_name,
        "task": task_name,
        "taxonomy_version": load_taxonomy().version,
        "options": options,
    }
    if manifest is None or selection is None or folder is None:
        return report
    excluded_counts: dict[str, Counter[str]] = {}
    for entry in selection.excluded:
        excluded_counts.setdefault(str(entry["category"]), Counter())[str(entry["diagnosis"])] += 1
    referenced = set()
    for image_ref in [*(row.image_ref for row in manifest.rows), *manifest.rejected_image_refs]:
        relative, _ = folder.resolve(image_ref)
        if relative:
            referenced.add(relative)
    unreferenced = sorted(set(folder.by_path) - referenced)
    report.update(
        {
            "manifest": manifest.name,
            "format": manifest.format,
            "rows_read": manifest.rows_read,
            "seed": selection.seed,
            "available": dict(sorted(selection.available.items())),
            "drawn": dict(sorted(selection.drawn.items())),
            "excluded_total": len(selection.excluded),
            "excluded_counts": {k: dict(sorted(v.items())) for k, v in excluded_counts.items()},
            "excluded": selection.excluded,
            "lesions_with_several_images": selection.lesions_with_several_images,
            "unreferenced_files": len(unreferenced),
            "unreferenced_examples": unreferenced[:20],
        }
    )
    return report
