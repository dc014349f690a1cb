from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.scoring.score_imports import ScoreImportError, scores_import_file
from readerstudy.studies.models import Study


class Command(BaseCommand):
    help = (
        "Import the scores of an algorithm that cannot run here: a CSV with source_id and "
        "either probability or one column per taxonomy class, one row per case of the study. "
        "All or nothing; every problem is reported with its row."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", type=int, required=True, help="study id")
        parser.add_argument("--scores", type=Path, required=True, help="the CSV score file")
        parser.add_argument("--name", required=True, help="the algorithm's name")

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with id {options['study']}")
        path: Path = options["scores"]  # type: ignore[assignment]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            model_version = scores_import_file(
                study=study,
                path=path,
                name=str(options["name"]),
            )
        except ScoreImportError as error:
            raise CommandError(str(error)) from None
        count = model_version.scores.filter(case__study=study).count()
        self.stdout.write(
            f"imported {count} scores of study {study.pk} as model {model_version.pk}"
        )
        self.stdout.write(f"kind imported, sha256 {model_version.sha256}")
