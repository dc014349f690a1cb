"""A subgroup of a study's readers by their profile: ``?position=attending``,
``?experience=>10`` (Brinker et al. 2019 report attendings apart; Tschandl et al. 2019 band
dermoscopy experience <3, 3-10 and >10 years).

One definition for every analysis: the ROC page, its JSON API, the exports and
``export_report`` parse their filter here (``ReaderSubgroup.from_query``) and restrict their
readers with ``ReaderSubgroup.enrolments``; the CNN stays the same on the same cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from readerstudy.studies.models import Enrolment, ExperienceBand, ReaderPosition

SUBGROUP_PARAMETERS = ("position", "experience")
SUBGROUP_CHOICES: dict[str, tuple[str, ...]] = {
    "position": tuple(ReaderPosition.values),
    "experience": tuple(ExperienceBand.values),
}
SUBGROUP_LABELS: dict[str, dict[str, str]] = {
    "position": dict(ReaderPosition.choices),
    "experience": dict(ExperienceBand.choices),
}


@dataclass(frozen=True)
class ReaderSubgroup:
    """The readers whose profile has this position and this experience band (None: any).

    The empty subgroup (both None) is every reader, with or without a profile; a filter
    leaves out readers without a profile."""

    position: str | None = None
    experience: str | None = None

    def __post_init__(self) -> None:
        problems = {}
        for name in SUBGROUP_PARAMETERS:
            value, choices = getattr(self, name), SUBGROUP_CHOICES[name]
            if value is not None and value not in choices:
                problems[name] = [
                    f"{value!r} is not a valid {name}; choose one of {', '.join(choices)}"
                ]
        if problems:
            raise ValidationError(problems)

    @classmethod
    def from_query(cls, query: Mapping[str, object]) -> ReaderSubgroup:
        """From query parameters or command options; a blank value means any. Raises
        ValidationError naming each parameter whose value is not one of its choices."""
        values: dict[str, str | None] = {}
        for name in SUBGROUP_PARAMETERS:
            raw = query.get(name)
            text = "" if raw is None else str(raw).strip()
            values[name] = text or None
        return cls(**values)

    @property
    def everyone(self) -> bool:
        return self.position is None and self.experience is None

    @property
    def key(self) -> str:
        """Stable text for cache keys and fingerprints ("all" for every reader)."""
        return self.query or "all"

    @property
    def query(self) -> str:
        """The filter as a query string, without "?" ("" for every reader)."""
        return urlencode(self.as_dict())

    def as_dict(self) -> dict[str, str]:
        return {
            name: value
            for name in SUBGROUP_PARAMETERS
            if (value := getattr(self, name)) is not None
        }

    @property
    def label(self) -> str:
        """In words, for pages and reports: "Attending (consultant) dermatologist; dermoscopy
        experience more than 10 years"."""
        if self.everyone:
            return "All readers"
        parts = []
        if self.position is not None:
            parts.append(SUBGROUP_LABELS["position"][self.position])
        if self.experience is not None:
            band = SUBGROUP_LABELS["experience"][self.experience]
            parts.append(f"dermoscopy experience {band[0].lower()}{band[1:]}")
        text = "; ".join(parts)
        return text[0].upper() + text[1:]

    def enrolments(self, enrolments: QuerySet[Enrolment]) -> QuerySet[Enrolment]:
        """``enrolments`` restricted to this subgroup (by the profile they read with)."""
        if self.position is not None:
            enrolments = enrolments.filter(profile__position=self.position)
        if self.experience is not None:
            enrolments = enrolments.filter(profile__experience=self.experience)
        return enrolments


EVERYONE = ReaderSubgroup()
