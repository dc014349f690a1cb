"""Stored images: written under generated names in one folder per import, removed together.

Names are ``cases/<import token>/<random hex>-{full,display,thumb}.jpg``: never the uploaded
file's name or the case's source id, and nothing that tells one case from another.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from readerstudy.studies.ingest.images import EncodedImage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredImage:
    """An image of the import, checked and re-encoded, and the stored files of its variants."""

    image: EncodedImage
    full: str
    display: str
    thumbnail: str


def images_store(image: EncodedImage, folder: str, stored: list[str]) -> tuple[str, str, str]:
    """Save the variants under generated names; the full image stands in for a variant that
    would not be smaller."""
    stem = f"{folder}/{uuid.uuid4().hex}"
    full = default_storage.save(f"{stem}-full.jpg", ContentFile(image.full))
    stored.append(full)
    display = thumbnail = full
    if image.display is not None:
        display = default_storage.save(f"{stem}-display.jpg", ContentFile(image.display))
        stored.append(display)
    if image.thumbnail is not None:
        thumbnail = default_storage.save(f"{stem}-thumb.jpg", ContentFile(image.thumbnail))
        stored.append(thumbnail)
    return full, display, thumbnail


def stored_files_delete(stored: list[str], folder: str) -> None:
    stored_images_remove(stored, [folder])
    stored.clear()


def stored_images_remove(names: list[str], folders: list[str]) -> None:
    """Delete stored images by name, then the import folders that held them."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete the stored image %s", name)
    for folder in folders:
        storage_folder_remove(folder)


def storage_folder_remove(folder: str) -> None:
    """Remove ``folder`` in storage with every file in it (the files of one import)."""
    try:
        directories, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    for directory in directories:
        storage_folder_remove(f"{folder}/{directory}")
    if hasattr(default_storage, "path"):
        shutil.rmtree(default_storage.path(folder), ignore_errors=True)
