from django.db import models


class WorkerHeartbeat(models.Model):
    """A row written by a Celery worker on request: proof that the queue is being worked.

    The ``ping_worker`` command and the system tests send a token and wait for its row.
    """

    token = models.CharField(max_length=64, unique=True)
    queue = models.CharField(max_length=32)
    hostname = models.CharField(max_length=255)
    requested_at = models.DateTimeField()
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-answered_at"]

    def __str__(self) -> str:
        return f"{self.hostname} on {self.queue} at {self.answered_at:%Y-%m-%d %H:%M:%S}"
