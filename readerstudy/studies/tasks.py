from celery import Task

from readerstudy.celery import task
from readerstudy.studies.services import import_job_run


@task()
def study_import_job_run(self: Task, *, import_job_id: int) -> str:
    """Run an uploaded image set's import; a job another worker is running is retried later."""
    outcome = import_job_run(import_job_id=import_job_id)
    if outcome == "busy":
        raise self.retry(countdown=60)
    return outcome
