from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.scoring.models import ANY_TASK
from readerstudy.scoring.registration import ModelRegistrationError, model_version_register


class Command(BaseCommand):
    help = (
        "Register a model version: a classifier checkpoint (.pt), an ONNX file with --config "
        "MODEL.json, or a timm state_dict with --arch NAME --config MODEL.json (see "
        "docs/algorithms.md). The sha256 of the file (and of the description) is its identity."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="checkpoint (.pt), ONNX file or state_dict")
        parser.add_argument(
            "--config",
            type=Path,
            help="the JSON description of an ONNX model or a timm state_dict",
        )
        parser.add_argument(
            "--arch", help="with --config: the timm architecture the state_dict is for"
        )
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
        config: Path | None = options["config"]  # type: ignore[assignment]
        if options["arch"] and config is None:
            raise CommandError("--arch needs --config: the model's JSON description")
        if config is not None and not config.is_file():
            raise CommandError(f"{config}: no such file")
        tasks: list[str] = (
            list(options["tasks"] or [ANY_TASK]) if options["activate"] else []  # type: ignore[call-overload]
        )
        try:
            model_version, created = model_version_register(
                path=path,
                name=options["name"],
                activate_for=tasks,  # type: ignore[arg-type]
                config=config,
                arch=options["arch"],  # type: ignore[arg-type]
            )
        except ModelRegistrationError as error:
            raise CommandError(str(error)) from None
        state = "registered" if created else "already registered"
        self.stdout.write(f"{state}: model {model_version.pk} {model_version}")
        self.stdout.write(f"kind {model_version.kind}, sha256 {model_version.sha256}")
        if tasks:
            self.stdout.write(f"active for: {', '.join(tasks)}")
