"""Studies, their cases (biopsy-proven images with their truth) and enrolled readers.

A study shows images of one modality and asks what its design asks (a management decision, a
diagnosis among classes, or both; unaided or AI-assisted); its task (from the shared taxonomy)
sets which diagnoses it takes and the binary truth of the CNN's ROC curve. Every reader and
the CNN see exactly the study's cases. Ground truth (diagnosis, truth, source id,
original filename) lives on Case and is never exposed to readers: reader-facing code reaches
cases through their opaque ``public_id`` and the image files, which are re-encoded copies
stored under generated names.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from readerstudy.studies.design import (
    DEFAULT_DIAGNOSIS_QUESTION,
    DESIGNS,
    DIAGNOSIS,
    MANAGEMENT,
)


def random_order_seed() -> int:
    return secrets.randbits(62)


def random_token() -> str:
    return secrets.token_hex(16)


class Study(models.Model):
    class Modality(models.TextChoices):
        DERMOSCOPIC = "dermoscopic", "Dermoscopic"
        CLINICAL = "clinical", "Clinical photograph"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for grading"
        CLOSED = "closed", "Closed"

    class ConfidenceScale(models.TextChoices):
        PERCENT = "0-100", "0-100"
        FIVE_POINT = "1-5", "1-5"

    class AiAssistance(models.TextChoices):
        NONE = "none", "None: readers answer unaided"
        SEQUENTIAL = "sequential", "Sequential: each case unaided, then again with the CNN"
        CROSSOVER = "crossover", "Crossover: an aided and an unaided session, after a washout"

    name = models.CharField(max_length=200)
    task = models.CharField(max_length=64, help_text="Built-in task name or a custom task's name")
    # A snapshot of the task ({"name", "label", "positive", "negative"}), so a custom task
    # and later taxonomy versions never change what an existing study means.
    task_definition = models.JSONField()
    taxonomy_version = models.CharField(max_length=32)
    modality = models.CharField(max_length=16, choices=Modality.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    question = models.TextField(
        default="Would you biopsy or further test this lesion, or reassure the patient?"
    )
    confidence_scale = models.CharField(
        max_length=8, choices=ConfidenceScale.choices, default=ConfidenceScale.PERCENT
    )
    # What readers answer about each case (studies/design.py describes each design once).
    design = models.CharField(max_length=24, choices=list(DESIGNS.items()), default=MANAGEMENT)
    # A snapshot of the diagnosis classes ({"name", "label", "classes": [...]}, see
    # design.ClassScheme), for the designs that ask a diagnosis; null for management only.
    diagnosis_scheme = models.JSONField(null=True, blank=True)
    # Blank: the default question (design.DEFAULT_DIAGNOSIS_QUESTION).
    diagnosis_question = models.TextField(default=DEFAULT_DIAGNOSIS_QUESTION, blank=True)
    ask_diagnosis_confidence = models.BooleanField(
        default=False, help_text="Readers give a confidence with their diagnosis"
    )
    # AI-assisted reading (reading/phases.py): whether and how readers see the CNN's output.
    ai_assistance = models.CharField(
        max_length=12, choices=AiAssistance.choices, default=AiAssistance.NONE
    )
    washout_days = models.PositiveSmallIntegerField(
        default=28, help_text="Crossover: days between a reader's first and second session"
    )
    ai_show_saliency = models.BooleanField(
        default=False,
        help_text="The aided phase also shows the CNN's Grad-CAM map: where in the image it "
        "found the evidence for the task's positive side (its own networks only)",
    )
    faulty_ai_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="Share of cases (0-50%) whose shown AI output is inverted, to measure "
        "over-reliance (Tschandl 2020); disclosed in the consent text",
    )
    consent_text = models.TextField(
        blank=True, help_text="Shown to each reader before their first case"
    )
    allow_answer_changes = models.BooleanField(
        default=False, help_text="Readers may go back and change a decision (every change is kept)"
    )
    show_clinical_info = models.BooleanField(
        default=False, help_text="Readers see age, sex and body site with each image"
    )
    show_feedback = models.BooleanField(
        default=False,
        help_text="After finishing, readers see the truth and the CNN's score for each case",
    )
    require_biopsy_proven = models.BooleanField(
        default=True, help_text="Every case must have a histopathologically confirmed diagnosis"
    )
    # New studies ask for it; studies that existed before profiles keep their readers grading
    # (their migration sets False).
    require_reader_profile = models.BooleanField(
        default=True,
        help_text="Readers describe their position and experience before their first case",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies_created"
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="coordinated_studies", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def confidence_range(self) -> tuple[int, int]:
        return (0, 100) if self.confidence_scale == self.ConfidenceScale.PERCENT else (1, 5)

    @property
    def aided(self) -> bool:
        return self.ai_assistance != self.AiAssistance.NONE

    @property
    def asks_management(self) -> bool:
        return self.design != DIAGNOSIS

    @property
    def asks_diagnosis(self) -> bool:
        return self.design != MANAGEMENT


class Case(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        UNKNOWN = "", "Unknown"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cases")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Import order within the study; reading orders append later cases without reshuffling.
    position = models.PositiveIntegerField()
    # Re-encoded copies under generated names: full resolution, display (<= 1600 px), thumbnail.
    image = models.FileField(max_length=255)
    display_image = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    pixel_sha256 = models.CharField(max_length=64, help_text="sha256 of the decoded RGB pixels")
    # Ground truth: coordinators and analysts only.
    diagnosis = models.CharField(max_length=16, help_text="Fine diagnosis code (taxonomy)")
    diagnosis_label = models.CharField(max_length=128, blank=True, help_text="As in the manifest")
    truth = models.BooleanField(help_text="Positive (malignant) for the study's task")
    biopsy_proven = models.BooleanField()
    confirmation = models.CharField(
        max_length=64, blank=True, help_text="How the diagnosis was confirmed, as recorded"
    )
    source_id = models.CharField(max_length=128, blank=True, help_text="e.g. the ISIC id")
    source_filename = models.CharField(max_length=255, blank=True)
    lesion_id = models.CharField(max_length=64, blank=True)
    # The import that brought the case in (CNN scoring picks up the cases of one import).
    import_job = models.ForeignKey(
        "ImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    # Clinical information, shown to readers only when the study says so.
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, blank=True)
    site = models.CharField(max_length=64, blank=True)
    # What the uploaded file was, which the stored re-encoded copy no longer shows: recorded
    # for the confound audit (empty/None for cases imported before it was recorded).
    source_format = models.CharField(max_length=8, blank=True, help_text="JPEG, PNG or TIFF")
    source_jpeg_quality = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Estimated IJG quality of a JPEG original"
    )
    # Faulty-AI check: the CNN output shown to readers in an aided phase is inverted for
    # this case (chosen, seeded, when the study opens). Coordinators and analysts only.
    ai_output_inverted = models.BooleanField(default=False)
    mean_rgb = models.JSONField(null=True, blank=True, help_text="Mean [R, G, B] of the image")
    border_rgb = models.JSONField(
        null=True, blank=True, help_text="Mean [R, G, B] of the image's border"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="case_position_unique"),
            models.UniqueConstraint(fields=["study", "pixel_sha256"], name="case_pixels_unique"),
            models.UniqueConstraint(
                fields=["study", "source_id"],
                condition=~Q(source_id=""),
                name="case_source_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.public_id}"


class Enrolment(models.Model):
    """A reader taking part in a study, with the seed of their own stable case order."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="enrolments")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments"
    )
    order_seed = models.BigIntegerField(default=random_order_seed, editable=False)
    # Reports name readers by pseudonym (R01, R02, ...) unless an analyst asks otherwise.
    pseudonym = models.CharField(max_length=16)
    simulated = models.BooleanField(
        default=False, help_text="A simulated reader (demo, power checks), never a person"
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)
    # When the reader agreed to the study's consent text (shown before their first case; the
    # text cannot change once the study is open, so the time says what they agreed to).
    consented_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["study", "pseudonym"]
        constraints = [
            models.UniqueConstraint(fields=["study", "reader"], name="enrolment_unique"),
            models.UniqueConstraint(fields=["study", "pseudonym"], name="pseudonym_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pseudonym} in {self.study}"


class ReaderPosition(models.TextChoices):
    ATTENDING = "attending", "Attending (consultant) dermatologist"
    RESIDENT = "resident", "Resident in dermatology"
    OTHER_PHYSICIAN = "other_physician", "Other physician"
    NON_PHYSICIAN = "non_physician", "Not a physician"


class ExperienceBand(models.TextChoices):
    """Years of dermoscopy experience in Tschandl et al. (2019)'s bands; the values are what
    the analyses' ``?experience=`` takes."""

    UNDER_3 = "<3", "Less than 3 years"
    FROM_3_TO_10 = "3-10", "3 to 10 years"
    OVER_10 = ">10", "More than 10 years"


class ReaderProfile(models.Model):
    """Who the reader was when they read this study: position, board certification and
    dermoscopy experience in the bands of Tschandl et al. (Lancet Oncol 2019). Analyses are
    restricted to subgroups of them (Brinker et al. 2019 report attendings apart)."""

    Position = ReaderPosition
    Experience = ExperienceBand

    enrolment = models.OneToOneField(Enrolment, on_delete=models.CASCADE, related_name="profile")
    position = models.CharField(max_length=16, choices=Position.choices)
    board_certified = models.BooleanField(
        null=True, blank=True, help_text="Board-certified dermatologist (empty: not asked)"
    )
    experience = models.CharField(
        max_length=4, choices=Experience.choices, help_text="Years of dermoscopy experience"
    )
    notes = models.TextField(blank=True, max_length=1000)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(position__in=ReaderPosition.values),
                name="reader_profile_position_valid",
            ),
            models.CheckConstraint(
                condition=Q(experience__in=ExperienceBand.values),
                name="reader_profile_experience_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"profile of {self.enrolment}"


class ImportJob(models.Model):
    """One import of an image set into a study, from the browser, the API or the CLI.

    Browser and API imports are created ``pending`` with their files in a staging folder under
    ``UPLOAD_ROOT/imports/<token>/`` and run by a Celery task, which reports progress here.
    The report lists imported counts and every excluded row; ``errors`` every rejected row
    (file, row, field, message) of an import that imported nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Rejected"
        UNDONE = "undone", "Undone"

    class Source(models.TextChoices):
        BROWSER = "browser", "Browser upload"
        API = "api", "API upload"
        CLI = "cli", "Command line"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="import_jobs")
    # Names the staging folder and the storage folder of the stored images.
    token = models.CharField(max_length=32, unique=True, default=random_token, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=64, blank=True)
    # What was asked: manifest format, biopsy-proven filter, sample, seed, limit.
    options = models.JSONField(default=dict, blank=True)
    # What was uploaded: original names of the zip or the manifest and the number of files.
    upload = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    cases_created = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.study}: {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.UNDONE)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class ConfoundAcknowledgement(models.Model):
    """A coordinator's record that they read the confound audit's warnings before opening
    the study: who, when, and which warnings (with their AUCs) they saw."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="confound_acks")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(auto_now_add=True)
    warnings = models.JSONField(help_text="The warnings as shown: [{key, label, auc, ci}]")

    class Meta:
        ordering = ["-acknowledged_at", "-id"]

    def __str__(self) -> str:
        return f"confound warnings of {self.study} acknowledged by {self.acknowledged_by}"
