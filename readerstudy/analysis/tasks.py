"""Worker tasks for the views inside the CNN (Grad-CAM runs on the scoring workers:
``readerstudy.scoring.tasks.saliency_compute``). Each overwrites its own cached row only."""

from __future__ import annotations

from celery import Task

from readerstudy.analysis.insight import tsne_map_compute
from readerstudy.celery import task


@task(max_retries=2)
def tsne_compute(self: Task, *, tsne_map_id: int) -> None:
    tsne_map_compute(tsne_map_id=tsne_map_id)
