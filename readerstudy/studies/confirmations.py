"""How a case's diagnosis was confirmed, in the words readers know.

Manifests record it in their own vocabulary (HAM10000's ``dx_type`` codes, ISIC's
``diagnosis_confirm_type`` phrases, the generic ``confirmation`` column); a case also records
whether it is biopsy-proven (see ``ingest/manifests.py``).
"""

from __future__ import annotations

# HAM10000's dx_type codes (Tschandl et al. 2018).
CONFIRMATION_NAMES = {
    "histo": "histopathology",
    "follow_up": "follow-up",
    "consensus": "expert consensus",
    "confocal": "confocal microscopy",
}


def confirmation_name(confirmation: str, *, biopsy_proven: bool) -> str:
    """How a case's diagnosis was confirmed; "" when none is recorded.

    A biopsy-proven case was confirmed by histopathology whatever the manifest's spelling.
    """
    if biopsy_proven:
        return "histopathology"
    return CONFIRMATION_NAMES.get(confirmation.lower(), confirmation.replace("_", " ").strip())
