"""Decoding an uploaded image safely and re-encoding it from its pixels.

Only JPEG, PNG and TIFF are decoded. The pixel count is read from the header and checked
before any pixel is decoded (Pillow's own decompression-bomb guard is global, far above our
limit and reports no size, so the header is read without it and our limit applies). The
stored image is built from the decoded RGB pixels alone, so nothing of the source file
survives: no EXIF, GPS, XMP, IPTC, ICC profile or JPEG comment (Pillow would copy a JPEG
comment from ``Image.info`` on a plain re-save). The EXIF orientation is applied first and an
embedded colour profile converted to sRGB, so readers see the lesion as the camera recorded it.

What the re-encoding erases is still a property of the upload that may tell the classes apart
(a confound): the source format, the JPEG quality the original was saved at, and the mean
colour of the image and of its border are recorded for the confound audit
(``readerstudy.stats.confounds``).

Every stored variant is a baseline JPEG with 4:4:4 chroma (quality 95 by default). Storing
lossless sources losslessly was considered and rejected: readers and the CNN must see one
consistent kind of image, and a 4:4:4 q95 JPEG is visually lossless for dermoscopy and
clinical photographs, while PNG copies of multi-megapixel photographs would be 5-10 times
larger.

This module imports nothing from Django: it is plain image processing, tested on its own.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import io
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from PIL import Image, ImageCms, ImageFile, ImageOps, ImageStat

ALLOWED_FORMATS = ("JPEG", "PNG", "TIFF")
# Images per call in a worker thread, and below how many images no threads start.
CHUNK_SIZE = 16
PARALLEL_FROM = 64
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image is an error, never a grey band
Image.init()  # register the format plugins once, before any worker thread opens a file
# The border whose mean colour is recorded: this fraction of the shorter side on every edge,
# where dermoscopy shows the skin around the lesion, the scope's vignette or a ruler.
BORDER_FRACTION = 0.1
# The IJG (libjpeg) base luminance quantization table in natural order (ITU-T T.81, K.1),
# which most encoders scale by a quality setting (libjpeg's jpeg_quality_scaling).
IJG_LUMINANCE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 50_000_000
    max_bytes: int = 256 * 1024 * 1024
    display_max_side: int = 1600
    thumbnail_max_side: int = 256
    jpeg_quality: int = 95


@dataclass(frozen=True)
class EncodedImage:
    """A re-encoded image. ``display``/``thumbnail`` are None when the full image already
    fits within their size, so the full image serves for them."""

    width: int
    height: int
    pixel_sha256: str
    source_format: str
    full: bytes
    display: bytes | None
    thumbnail: bytes | None
    # Of the upload, for the confound audit: None where the original is not a JPEG.
    source_jpeg_quality: int | None = None
    mean_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    border_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)


class ImageRejected(Exception):
    """The file is not an image this platform stores; the message says why."""


def _check_file_size(path: Path, limits: ImageLimits) -> None:
    size = path.stat().st_size
    if size == 0:
        raise ImageRejected("empty file")
    if size > limits.max_bytes:
        raise ImageRejected(f"file of {size} bytes exceeds the limit of {limits.max_bytes}")


def image_probe(path: Path, limits: ImageLimits) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; refuses what must not be decoded."""
    _check_file_size(path, limits)
    with _opened(path) as image:
        return _checked_header(image, limits)


