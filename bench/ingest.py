"""Benchmark: import the whole HAM10000 folder (10,015 images) and report images/s and peak RSS.

Run it against PostgreSQL, as production does (the target: >= 170 images/s on 2 cores, so
under 60 s for the folder, with a peak RSS <= 500 MB):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/readerstudy .venv/bin/python bench/ingest.py

It works on a throwaway copy of the database (Django's test database, ``test_<name>``,
created and dropped here) and a temporary media folder, so nothing of a real installation
is touched. Without DATABASE_URL it uses the embedded SQLite default.

The folder holds two pairs of pixel-identical images, each pair two ISIC ids of one lesion
(ISIC_0029861 = ISIC_0024366 and ISIC_0029938 = ISIC_0024777 in HAM_0002300 and
HAM_0001895). An import refuses duplicate image content, so the benchmark leaves the second
image of each pair out (``--skip``) and imports the other 10,013.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ham10000")
    parser.add_argument("--workers", type=int, help="decoding threads (default: settings)")
    parser.add_argument("--limit", type=int, help="import only this many images (seeded draw)")
    parser.add_argument("--keep", action="store_true", help="keep the test database")
    parser.add_argument(
        "--skip",
        default="ISIC_0029861,ISIC_0029938",
        help="image ids to leave out (default: the two pixel-identical duplicates)",
    )
    args = parser.parse_args()

    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    args.manifest = manifest_without(args.data / "HAM10000_metadata.csv", args.skip, media)
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ["MEDIA_ROOT"] = str(media)
    if args.workers:
        os.environ["READERSTUDY_INGEST_WORKERS"] = str(args.workers)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection

    # Ingest runs in web and import-worker processes that never load torch: the throwaway
    # database is migrated only (no register_shipped_model, which would load torch, about
    # 450 MB, into this process: not the import's memory).
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, settings)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)


def run(args: argparse.Namespace, settings: object) -> None:
    from django.db import connection

    from readerstudy.accounts.roles import Role
    from readerstudy.accounts.services import user_create
    from readerstudy.studies.services import (
        ImportOptions,
        ImportSource,
        study_create,
        study_import,
        task_resolve,
    )
    from tests.support.memory import peak_rss, peak_rss_reset

    coordinator, _ = user_create(username="bench-coordinator", roles=[Role.COORDINATOR])
    study = study_create(
        name="HAM10000 ingest benchmark",
        task=task_resolve(name="malignant-vs-benign"),
        modality="dermoscopic",
        created_by=coordinator,
        require_biopsy_proven=False,
    )
    options = ImportOptions(limit=args.limit, seed=1 if args.limit else None)
    source = ImportSource(images=args.data / "images", manifest=args.manifest)
    phases: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        phases.setdefault(phase, time.perf_counter())

    # Reset the high-water mark so the peak is the import's own, not the set-up's (Linux).
    peak_rss_reset()
    before_mb = peak_rss() / 2**20
    started = time.perf_counter()
    result = study_import(
        study=study, source=source, options=options, created_by=coordinator, progress=progress
    )
    elapsed = time.perf_counter() - started
    cases = len(result.cases)
    peak_mb = peak_rss() / 2**20
    workers = settings.READERSTUDY_INGEST["WORKERS"]  # type: ignore[attr-defined]

    print(f"database        {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"cpu cores       {os.cpu_count()}, decoding threads {workers}")
    print(f"images          {cases} imported in {elapsed:.1f} s")
    print(f"throughput      {cases / elapsed:.0f} images/s")
    print(f"peak RSS        {peak_mb:.0f} MB during the import ({before_mb:.0f} MB before it)")
    marks = [*sorted(phases.items(), key=lambda item: item[1]), ("end", started + elapsed)]
    for (phase, at), (_, until) in itertools.pairwise(marks):
        print(f"  {phase:<22}{until - at:6.1f} s")
    print(f"  {'(before first phase)':<22}{marks[0][1] - started:6.1f} s")


def manifest_without(manifest: Path, skip: str, folder: Path) -> Path:
    """A copy of the manifest without the rows of the image ids in ``skip``."""
    left_out = {image_id.strip() for image_id in skip.split(",") if image_id.strip()}
    copy = folder / "bench-manifest.csv"
    with manifest.open(newline="") as source, copy.open("w", newline="") as target:
        reader = csv.reader(source)
        writer = csv.writer(target)
        header = next(reader)
        writer.writerow(header)
        column = header.index("image_id")
        writer.writerows(row for row in reader if row[column] not in left_out)
    return copy


if __name__ == "__main__":
    main()
