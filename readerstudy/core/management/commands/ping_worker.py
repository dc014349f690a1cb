from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.core.services import worker_ping


class Command(BaseCommand):
    help = "Send a task to a queue and wait until a Celery worker has written its answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", default="default", help="queue to ping (default: default)")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")

    def handle(self, *args: object, queue: str, timeout: float, **options: object) -> None:
        heartbeat = worker_ping(queue=queue, timeout=timeout)
        if heartbeat is None:
            raise CommandError(f"no worker answered on queue {queue!r} within {timeout:g} s")
        latency = (heartbeat.answered_at - heartbeat.requested_at).total_seconds()
        self.stdout.write(f"worker {heartbeat.hostname} answered on {queue!r} in {latency:.2f} s")