def image_encode(path: Path, limits: ImageLimits) -> EncodedImage:
    """Decode ``path`` within ``limits`` and re-encode it from its RGB pixels."""
    _check_file_size(path, limits)
    # At the pixel limit every full-size copy is 200 MB (Pillow keeps RGB in 4 bytes a pixel),
    # so no more than two are alive at once: the orientation is applied in place, RGB pixels
    # are not converted again, and each image is closed as soon as the next one exists.
    with _opened(path) as image:
        source_format, _, _ = _checked_header(image, limits)
        quality = jpeg_quality_estimate(getattr(image, "quantization", None) or {})
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            rgb = _to_srgb(image)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
            raise ImageRejected(f"cannot decode the image: {error}") from None
        if rgb is not image:
            image.close()
    pixels = rgb.tobytes()
    width, height = rgb.size
    mean_rgb, border_rgb = mean_colours(rgb)
    rgb.close()
    pixel_sha256 = hashlib.sha256(pixels).hexdigest()
    # A fresh image from raw pixels has no info, so no metadata can leak into the copies.
    clean = Image.frombytes("RGB", (width, height), pixels)
    del pixels
    full = _jpeg(clean, limits.jpeg_quality)
    display = thumbnail = None
    if max(width, height) > limits.display_max_side:
        display = _jpeg(_fitted(clean, limits.display_max_side), limits.jpeg_quality)
    if max(width, height) > limits.thumbnail_max_side:
        thumbnail = _jpeg(_fitted(clean, limits.thumbnail_max_side), 85)
    return EncodedImage(
        width=width,
        height=height,
        pixel_sha256=pixel_sha256,
        source_format=source_format,
        full=full,
        display=display,
        thumbnail=thumbnail,
        source_jpeg_quality=quality,
        mean_rgb=mean_rgb,
        border_rgb=border_rgb,
    )


