"""What an import is asked to do: the coordinator's options, where the files are, the limits
from settings and the progress callback. Shared by every phase of ``importer``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

from readerstudy.studies.ingest.archives import ArchiveLimits
from readerstudy.studies.ingest.images import ImageLimits

# progress(phase, done, total), called as the import goes.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    """What a coordinator chose for one import (stored on the ImportJob as JSON)."""

    manifest_format: str = "auto"
    biopsy_proven_only: bool = False
    sample: dict[str, int] | None = None
    seed: int | None = None
    limit: int | None = None
    allow_same_lesion: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImportOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ImportSource:
    """Where the files are: ``images`` is a folder or a .zip; ``manifest`` None means the one
    CSV file inside it. The names are what users called the files (shown in messages)."""

    images: Path
    manifest: Path | None = None
    images_name: str = ""
    manifest_name: str = ""


def ingest_limits() -> tuple[ImageLimits, ArchiveLimits, dict[str, int]]:
    config = settings.READERSTUDY_INGEST
    images = ImageLimits(
        max_pixels=config["MAX_PIXELS"],
        max_bytes=config["MAX_IMAGE_BYTES"],
        display_max_side=config["DISPLAY_MAX_SIDE"],
        thumbnail_max_side=config["THUMBNAIL_MAX_SIDE"],
        jpeg_quality=config["JPEG_QUALITY"],
    )
    archives = ArchiveLimits(
        max_members=config["ZIP_MAX_MEMBERS"],
        max_total_bytes=config["ZIP_MAX_TOTAL_BYTES"],
        max_ratio=config["ZIP_MAX_RATIO"],
    )
    return images, archives, config
