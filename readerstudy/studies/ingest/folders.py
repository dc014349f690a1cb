"""Which file in an image folder a manifest row names.

Only files found by walking the folder can be named, so a manifest cannot reach outside it.
A reference with an extension matches a relative path or, failing that, a file name; one
without (HAM10000's ``image_id``, ISIC's ``isic_id``) matches a file name without extension.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})


def is_junk(relative: str) -> bool:
    """Files that operating systems add to folders and zips (.DS_Store, __MACOSX/, ._x)."""
    parts = PurePosixPath(relative).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


@dataclass
class ImageFolder:
    root: Path
    by_path: dict[str, Path] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_stem: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # Files of other kinds (an SVG, a PDF, a HEIC photo), by name and by stem, so that a row
    # naming one is told why it is not read rather than that it is missing.
    others: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def scan(cls, root: Path, *, left_out: Iterable[str] = ()) -> ImageFolder:
        """The images under ``root``; ``left_out`` names files of the upload that were not
        unpacked there (a zip's members of other kinds)."""
        folder = cls(root=root)
        for relative in left_out:
            if not is_junk(relative):
                folder._other(PurePosixPath(relative), relative)
        for directory, subdirectories, files in os.walk(root):
            subdirectories.sort()
            for filename in sorted(files):
                path = Path(directory, filename)
                relative = path.relative_to(root).as_posix()
                if is_junk(relative):
                    continue
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    folder._other(PurePosixPath(relative), relative)
                    continue
                folder.by_path[relative] = path
                folder.by_name[filename].append(relative)
                folder.by_stem[path.stem].append(relative)
        return folder

    def _other(self, path: PurePosixPath, relative: str) -> None:
        self.others[path.name].append(relative)
        self.others[path.stem].append(relative)

    def resolve(self, reference: str) -> tuple[str | None, str]:
        """(relative path, "") for the one file ``reference`` names, else (None, reason)."""
        reference = reference.replace("\\", "/").strip("/")
        if reference in self.by_path:
            return reference, ""
        pure = PurePosixPath(reference)
        has_suffix = pure.suffix.lower() in IMAGE_SUFFIXES
        candidates = self.by_name.get(pure.name, []) if has_suffix else []
        if not has_suffix:
            candidates = self.by_stem.get(pure.name, [])
        if len(candidates) == 1:
            return candidates[0], ""
        if not candidates and pure.name in self.others:
            found = ", ".join(self.others[pure.name][:5])
            return None, (
                f"{found} is not a JPEG, PNG or TIFF file; only .jpg, .jpeg, .png, .tif and "
                ".tiff files are read"
            )
        if not candidates:
            kinds = "" if has_suffix else " (.jpg, .jpeg, .png, .tif or .tiff)"
            return None, f"missing image: no file {reference!r}{kinds} in the upload"
        listed = ", ".join(candidates[:5])
        return None, f"ambiguous image: {len(candidates)} files match {reference!r} ({listed})"

    def __len__(self) -> int:
        return len(self.by_path)
