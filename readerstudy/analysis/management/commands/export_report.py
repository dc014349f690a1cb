from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.analysis.exports import (
    EXPORT_FORMATS,
    ExportUnavailable,
    decisions_csv_lines,
    export_bytes,
)
from readerstudy.studies.models import Study
from readerstudy.studies.subgroups import SUBGROUP_CHOICES, ReaderSubgroup


class Command(BaseCommand):
    help = (
        "Export a study: csv (every decision), json (the analysis), imrmc or ratings (for "
        "MRMC software), html (self-contained report), png or svg (the figure), readers (each "
        "reader's profile), diagnosis (the diagnosis analysis as JSON, the keys of "
        "analyze_diagnoses --json). --position and --experience restrict it to a subgroup of "
        "readers."
    )

    # The system checks import every view (plotly, scikit-learn, ...); an export that streams
    # a million decisions must run in constant, small memory, so it skips them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", type=int, help="study id")
        parser.add_argument("--format", required=True, choices=sorted(EXPORT_FORMATS))
        parser.add_argument("--out", required=True, type=Path, help="file to write")
        parser.add_argument(
            "--identities",
            action="store_true",
            help="name readers by account instead of pseudonym (R01, R02, ...)",
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="count readers who have not graded every case in the average reader and the "
            "operating-point comparisons (never in MRMC)",
        )

        parser.add_argument(
            "--position",
            choices=SUBGROUP_CHOICES["position"],
            help="only readers of this position (their profile)",
        )
        parser.add_argument(
            "--experience",
            choices=SUBGROUP_CHOICES["experience"],
            help="only readers with this many years of dermoscopy experience, e.g. '>10'",
        )

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with id {options['study']}")
        out: Path = options["out"]  # type: ignore[assignment]
        fmt = str(options["format"])
        identities = bool(options["identities"])
        subgroup = ReaderSubgroup.from_query(options)
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            with out.open("w", newline="", encoding="utf-8") as handle:
                for line in decisions_csv_lines(study, identities=identities, subgroup=subgroup):
                    handle.write(line)
        else:
            try:
                out.write_bytes(
                    export_bytes(
                        study,
                        fmt,
                        identities=identities,
                        include_partial=bool(options["partial"]),
                        subgroup=subgroup,
                    )
                )
            except ExportUnavailable as error:
                raise CommandError(str(error)) from None
        self.stdout.write(f"wrote {out} ({out.stat().st_size} bytes)")
