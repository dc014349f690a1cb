"""The submit's plain-body shortcut takes exactly what DecisionSubmitSerializer takes, with the
same values, and leaves everything else to the serializer (and its messages)."""

from __future__ import annotations

import pytest

from readerstudy.reading.api import DecisionSubmitSerializer, _submit_fields_plain

TOKEN = "Zm9vYmFyLWJhei1xdXV4LXRva2VuLXRoYXQtaXMtbG9uZw"

BODIES = [
    {"token": TOKEN, "decision": "biopsy", "confidence": 70, "active_ms": 900},
    {"token": TOKEN, "decision": "reassure", "confidence": 0},
    {"token": TOKEN, "diagnosis_class": "mel", "diagnosis_confidence": 3, "active_ms": None},
    {"token": TOKEN, "decision": None, "confidence": None, "diagnosis_class": None},
    {"token": TOKEN, "decision": "biopsy", "confidence": 70, "unknown": [1, 2]},
    {"token": TOKEN},
    # The serializer's business: coerced, trimmed, refused.
    {"token": TOKEN, "decision": "biopsy", "confidence": "70"},
    {"token": TOKEN, "decision": "biopsy", "confidence": 70.0},
    {"token": TOKEN, "decision": "biopsy", "confidence": True},
    {"token": f" {TOKEN} ", "decision": "biopsy", "confidence": 70},
    {"token": TOKEN, "decision": "maybe", "confidence": 70},
    {"token": TOKEN, "decision": "", "confidence": 70},
    {"token": TOKEN, "decision": 1, "confidence": 70},
    {"token": TOKEN, "active_ms": -1},
    {"token": TOKEN, "diagnosis_class": ""},
    {"token": TOKEN, "diagnosis_class": "x" * 33},
    {"token": TOKEN, "diagnosis_class": "me\x00l"},
    {"token": "t" * 65},
    {"token": ""},
    {"token": 12345},
    {"token": ["a"]},
    {"token": "to\x00ken"},
    {"decision": "biopsy", "confidence": 70},
    [TOKEN],
    "token",
]


@pytest.mark.parametrize("body", BODIES)
def test_the_shortcut_agrees_with_the_serializer(body) -> None:
    plain = _submit_fields_plain(body)
    serializer = DecisionSubmitSerializer(data=body)
    if plain is not None:
        assert serializer.is_valid(), serializer.errors
        assert plain == dict(serializer.validated_data)


def test_well_formed_bodies_take_the_shortcut() -> None:
    assert sum(_submit_fields_plain(body) is not None for body in BODIES) == 6
