"""Uploaded zips are checked member by member before anything is extracted."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from readerstudy.studies.ingest.archives import ArchiveLimits, archive_check, archive_extract
from readerstudy.studies.ingest.issues import ImportRejected

LIMITS = ArchiveLimits()


@pytest.fixture
def real_jpeg_bytes(isic_demo) -> bytes:
    return (isic_demo / "images" / "ISIC_0000002.jpg").read_bytes()


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def refused(path: Path, tmp_path: Path, limits: ArchiveLimits = LIMITS) -> list[str]:
    destination = tmp_path / "unpacked"
    with pytest.raises(ImportRejected) as rejected:
        archive_extract(path, destination, name=path.name, limits=limits)
    assert not destination.exists(), "something was extracted from a refused zip"
    return [f"{i.field}: {i.message}" for i in rejected.value.issues]


@pytest.mark.parametrize(
    "member, words",
    [
        ("../../evil.jpg", "zip slip"),
        ("images/../../evil.jpg", "zip slip"),
        ("..\\evil.jpg", "zip slip"),
        ("/etc/evil.jpg", "absolute path"),
        ("C:/evil.jpg", "absolute path"),
    ],
)
def test_zip_slip_and_absolute_paths_are_refused_before_extracting(
    tmp_path, real_jpeg_bytes, member, words
) -> None:
    path = make_zip(tmp_path / "slip.zip", {"ok.jpg": real_jpeg_bytes, member: real_jpeg_bytes})
    problems = refused(path, tmp_path)
    assert len(problems) == 1 and words in problems[0]
    assert not (tmp_path / "evil.jpg").exists()
    assert not Path("/etc/evil.jpg").exists()


def test_a_symbolic_link_member_is_refused(tmp_path, real_jpeg_bytes) -> None:
    path = make_zip(
        tmp_path / "link.zip",
        {"ok.jpg": real_jpeg_bytes},
        symlinks={"images/secret.jpg": "/etc/passwd"},
    )
    assert refused(path, tmp_path) == ["images/secret.jpg: symbolic link in the zip"]


@pytest.mark.parametrize("name", ["more.zip", "images/more.tar.gz", "data.7z"])
def test_a_nested_archive_is_refused_by_its_name(tmp_path, real_jpeg_bytes, name) -> None:
    path = make_zip(tmp_path / "outer.zip", {"ok.jpg": real_jpeg_bytes, name: b"whatever"})
    assert "nested archives are refused" in refused(path, tmp_path)[0]


def test_a_nested_archive_is_refused_by_its_content_whatever_its_name(
    tmp_path, real_jpeg_bytes
) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"x.jpg": real_jpeg_bytes})
    path = make_zip(
        tmp_path / "outer.zip", {"ok.jpg": real_jpeg_bytes, "disguised.jpg": inner.read_bytes()}
    )
    archive_check(path, name="outer.zip", limits=LIMITS)  # the directory alone looks fine
    assert "nested archives are refused" in refused(path, tmp_path)[0]


def test_a_zip_bomb_is_refused_from_its_directory_before_extracting(tmp_path) -> None:
    path = tmp_path / "bomb.zip"
    megabyte = b"\0" * (1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("manifest.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(256):
            member.write(megabyte)
    assert path.stat().st_size < 1024 * 1024

    problems = refused(path, tmp_path)
    assert len(problems) == 1
    assert "manifest.csv: compression ratio" in problems[0] and "zip bomb" in problems[0]


def test_the_member_count_and_total_size_are_capped(tmp_path, real_jpeg_bytes) -> None:
    members = {f"img{n}.jpg": real_jpeg_bytes for n in range(5)}
    path = make_zip(tmp_path / "many.zip", members)

    assert "at most 4 are accepted" in refused(path, tmp_path, ArchiveLimits(max_members=4))[0]
    too_small = ArchiveLimits(max_total_bytes=4 * len(real_jpeg_bytes))
    assert "would unpack to" in refused(path, tmp_path, too_small)[0]


def test_a_safe_zip_extracts_only_its_images_and_csv_files(tmp_path, real_jpeg_bytes) -> None:
    path = make_zip(
        tmp_path / "good.zip",
        {
            "set/images/a.jpg": real_jpeg_bytes,
            "set/metadata.csv": b"image,diagnosis\na.jpg,mel\n",
            "set/README.txt": b"notes",
            "__MACOSX/set/._a.jpg": b"resource fork",
            "set/.DS_Store": b"finder",
        },
    )
    plan = archive_extract(path, tmp_path / "out", name="good.zip", limits=LIMITS)

    extracted = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert extracted == ["set", "set/images", "set/images/a.jpg", "set/metadata.csv"]
    assert plan.manifests == ["set/metadata.csv"]
    assert sorted(plan.ignored) == ["__MACOSX/set/._a.jpg", "set/.DS_Store", "set/README.txt"]


def test_a_file_that_is_not_a_zip_is_refused(tmp_path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"this is no zip")
    assert "not a zip file" in refused(path, tmp_path)[0]
