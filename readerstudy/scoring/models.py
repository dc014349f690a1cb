"""The CNN's side of a study: registered model versions and their scores for every case.

A model version is a native checkpoint, a timm state_dict or an ONNX file with its JSON
description, or a file of scores imported for an algorithm that cannot run here; its sha256
identifies it. Each score says which
model version produced it; ``UNIQUE(case, model_version)`` makes a redelivered scoring task
harmless. ``CaseScoring`` tracks each case's attempts with each model, so that an image that
keeps failing (even by killing the worker process) ends FAILED after at most three attempts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from readerstudy.studies.models import Study

# An ActiveModel row for this task name serves every task without a row of its own
# (custom tasks included).
ANY_TASK = "*"


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        NATIVE = "native", "Native checkpoint"
        TIMM = "timm", "timm state_dict"
        ONNX = "onnx", "ONNX"
        IMPORTED = "imported", "Imported scores"

    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NATIVE)
    arch = models.CharField(max_length=64)
    # Content-addressed: models/<sha256>.<pt|pth|onnx|csv> under MEDIA_ROOT, shared by web
    # and workers.
    checkpoint = models.FileField(upload_to="models/", max_length=255)
    # The identity: the checkpoint's sha256; for a timm or ONNX model, that of its file and
    # its description together; for imported scores, that of the score file.
    sha256 = models.CharField(max_length=64, unique=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    description = models.JSONField(
        default=dict, blank=True, help_text="The JSON description of a timm or ONNX model"
    )
    taxonomy_mapping = models.JSONField(
        default=dict, blank=True, help_text="Output class -> taxonomy training class (or null)"
    )
    taxonomy_version = models.CharField(max_length=32)
    input_size = models.JSONField(help_text="[height, width] of the network input")
    class_names = models.JSONField()
    metrics = models.JSONField(default=dict, blank=True)
    data_summary = models.JSONField(default=dict, blank=True)
    # The model weighs the patient's age and sex beside the image (classifier.clinical): it
    # scores only studies whose readers see them too (Haenssle et al. 2018, level II).
    clinical_metadata = models.BooleanField(
        default=False, help_text="Weighs the patient's age and sex beside the image"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"

    @property
    def runs_here(self) -> bool:
        """Whether workers compute its scores (imported scores come as a file)."""
        return self.kind != self.Kind.IMPORTED

    def scores_study(self, study: Study) -> bool:
        """Whether it may be the algorithm of ``study``: a model that weighs the patient's
        details only where the readers see them beside each image."""
        return not self.clinical_metadata or study.show_clinical_info

    @property
    def has_embeddings(self) -> bool:
        """Whether its scores carry penultimate-layer features (t-SNE) and its network can be
        explained with Grad-CAM: native and timm networks, not ONNX graphs or score files."""
        return self.kind in (self.Kind.NATIVE, self.Kind.TIMM)


class ActiveModel(models.Model):
    """Which model version scores the studies of a task (one per task)."""

    task = models.CharField(max_length=64, unique=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="activations"
    )
    activated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.task}: {self.model_version}"


class CnnScore(models.Model):
    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="cnn_scores")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="scores")
    probability = models.FloatField(help_text="P(positive) for the study's task")
    fine_probabilities = models.JSONField(help_text="Training class -> probability")
    # The CNN's answer to a diagnosis question: the study's class with the highest summed
    # probability (Esteva et al. 2017); null for a study that asks no diagnosis, and for
    # imported scores without per-class probabilities.
    diagnosis_class = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    # Penultimate-layer features from the same forward pass, float16 bytes.
    embedding = models.BinaryField(null=True, blank=True)
    device = models.CharField(max_length=32)
    worker_host = models.CharField(max_length=255)
    duration_ms = models.FloatField(help_text="This image's share of its batch's wall time")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version"], name="cnn_score_unique")
        ]
        indexes = [models.Index(fields=["model_version", "created_at"])]

    def __str__(self) -> str:
        return f"{self.case} by {self.model_version}: {self.probability:.3f}"


class CaseScoring(models.Model):
    """Bookkeeping of one case with one model: when it was sent, how often tried, failure."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"

    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version"], name="case_scoring_unique")
        ]
        indexes = [models.Index(fields=["model_version", "status"])]

    def __str__(self) -> str:
        return f"{self.case} with {self.model_version}: {self.status}, {self.attempts} attempts"


class ScoringRun(models.Model):
    """One request to score a study with a model: the basis of progress and ETA."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    n_cases = models.PositiveIntegerField(help_text="Cases without a score when the run began")
    reason = models.CharField(max_length=32)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.study} with {self.model_version}: {self.n_cases} cases ({self.reason})"


class StudyAlgorithm(models.Model):
    """The algorithm an analyst chose for a study's analysis when several scored it (without
    a row: the model active for the study's task, else the latest that scored the study)."""

    study = models.OneToOneField(
        "studies.Study", on_delete=models.CASCADE, related_name="analysis_algorithm"
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    chosen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.study}: analysed with {self.model_version}"


class InsightStatus(models.TextChoices):
    PENDING = "pending", "Being computed"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class SaliencyMap(models.Model):
    """Grad-CAM of one case for one model version, as a heatmap over the image.

    Analysts open them on the case page and the error gallery; readers see the one for the
    study's task beside the CNN's probability in an aided phase (``Study.ai_show_saliency``).
    The table keeps the name it had when the analysis app owned the model."""

    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(max_length=32, help_text="Training class or task explained")
    status = models.CharField(max_length=8, choices=InsightStatus.choices)
    overlay = models.FileField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    # How long the worker took: what the error gallery's time estimate is made from.
    seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "analysis_saliencymap"
        constraints = [
            models.UniqueConstraint(
                fields=["case", "model_version", "target"], name="saliency_map_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Grad-CAM of {self.case} for {self.target}: {self.status}"
