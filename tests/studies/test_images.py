"""Images are decoded only when safe and stored only as pixels: no metadata survives."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image, ImageFile

from readerstudy.studies.ingest.images import (
    ImageLimits,
    ImageRejected,
    image_encode,
    image_probe,
)
from readerstudy.studies.ingest.issues import ImportRejected
from readerstudy.studies.services import ImportOptions, ImportSource, study_import
from tests.support.ingest import stored_files, write_csv

CANARY = "CANARY-5e1f-stored-nowhere"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>'
    f"{CANARY}</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
).encode()


@pytest.fixture
def real_jpeg(isic_demo) -> Path:
    return isic_demo / "images" / "ISIC_0000002.jpg"


def jpeg_with_canaries(source: Path, target: Path) -> Path:
    """The real image with the canary in EXIF, the GPS IFD, XMP and the JPEG comment."""
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif[0x013B] = CANARY  # Artist
    exif[0x8825] = {0x0001: "N", 0x0002: (52.0, 31.0, 12.0), 0x001B: CANARY}  # GPS
    with Image.open(source) as image:
        image.save(target, "JPEG", quality=92, exif=exif.tobytes(), xmp=XMP, comment=CANARY)
    return target


@pytest.mark.django_db
def test_a_jpeg_with_a_canary_in_exif_gps_xmp_and_comment_leaves_no_trace_in_stored_files(
    make_study, real_jpeg, tmp_path
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    marked = jpeg_with_canaries(real_jpeg, folder / "marked.jpg")
    with Image.open(marked) as check:  # the canary really is in each place
        assert check.getexif()[0x010E] == CANARY
        assert check.getexif().get_ifd(0x8825)[0x001B] == CANARY.encode()
        assert CANARY.encode() in check.info["xmp"]
        assert check.info["comment"] == CANARY.encode()
        resaved = io.BytesIO()
        check.save(resaved, "JPEG")
    assert CANARY.encode() in resaved.getvalue(), "a plain re-save keeps the comment"
    manifest = write_csv(tmp_path / "m.csv", ["image", "diagnosis"], [["marked.jpg", "mel"]])
    study = make_study(require_biopsy_proven=False)

    study_import(
        study=study,
        source=ImportSource(images=folder, manifest=manifest),
        options=ImportOptions(),
    )

    case = study.cases.get()
    names = {case.image.name, case.display_image.name, case.thumbnail.name}
    assert len(names) == 2  # full (also the display copy) and a thumbnail
    for name in names:
        data = (Path(settings.MEDIA_ROOT) / name).read_bytes()
        for needle in (CANARY.encode(), CANARY.encode("utf-16-le"), b"Exif\x00", b"adobe:ns"):
            assert needle not in data, f"{needle!r} found in {name}"
        with Image.open(io.BytesIO(data)) as stored:
            assert stored.format == "JPEG"
            assert not stored.getexif()
            assert {"comment", "xmp", "exif", "icc_profile"}.isdisjoint(stored.info)


def png_header_only_big(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of width x height (zero pixels), built without ever holding them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.django_db
def test_a_20000_by_20000_png_is_refused_before_any_pixel_is_decoded(
    make_study, tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    png_header_only_big(folder / "huge.png", 20_000, 20_000)
    manifest = write_csv(tmp_path / "m.csv", ["image", "diagnosis"], [["huge.png", "nv"]])

    def no_decoding(self: object) -> None:
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    study = make_study(require_biopsy_proven=False)
    before = stored_files()
    with pytest.raises(ImportRejected) as rejected:
        study_import(
            study=study,
            source=ImportSource(images=folder, manifest=manifest),
            options=ImportOptions(),
        )

    issue = rejected.value.issues[0]
    assert (issue.file, issue.row, issue.field) == ("m.csv", 2, "image")
    assert "20000x20000 pixels (400.0 megapixels) exceeds the limit of 50 megapixels" in (
        issue.message
    )
    assert stored_files() == before


def test_the_pixel_limit_is_configurable(real_jpeg) -> None:
    assert image_probe(real_jpeg, ImageLimits()) == ("JPEG", 1022, 767)
    with pytest.raises(ImageRejected, match=r"exceeds the limit of 0\.5 megapixels"):
        image_encode(real_jpeg, ImageLimits(max_pixels=500_000))


@pytest.mark.parametrize("kind", ["GIF", "BMP", "WEBP", "PPM"])
def test_formats_outside_jpeg_png_and_tiff_are_refused_even_named_jpg(
    real_jpeg, tmp_path, kind
) -> None:
    disguised = tmp_path / "lesion.jpg"
    with Image.open(real_jpeg) as image:
        image.save(disguised, kind)
    with pytest.raises(ImageRejected, match="not a JPEG, PNG or TIFF image"):
        image_encode(disguised, ImageLimits())


@pytest.mark.parametrize("kind", ["PNG", "TIFF"])
def test_png_and_tiff_are_stored_as_the_same_pixels(real_jpeg, tmp_path, kind) -> None:
    lossless = tmp_path / f"lesion.{kind.lower()}"
    with Image.open(real_jpeg) as image:
        image.save(lossless, kind)
        expected = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()
    encoded = image_encode(lossless, ImageLimits())
    assert encoded.source_format == kind
    assert encoded.pixel_sha256 == expected


def test_the_hash_is_the_sha256_of_the_decoded_rgb_pixels(real_jpeg) -> None:
    with Image.open(real_jpeg) as image:
        expected = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()
    assert image_encode(real_jpeg, ImageLimits()).pixel_sha256 == expected


def test_a_truncated_image_is_unreadable_not_half_grey(real_jpeg, tmp_path) -> None:
    truncated = tmp_path / "cut.jpg"
    data = real_jpeg.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageRejected, match="cannot decode the image"):
        image_encode(truncated, ImageLimits())


def test_the_camera_orientation_is_applied_before_the_metadata_is_dropped(tmp_path) -> None:
    # Left half red, right half blue; EXIF orientation 6 means "rotate 90° clockwise to view".
    image = Image.new("RGB", (80, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())

    encoded = image_encode(path, ImageLimits())
    assert (encoded.width, encoded.height) == (40, 80)
    with Image.open(io.BytesIO(encoded.full)) as stored:
        red, _, blue = stored.getpixel((20, 10))
        assert red > 200 and blue < 60  # the red half is now on top


def test_large_images_get_a_display_copy_and_a_thumbnail(real_jpeg, tmp_path) -> None:
    big = tmp_path / "big.jpg"
    with Image.open(real_jpeg) as image:
        image.resize((2400, 1800), Image.Resampling.LANCZOS).save(big, quality=95)
    encoded = image_encode(big, ImageLimits())

    assert (encoded.width, encoded.height) == (2400, 1800)
    with Image.open(io.BytesIO(encoded.full)) as full:
        assert full.size == (2400, 1800)
    with Image.open(io.BytesIO(encoded.display)) as display:
        assert display.size == (1600, 1200)
    with Image.open(io.BytesIO(encoded.thumbnail)) as thumbnail:
        assert thumbnail.size == (256, 192)


def swapped_primaries_profile() -> bytes:
    """An ICC profile that is sRGB with its red and blue primaries swapped."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", data[128:132])
    entries = {bytes(data[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    data[red + 4 : red + 12], data[blue + 4 : blue + 12] = (
        data[blue + 4 : blue + 12],
        data[red + 4 : red + 12],
    )
    return bytes(data)


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_an_embedded_colour_profile_is_applied_and_then_dropped(tmp_path, kind) -> None:
    # Pure red pixel values that the file's profile says are blue: readers must see blue.
    path = tmp_path / f"tagged.{kind.lower()}"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(
        path, kind, icc_profile=swapped_primaries_profile()
    )

    encoded = image_encode(path, ImageLimits())
    with Image.open(io.BytesIO(encoded.full)) as stored:
        assert "icc_profile" not in stored.info
        red, green, blue = stored.getpixel((16, 16))
        assert blue > 200 and red < 60 and green < 60
