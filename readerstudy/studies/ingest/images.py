"""Decoding an uploaded image safely and re-encoding it from its pixels.

Only JPEG, PNG and TIFF are decoded. The pixel count is read from the header and checked
before any pixel is decoded (Pillow's own decompression-bomb guard is global, far above our
limit and reports no size, so the header is read without it and our limit applies). The
stored image is built from the decoded RGB pixels alone, so nothing of the source file
survives: no EXIF, GPS, XMP, IPTC, ICC profile or JPEG comment (Pillow would copy a JPEG
comment from ``Image.info`` on a plain re-save). The EXIF orientation is applied first and an
embedded colour profile converted to sRGB, so readers see the lesion as the camera recorded it.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageFile, ImageOps

ALLOWED_FORMATS = ("JPEG", "PNG", "TIFF")
# Images per call in a worker thread, and below how many images no threads start.
CHUNK_SIZE = 16
PARALLEL_FROM = 64
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image is an error, never a grey band
Image.init()  # register the format plugins once, before any worker thread opens a file


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
    )


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
        maximum = 65535 if image.mode.startswith("I;16") else max(image.getextrema()[1], 1)
        image = image.convert("I").point(lambda v: v * (255 / maximum)).convert("L")
    elif image.mode == "F":
        low, high = image.getextrema()
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
            return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
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
) -> Iterator[Encoded]:
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
