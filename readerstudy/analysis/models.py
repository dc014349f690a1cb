"""Cached views inside the CNN (Esteva et al. 2017): the t-SNE map of its last hidden layer
and Grad-CAM saliency maps. Both are computed by workers and kept until their inputs change.
"""

from __future__ import annotations

from django.db import models


class InsightStatus(models.TextChoices):
    PENDING = "pending", "Being computed"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class TsneMap(models.Model):
    """2-D t-SNE of the study's case embeddings for one model version."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    # The embeddings it was computed from (count and last score id): a new score makes it stale.
    source = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=InsightStatus.choices)
    coordinates = models.JSONField(default=dict, help_text="case id -> [x, y]")
    error = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "model_version"], name="tsne_map_unique")
        ]

    def __str__(self) -> str:
        return f"t-SNE of {self.study} by {self.model_version}: {self.status}"


class SaliencyMap(models.Model):
    """Grad-CAM of one case for one model version, as a heatmap over the image."""

    case = models.ForeignKey("studies.Case", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(max_length=32, help_text="Training class explained")
    status = models.CharField(max_length=8, choices=InsightStatus.choices)
    overlay = models.FileField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    # How long the worker took: what the error gallery's time estimate is made from.
    seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "model_version", "target"], name="saliency_map_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Grad-CAM of {self.case} for {self.target}: {self.status}"
