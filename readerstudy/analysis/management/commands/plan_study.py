"""``manage.py plan_study``: power and sample size of a reader study from a pilot (see
analysis.planning and analysis.power)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.analysis.exports import CNN_READER
from readerstudy.analysis.selectors import study_pilot_get
from readerstudy.stats.formats import RatingsFormatError
from readerstudy.stats.planning import (
    DEFAULT_READERS,
    PlanRequest,
    format_plan,
    parse_cases,
    parse_readers,
    pilot_from_file,
    study_plan,
)
from readerstudy.stats.power import ANALYSES, PlanningError
from readerstudy.stats.roc import RocInputError
from readerstudy.studies.models import Study


class Command(BaseCommand):
    help = (
        "Plan a reader study from a pilot (a ratings file or a study): the power for J readers "
        "and K cases, the cases needed for each reader count and a power table, for two "
        "modalities or an --algorithm against the readers (Hillis et al. 2011; RJafroc Ss*)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        pilot = parser.add_mutually_exclusive_group(required=True)
        pilot.add_argument("--ratings", metavar="FILE", help="pilot ratings (long CSV or iMRMC)")
        pilot.add_argument("--study", metavar="ID", type=int, help="a study of this platform")
        parser.add_argument(
            "--algorithm",
            metavar="READER",
            help=f"the reader id whose ratings are the algorithm's ({CNN_READER} for a study)",
        )
        parser.add_argument(
            "--effect",
            type=float,
            help="the AUC difference to detect (default: the pilot's observed difference)",
        )
        parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
        parser.add_argument("--power", type=float, default=0.8, help="target power")
        parser.add_argument(
            "--readers", default=DEFAULT_READERS, help="reader counts: N or LOW:HIGH (3:30)"
        )
        parser.add_argument("--cases", help="case counts: N or N,N,... (default 100,200,400,800)")
        parser.add_argument("--analysis", choices=ANALYSES, default="rrrc", help="generalisation")
        parser.add_argument("--json", dest="json_out", metavar="OUT", help="write JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            request = PlanRequest(
                readers=parse_readers(options["readers"]),
                cases=None if options["cases"] is None else parse_cases(options["cases"]),
                effect=options["effect"],
                alpha=options["alpha"],
                power=options["power"],
                analysis=options["analysis"],
            )
            if options["study"] is not None:
                if options["algorithm"] not in (None, CNN_READER):
                    raise PlanningError(
                        f"--study plans the CNN against the study's readers; --algorithm "
                        f"can only be {CNN_READER}"
                    )
                study = Study.objects.filter(pk=options["study"]).first()
                if study is None:
                    raise PlanningError(f"--study {options['study']}: no such study")
                pilot, comparison = study_pilot_get(study)
                source = f"study {study.pk} ({study.name})"
            else:
                pilot, comparison = pilot_from_file(
                    options["ratings"], algorithm=options["algorithm"]
                )
                source = options["ratings"]
            plan = study_plan(pilot, request, source=source, comparison=comparison)
        except (PlanningError, RatingsFormatError, RocInputError) as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            raise CommandError(f"{options['ratings']}: {error.strerror or error}") from error
        self.stdout.write(format_plan(plan, request.readers))
        if options["json_out"]:
            out = Path(options["json_out"])
            out.write_text(json.dumps(plan, indent=2, allow_nan=False) + "\n", encoding="utf-8")
            self.stdout.write(f"JSON written to {out}")
