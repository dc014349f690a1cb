"""What readers do: the order they see cases in, each serving of a case, and their decisions.

A reader's work is never lost and never doubled:

- ``ReadingOrder`` keeps each enrolment's case order (derived from its ``order_seed``, see
  ``reading/ordering.py``), so the order is the same after logout and login, and cases a
  coordinator adds later are appended after everything the reader already had.
- ``ServedCase`` is one serving of one case to one reader, with a random one-time token. A
  submit names the token; ``Decision.served`` is unique, so a double click or a retried request
  can make exactly one decision per token (the database refuses a second row).
- ``Decision`` is an answer. ``revision`` is 1 for the first answer and 2, 3, ... for changes
  (only where the study allows them; each change needs a fresh token). Nothing is updated in
  place: analyses use the highest revision per (enrolment, case).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from readerstudy.studies.design import MANAGEMENT_CHOICES
from readerstudy.studies.models import Case, Enrolment


class ReadingOrder(models.Model):
    """An enrolment's case order, as case primary keys, grown only by appending."""

    enrolment = models.OneToOneField(
        Enrolment, on_delete=models.CASCADE, primary_key=True, related_name="reading_order"
    )
    case_ids = models.JSONField(default=list)
    # The study's (number of cases, highest case id) when the order was last extended: a cheap
    # signature that tells when cases were added (or removed) since.
    cases_count = models.PositiveIntegerField(default=0)
    cases_max_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"order of {self.enrolment_id}: {len(self.case_ids)} cases"


class Phase(models.TextChoices):
    """Whether the reader saw the CNN's output (reading/phases.py): every study reads
    unaided; AI-assisted studies also read aided."""

    UNAIDED = "unaided", "Unaided"
    AIDED = "aided", "With the CNN"


class ServedCase(models.Model):
    """One serving of a case to a reader in one phase; its token lets exactly one decision be
    made."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="served_cases")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    served_at = models.DateTimeField()
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.UNAIDED)

    class Meta:
        indexes = [models.Index(fields=["enrolment", "case"], name="served_enrolment_case")]

    def __str__(self) -> str:
        return f"case {self.case_id} served to {self.enrolment_id} at {self.served_at:%H:%M:%S}"


class Decision(models.Model):
    """A reader's answer to the questions of the study's design (studies/design.py): the
    management decision with its confidence of malignancy, the diagnosis with its optional
    confidence, or both; a field the design does not ask is null."""

    # The management choices as studies/design.py describes them (their one home).
    Choice = models.TextChoices(  # type: ignore[misc]
        "Choice", [(c.value.upper(), (c.value, c.label)) for c in MANAGEMENT_CHOICES]
    )

    # PROTECT: a reader's answers outlive any attempt to delete the case or the enrolment.
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="decisions")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    # One decision per served token: the uniqueness that makes a replayed submit harmless.
    served = models.OneToOneField(ServedCase, on_delete=models.PROTECT, related_name="decision")
    # Null, not "", where the design does not ask the question: the check constraints below
    # speak of NULL, and "" would be a third value no answer can have.
    decision = models.CharField(max_length=8, choices=Choice.choices, null=True, blank=True)  # noqa: DJ001
    # Confidence that the lesion is malignant, on the study's scale (0-100 or 1-5).
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    # The class the reader chose (a code of the study's class scheme) and, where the study
    # asks it, how sure they were, on the study's scale.
    diagnosis_class = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    diagnosis_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    revision = models.PositiveSmallIntegerField(default=1)
    # The serving's phase, copied so that analyses and the uniqueness below need no join.
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.UNAIDED)
    served_at = models.DateTimeField()
    submitted_at = models.DateTimeField()
    # Milliseconds the page was visible while this case was shown (null from API clients that
    # do not measure it).
    active_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["enrolment", "case", "revision"]
        constraints = [
            # One answer per case, phase and revision: the aided answer never replaces the
            # locked unaided one.
            models.UniqueConstraint(
                fields=["enrolment", "case", "phase", "revision"], name="decision_revision_unique"
            ),
            models.CheckConstraint(condition=Q(revision__gte=1), name="decision_revision_min"),
            models.CheckConstraint(
                condition=Q(decision__in=[c.value for c in MANAGEMENT_CHOICES])
                | Q(decision__isnull=True),
                name="decision_choice_valid",
            ),
            models.CheckConstraint(
                condition=Q(confidence__lte=100), name="decision_confidence_range"
            ),
            # A management decision always comes with its confidence, and only with it.
            models.CheckConstraint(
                condition=Q(decision__isnull=True, confidence__isnull=True)
                | Q(decision__isnull=False, confidence__isnull=False),
                name="decision_confidence_paired",
            ),
            models.CheckConstraint(
                condition=Q(decision__isnull=False) | Q(diagnosis_class__isnull=False),
                name="decision_answers_something",
            ),
            models.CheckConstraint(
                condition=Q(diagnosis_confidence__lte=100)
                & (Q(diagnosis_class__isnull=False) | Q(diagnosis_confidence__isnull=True)),
                name="decision_diagnosis_confidence_valid",
            ),
            models.CheckConstraint(
                condition=~Q(diagnosis_class=""), name="decision_diagnosis_not_blank"
            ),
        ]

    def __str__(self) -> str:
        answer = " ".join(
            f"{value} ({confidence})" if confidence is not None else str(value)
            for value, confidence in (
                (self.diagnosis_class, self.diagnosis_confidence),
                (self.decision, self.confidence),
            )
            if value is not None
        )
        return f"{answer} r{self.revision} on case {self.case_id}"

    @property
    def biopsy(self) -> bool:
        return self.decision == self.Choice.BIOPSY
