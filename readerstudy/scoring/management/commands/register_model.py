from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.scoring.models import ANY_TASK
from readerstudy.scoring.services import ModelRegistrationError, model_version_register


class Command(BaseCommand):
    help = "Register a classifier checkpoint as a model version (its sha256 is its identity)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="checkpoint file (.pt)")
        parser.add_argument("--name", help="display name (default: the checkpoint's own)")
        parser.add_argument(
            "--activate",
            action="store_true",
            help="make it the active model and score the unscored cases of open studies",
        )
        parser.add_argument(
            "--task",
            action="append",
            dest="tasks",
            metavar="TASK",
            help="with --activate: only for this task (repeatable; default: every task)",
        )

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["path"]  # type: ignore[assignment]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        tasks: list[str] = (
            list(options["tasks"] or [ANY_TASK]) if options["activate"] else []  # type: ignore[call-overload]
        )
        try:
            model_version, created = model_version_register(
                path=path,
                name=options["name"],
                activate_for=tasks,  # type: ignore[arg-type]
            )
        except ModelRegistrationError as error:
            raise CommandError(str(error)) from None
        state = "registered" if created else "already registered"
        self.stdout.write(f"{state}: model {model_version.pk} {model_version}")
        self.stdout.write(f"sha256 {model_version.sha256}")
        if tasks:
            self.stdout.write(f"active for: {', '.join(tasks)}")
