"""Cached views inside the CNN (Esteva et al. 2017): the t-SNE map of its last hidden layer
and Grad-CAM saliency maps (``scoring.models.SaliencyMap``). Both are computed by workers and
kept until their inputs change.
"""

from __future__ import annotations

from django.db import models

# Grad-CAM maps live with the scoring app: readers see them in an aided phase, and reading sits
# below analysis. Imported here for the analysis code that has always found them here.
from readerstudy.scoring.models import InsightStatus, SaliencyMap

__all__ = ["InsightStatus", "SaliencyMap", "TsneMap"]


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
