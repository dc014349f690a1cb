from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from readerstudy.scoring.services import scores_reconcile


class Command(BaseCommand):
    help = (
        "Re-send every case that lacks a score from its study's active model (recovers "
        "messages lost when the broker restarted). The scheduler also runs this periodically."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            help="seconds since a case was last sent (default: READERSTUDY_SCORING_STALE_SECONDS)",
        )

    def handle(self, *args: object, **options: object) -> None:
        stale = options["stale_after"]
        sent = scores_reconcile(
            stale_after=None if stale is None else timedelta(seconds=float(stale))  # type: ignore[arg-type]
        )
        self.stdout.write(f"re-sent {sent} cases")