def jpeg_quality_estimate(quantization: dict[int, list[int]]) -> int | None:
    """The IJG quality (1-100) whose scaled luminance table is closest to the file's table 0.

    libjpeg's scaling (jcparam.c): scale = 5000 / q below 50, else 200 - 2q; each entry is
    (base * scale + 50) // 100 clipped to 1..255. Tables of other encoders map to the nearest
    IJG quality, which still ranks files by how coarsely they were compressed. None without
    a table (not a JPEG)."""
    table = quantization.get(0)
    if not table or len(table) != 64:
        return None
    base = [value for row in IJG_LUMINANCE for value in row]
    best, best_distance = 0, float("inf")
    for quality in range(1, 101):
        scale = 5000 // quality if quality < 50 else 200 - 2 * quality
        scaled = (min(max((b * scale + 50) // 100, 1), 255) for b in base)
        distance = sum(abs(s - t) for s, t in zip(scaled, table, strict=True))
        if distance < best_distance:
            best, best_distance = quality, distance
    return best


def mean_colours(
    rgb: Image.Image,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Mean (R, G, B) of the whole image and of its border (BORDER_FRACTION on every edge)."""
    width, height = rgb.size
    whole = ImageStat.Stat(rgb)
    band = max(1, round(BORDER_FRACTION * min(width, height)))
    if 2 * band >= min(width, height):
        return _rgb(whole.mean), _rgb(whole.mean)
    inner = ImageStat.Stat(rgb.crop((band, band, width - band, height - band)))
    n_inner = (width - 2 * band) * (height - 2 * band)
    n_border = width * height - n_inner
    border = [
        (total - inner_total) / n_border
        for total, inner_total in zip(whole.sum, inner.sum, strict=True)
    ]
    return _rgb(whole.mean), _rgb(border)


def _rgb(values: list[float]) -> tuple[float, float, float]:
    red, green, blue = (round(float(v), 2) for v in values[:3])
    return red, green, blue


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` with the JPEG, PNG or TIFF plugin only, reading nothing but the header.

    This is Image.open restricted to the allowlist and without Pillow's own bomb check,
    which would refuse a 400-megapixel image with its own message before ours could say
    how large it is; _checked_header applies our (lower, configurable) limit instead.
    """
    handle = path.open("rb")
    try:
        prefix = handle.read(16)
        image = None
        for kind in ALLOWED_FORMATS:
            factory, accept = Image.OPEN[kind]
            if accept is not None and accept(prefix) is not True:
                continue
            handle.seek(0)
            try:
                image = factory(handle, str(path))
            except (SyntaxError, IndexError, TypeError, ValueError, struct.error) as error:
                raise ImageRejected(f"cannot read the image header: {error}") from None
            break
        if image is None:
            raise ImageRejected("not a JPEG, PNG or TIFF image")
        with image:
            yield image
    finally:
        handle.close()


def _checked_header(image: Image.Image, limits: ImageLimits) -> tuple[str, int, int]:
    if image.format not in ALLOWED_FORMATS:
        raise ImageRejected(f"{image.format} images are not accepted (JPEG, PNG or TIFF only)")
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected(f"invalid image size {width}x{height}")
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"{width}x{height} pixels ({width * height / 1e6:.1f} megapixels) exceeds the "
            f"limit of {limits.max_pixels / 1e6:g} megapixels"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise ImageRejected(f"{frames} frames or pages in one file; upload one image per file")
    return str(image.format), width, height


def _to_srgb(image: Image.Image) -> Image.Image:
    """8-bit sRGB pixels from any mode the allowed formats decode to."""
    icc = image.info.get("icc_profile")
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16/32-bit greyscale (TIFF, PNG): scale to 8 bits instead of clipping at 255.
        extrema = cast("tuple[float, float]", image.getextrema())  # one band
        maximum = 65535 if image.mode.startswith("I;16") else max(extrema[1], 1)
        image = image.convert("I").point(lambda v: v * (255 / maximum)).convert("L")
    elif image.mode == "F":
        low, high = cast("tuple[float, float]", image.getextrema())  # one band
        span = (high - low) or 1
        image = image.point(lambda v: (v - low) * 255 / span).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            # A profile per call: LittleCMS profile objects are not shared between threads.
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:  # None only when converting in place
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unusable profile: treat the pixels as sRGB, as browsers do
    return image if image.mode == "RGB" else image.convert("RGB")


def _fitted(image: Image.Image, max_side: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return copy


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, subsampling=0, optimize=False)
    return buffer.getvalue()


Store = Callable[[EncodedImage], "tuple[str, str, str] | None"]
Encoded = tuple[int, EncodedImage | None, "tuple[str, str, str] | None", str]


def images_encode_chunk(
    jobs: list[tuple[int, str]], limits: ImageLimits, store: Store | None = None
) -> list[Encoded]:
    """Encode several images (in a worker thread): (key, image, stored names, problem).

    ``store`` saves an encoded image and returns its stored names (None when it stored
    nothing); a stored image is returned without its bytes, so memory holds only the images
    in flight.
    """
    results: list[Encoded] = []
    for key, path in jobs:
        try:
            image = image_encode(Path(path), limits)
        except ImageRejected as error:
            results.append((key, None, None, str(error)))
            continue
        except MemoryError:
            results.append((key, None, None, "not enough memory to decode the image"))
            continue
        except OSError as error:
            results.append((key, None, None, f"cannot read the file: {error.strerror or error}"))
            continue
        names = store(image) if store is not None else None
        if names is not None:
            image = dataclasses.replace(image, full=b"", display=None, thumbnail=None)
        results.append((key, image, names, ""))
    return results


def images_encode_many(
    jobs: list[tuple[int, str]], limits: ImageLimits, workers: int, store: Store | None = None
) -> Generator[Encoded, None, None]:
    """Results as they come, from ``workers`` threads (in the calling thread for few images).

    ``store`` runs in the worker threads too, so that files are written in parallel.

    Threads, not processes: Pillow releases the GIL while it decodes, converts, resizes and
    encodes, and hashlib while it hashes, so the heavy work runs on every core; and a Celery
    prefork worker's pool processes are daemonic and may not start processes of their own.
    At most ``2 * workers`` chunks are in flight, so memory stays bounded whatever the size.
    """
    if workers <= 1 or len(jobs) < PARALLEL_FROM:
        for start in range(0, len(jobs), CHUNK_SIZE):
            yield from images_encode_chunk(jobs[start : start + CHUNK_SIZE], limits, store)
        return
    chunks = iter(jobs[start : start + CHUNK_SIZE] for start in range(0, len(jobs), CHUNK_SIZE))
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="ingest"
    ) as pool:
        pending: set[concurrent.futures.Future] = set()
        try:
            for chunk in chunks:
                pending.add(pool.submit(images_encode_chunk, chunk, limits, store))
                if len(pending) >= 2 * workers:
                    finished, pending = concurrent.futures.wait(
                        pending, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in finished:
                        yield from future.result()
            for future in concurrent.futures.as_completed(pending):
                yield from future.result()
        finally:
            for future in pending:
                future.cancel()
