"""``manage.py analyze_diagnoses``: any diagnosis ratings file analysed (see
readerstudy.stats.diagnosis_cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.stats.diagnosis import DiagnosisInputError
from readerstudy.stats.diagnosis_cli import analyze_diagnoses, format_diagnosis_summary
from readerstudy.stats.formats import RatingsFormatError


class Command(BaseCommand):
    help = (
        "Analyse diagnosis ratings (CSV reader,case,truth,answer with class labels): each "
        "reader's accuracy, mean recall and confusion matrix, Fleiss' and Cohen's kappa, and "
        "--algorithm against each reader (exact McNemar) and the panel (bootstrap CI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ratings", required=True, metavar="FILE", help="ratings CSV")
        parser.add_argument(
            "--algorithm", metavar="READER", help="the reader id whose answers are the algorithm's"
        )
        parser.add_argument(
            "--classes",
            metavar="A,B,...",
            help="the classes in order (default: every label found, sorted)",
        )
        parser.add_argument("--json", dest="json_out", metavar="OUT", help="write JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        classes = None
        if options["classes"]:
            classes = [label.strip() for label in options["classes"].split(",")]
        try:
            result = analyze_diagnoses(
                options["ratings"], algorithm=options["algorithm"], classes=classes
            )
        except (RatingsFormatError, DiagnosisInputError) as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(f"{options['ratings']}: {error.strerror or error}") from error
        self.stdout.write(format_diagnosis_summary(result))
        if options["json_out"]:
            out = Path(options["json_out"])
            out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
            self.stdout.write(f"JSON written to {out}")
