"""Worker tasks for the views inside the CNN. Both overwrite their own cached row only."""

from __future__ import annotations

from celery import Task
from django.conf import settings

from readerstudy.analysis.insight import saliency_map_compute, tsne_map_compute
from readerstudy.analysis.models import InsightStatus, SaliencyMap
from readerstudy.celery import task


@task(max_retries=2)
def tsne_compute(self: Task, *, tsne_map_id: int) -> None:
    tsne_map_compute(tsne_map_id=tsne_map_id)


@task(queue=settings.READERSTUDY_SCORING_QUEUE, max_retries=2)
def saliency_compute(self: Task, *, saliency_map_id: int) -> None:
    """Grad-CAM needs the network, so it runs where the CNN scoring runs."""
    try:
        saliency_map_compute(saliency_map_id=saliency_map_id)
    except Exception as error:
        SaliencyMap.objects.filter(pk=saliency_map_id).update(
            status=InsightStatus.FAILED, error=f"{type(error).__name__}: {error}"[:4000]
        )
        raise
