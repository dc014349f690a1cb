"""Checks of single manifest cells that need no other cell: an image reference that stays
inside the upload, and the message for a diagnosis the taxonomy does not know."""

from __future__ import annotations

import difflib

from classifier.taxonomy import Taxonomy


def safe_reference(reference: str) -> bool:
    """A manifest never points outside the upload: no absolute paths, no '..'."""
    normalised = reference.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return False
    return ".." not in normalised.split("/") and "\x00" not in normalised


FORMAT_LABELS = {"ham10000": "HAM10000", "isic": "ISIC Archive", "generic": "generic"}


def unknown_diagnosis_message(label: str, taxonomy: Taxonomy, manifest_format: str) -> str:
    """Name the diagnoses as the manifest's format writes them, and suggest the closest.

    HAM10000 manifests use codes (mel, nv), ISIC Archive manifests names (melanoma, nevus);
    a generic manifest may use either.
    """
    key = label.strip().lower()
    codes = sorted(taxonomy.diagnoses)
    names = {alias: d.code for d in taxonomy.diagnoses.values() for alias in d.aliases}
    main_names = [d.aliases[0] for d in taxonomy.diagnoses.values() if d.aliases]
    if manifest_format == "ham10000":
        vocabulary, listed = codes, f"codes {', '.join(codes)}"
    elif manifest_format == "isic":
        vocabulary, listed = sorted(names), f"names such as {', '.join(main_names)}"
    else:
        vocabulary = codes + sorted(names)
        listed = f"codes {', '.join(codes)} or names such as {', '.join(main_names)}"
    message = f"unknown diagnosis {label!r}"
    close = difflib.get_close_matches(key, vocabulary, n=1, cutoff=0.6)
    if not close and manifest_format == "ham10000":
        # A name typed into a code column: suggest the code of the closest name.
        near = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
        close = [names[near[0]]] if near else []
    if close:
        message += f": did you mean {close[0]}?"
    return (
        f"{message} (the {FORMAT_LABELS.get(manifest_format, manifest_format)} format's "
        f"diagnoses are {listed})"
    )
