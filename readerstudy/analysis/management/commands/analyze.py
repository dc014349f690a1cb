"""``manage.py analyze``: MRMC analysis of any reader study's ratings file (see analysis.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.stats.cli import analyze_ratings, format_summary
from readerstudy.stats.formats import RatingsFormatError
from readerstudy.stats.mrmc import COVARIANCE_METHODS
from readerstudy.stats.roc import RocInputError


class Command(BaseCommand):
    help = (
        "Analyse reader-study ratings (long CSV reader,modality,case,truth,rating or an iMRMC "
        "file): reader AUCs, Obuchowski-Rockette-Hillis for two modalities, or --algorithm "
        "against the readers (Hillis 2007, 5.3)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ratings", required=True, metavar="FILE", help="ratings file")
        parser.add_argument(
            "--algorithm", metavar="READER", help="the reader id whose ratings are the algorithm's"
        )
        parser.add_argument(
            "--cov", choices=COVARIANCE_METHODS, default="jackknife", help="error covariances"
        )
        parser.add_argument("--json", dest="json_out", metavar="OUT", help="write JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = analyze_ratings(
                options["ratings"], algorithm=options["algorithm"], cov=options["cov"]
            )
        except (RatingsFormatError, RocInputError) as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(f"{options['ratings']}: {error.strerror or error}") from error
        self.stdout.write(format_summary(result))
        if options["json_out"]:
            out = Path(options["json_out"])
            out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
            self.stdout.write(f"JSON written to {out}")
