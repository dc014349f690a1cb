"""Unpacking an uploaded zip only after every member has been checked.

Before anything is extracted the central directory is read and the whole archive refused for
any member with an absolute path, a ``..`` component, a symbolic link, encryption or an
archive inside; for more members than allowed, a larger total uncompressed size than allowed,
or a member that inflates more than the allowed ratio (a zip bomb). Extraction then writes
only images and CSV files, counts the bytes it writes (the sizes a zip declares can lie) and
removes everything it wrote if anything goes wrong.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from readerstudy.studies.ingest.folders import IMAGE_SUFFIXES, is_junk
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected

MANIFEST_SUFFIXES = frozenset({".csv"})
ARCHIVE_SUFFIXES = frozenset(
    {
        ".zip", ".zipx", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".tbz", ".xz", ".txz", ".zst",
        ".lz", ".lzma", ".7z", ".rar", ".cab", ".iso", ".dmg",
    }
)  # fmt: skip
# Magic numbers of archive and compressed formats, found whatever a member is called.
ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x28\xb5\x2f\xfd",
    b"MSCF",
)
# A member this small cannot be a bomb whatever its ratio (a CSV of repeated values can
# compress 50:1); the total-size cap bounds many of them together.
RATIO_FLOOR_BYTES = 1024 * 1024
CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 25_000
    max_total_bytes: int = 8 * 1024**3
    max_ratio: int = 100


@dataclass
class ArchivePlan:
    """What a checked zip holds: the members to extract and those left out."""

    members: list[tuple[zipfile.ZipInfo, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    total_bytes: int = 0

    @property
    def manifests(self) -> list[str]:
        return [name for _, name in self.members if PurePosixPath(name).suffix.lower() == ".csv"]

    @property
    def image_count(self) -> int:
        return sum(1 for _, name in self.members if PurePosixPath(name).suffix.lower() != ".csv")


def archive_check(path: Path, *, name: str, limits: ArchiveLimits) -> ArchivePlan:
    """Read the zip's directory and refuse it (ImportRejected) unless every member is safe."""
    issues: list[ImportIssue] = []
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportRejected([ImportIssue(file=name, message=f"not a zip file: {error}")]) from None
    if len(infos) > limits.max_members:
        raise ImportRejected(
            [
                ImportIssue(
                    file=name,
                    message=f"the zip has {len(infos)} members; at most {limits.max_members} "
                    "are accepted",
                )
            ]
        )

    plan = ArchivePlan()
    seen: set[str] = set()
    declared_total = 0
    for info in infos:
        problem = _member_problem(info, limits)
        if problem:
            issues.append(ImportIssue(file=name, field=info.filename[:200], message=problem))
            continue
        relative = _normalised(info.filename)
        if relative in seen:
            issues.append(
                ImportIssue(file=name, field=relative[:200], message="member appears twice")
            )
            continue
        seen.add(relative)
        declared_total += info.file_size
        if info.is_dir():
            continue
        suffix = PurePosixPath(relative).suffix.lower()
        if is_junk(relative) or suffix not in IMAGE_SUFFIXES | MANIFEST_SUFFIXES:
            plan.ignored.append(relative)
            continue
        plan.members.append((info, relative))
        plan.total_bytes += info.file_size
    if declared_total > limits.max_total_bytes:
        issues.append(
            ImportIssue(
                file=name,
                message=f"the zip would unpack to {declared_total} bytes; at most "
                f"{limits.max_total_bytes} are accepted",
            )
        )
    if issues:
        raise ImportRejected(issues[:200])
    return plan


def archive_extract(
    path: Path, destination: Path, *, name: str, limits: ArchiveLimits
) -> ArchivePlan:
    """Check the zip, then extract its images and CSV files under ``destination``.

    ``destination`` must not exist yet; on any failure it is removed again.
    """
    plan = archive_check(path, name=name, limits=limits)
    destination.mkdir(parents=True)
    root = destination.resolve()
    written_total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info, relative in plan.members:
                target = root.joinpath(*PurePosixPath(relative).parts)
                if root not in target.resolve().parents:  # belt and braces after the check
                    raise ImportRejected(
                        [ImportIssue(file=name, field=relative, message="path leaves the upload")]
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with archive.open(info) as source, target.open("xb") as sink:
                    first = True
                    while chunk := source.read(CHUNK):
                        if first and _looks_like_archive(chunk):
                            raise ImportRejected(
                                [
                                    ImportIssue(
                                        file=name,
                                        field=relative,
                                        message="an archive inside the zip (nested archives "
                                        "are refused)",
                                    )
                                ]
                            )
                        first = False
                        written += len(chunk)
                        written_total += len(chunk)
                        if written > info.file_size or written_total > limits.max_total_bytes:
                            raise ImportRejected(
                                [
                                    ImportIssue(
                                        file=name,
                                        field=relative,
                                        message="member unpacks to more bytes than the zip "
                                        "declares",
                                    )
                                ]
                            )
                        sink.write(chunk)
    except ImportRejected:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        shutil.rmtree(destination, ignore_errors=True)
        raise ImportRejected(
            [ImportIssue(file=name, message=f"cannot unpack the zip: {error}")]
        ) from None
    return plan


def _normalised(filename: str) -> str:
    return "/".join(p for p in filename.replace("\\", "/").split("/") if p not in ("", "."))


def _member_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str:
    raw = info.filename
    unified = raw.replace("\\", "/")
    if "\x00" in raw:
        return "member name contains a NUL character"
    if unified.startswith("/") or _DRIVE.match(unified):
        return "absolute path in the zip"
    if ".." in unified.split("/"):
        return "'..' in a member path (zip slip)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link in the zip"
    # Many zip writers record permissions without a file type; only a stated type counts.
    if stat.S_IFMT(mode) in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        return "special file (device, pipe or socket) in the zip"
    if info.flag_bits & 0x1:
        return "encrypted member"
    if info.is_dir():
        return ""
    if PurePosixPath(unified).suffix.lower() in ARCHIVE_SUFFIXES:
        return "an archive inside the zip (nested archives are refused)"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
        return f"compression ratio {ratio:.0f}:1 exceeds {limits.max_ratio}:1 (zip bomb)"
    return ""


def _looks_like_archive(head: bytes) -> bool:
    if any(head.startswith(signature) for signature in ARCHIVE_SIGNATURES):
        return True
    return len(head) > 262 and head[257:262] == b"ustar"
