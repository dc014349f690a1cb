"""``manage.py import_study``: create a study and import its image set in one step."""

from __future__ import annotations

import argparse
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from classifier.taxonomy import load_taxonomy
from readerstudy.accounts.roles import Role
from readerstudy.studies.design import BUILT_IN_SCHEMES, DESIGNS, MANAGEMENT
from readerstudy.studies.ingest.issues import ImportRejected
from readerstudy.studies.ingest.manifests import FORMATS
from readerstudy.studies.ingest.selection import sample_parse
from readerstudy.studies.models import ImportJob, Study
from readerstudy.studies.services import (
    ImportOptions,
    ImportSource,
    scheme_resolve,
    study_build,
    study_import,
    task_resolve,
)


class Command(BaseCommand):
    help = (
        "Create a study and import its images (a folder or a zip) with their manifest. "
        "All or nothing: on any error no study is created and every error is listed; the "
        "exit code is 0 only when the study was created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the study's name")
        parser.add_argument(
            "--task",
            required=True,
            help="a built-in task (" + ", ".join(load_taxonomy().tasks) + ") or the path of "
            "a custom task's JSON mapping file",
        )
        parser.add_argument(
            "--design",
            choices=list(DESIGNS),
            default=MANAGEMENT,
            help="what readers answer: " + "; ".join(f"{k}: {v}" for k, v in DESIGNS.items()),
        )
        parser.add_argument(
            "--classes",
            help="the diagnosis classes of a design that asks a diagnosis: "
            + ", ".join(BUILT_IN_SCHEMES)
            + " (default ham7) or the path of a JSON grouping file",
        )
        parser.add_argument("--diagnosis-question", default="", help="the diagnosis question")
        parser.add_argument(
            "--ask-diagnosis-confidence",
            action="store_true",
            help="readers give a confidence with their diagnosis",
        )
        parser.add_argument("--images", required=True, type=Path, help="a folder or a .zip")
        parser.add_argument(
            "--manifest", type=Path, help="the manifest CSV (default: the one inside --images)"
        )
        parser.add_argument("--format", choices=["auto", *FORMATS], default="auto")
        parser.add_argument("--modality", choices=Study.Modality.values, default="dermoscopic")
        parser.add_argument(
            "--biopsy-proven-only",
            action="store_true",
            help="import only biopsy-proven rows (the others are listed as excluded) and "
            "make the study require biopsy proof",
        )
        parser.add_argument(
            "--require-biopsy-proven",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="whether every case must be biopsy-proven (default: "
            "READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT, true unless set)",
        )
        parser.add_argument("--sample", help="cases per diagnosis, e.g. mel=30,nv=70")
        parser.add_argument("--seed", type=int, help="seed of the sample/limit draw")
        parser.add_argument("--limit", type=int, help="at most this many cases (seeded draw)")
        parser.add_argument(
            "--allow-same-lesion",
            action="store_true",
            help="let a sample hold several images of one lesion",
        )
        parser.add_argument(
            "--coordinator",
            help="username of the coordinator who owns the study (default: the only "
            "coordinator account, if there is exactly one)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: object, **options: object) -> None:
        coordinator = self._coordinator(options.get("coordinator"))  # type: ignore[arg-type]
        task_option = str(options["task"])
        try:
            if task_option.endswith(".json") or Path(task_option).is_file():
                task = task_resolve(path=Path(task_option))
            else:
                task = task_resolve(name=task_option)
            sample = (
                sample_parse(str(options["sample"]), taxonomy=load_taxonomy())
                if options.get("sample")
                else None
            )
            design = str(options["design"])
            classes = str(options.get("classes") or "")
            scheme = None
            if design != MANAGEMENT:
                if classes.endswith(".json") or (classes and Path(classes).is_file()):
                    scheme = scheme_resolve(path=Path(classes))
                else:
                    scheme = scheme_resolve(name=classes or "ham7")
            elif classes:
                raise ValueError("--classes needs a --design that asks a diagnosis")
            study = study_build(
                design=design,
                scheme=scheme,
                diagnosis_question=str(options["diagnosis_question"]),
                ask_diagnosis_confidence=bool(options["ask_diagnosis_confidence"]),
                name=str(options["name"]),
                task=task,
                modality=str(options["modality"]),
                created_by=coordinator,
                require_biopsy_proven=True
                if options["biopsy_proven_only"]
                else options["require_biopsy_proven"],  # type: ignore[arg-type]
            )
        except (ValidationError, ValueError) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            raise CommandError("; ".join(messages)) from None

        import_options = ImportOptions(
            manifest_format=str(options["format"]),
            biopsy_proven_only=bool(options["biopsy_proven_only"]),
            sample=sample,
            seed=options.get("seed"),  # type: ignore[arg-type]
            limit=options.get("limit"),  # type: ignore[arg-type]
            allow_same_lesion=bool(options["allow_same_lesion"]),
        )
        images = Path(options["images"])  # type: ignore[arg-type]
        manifest = options.get("manifest")
        source = ImportSource(
            images=images,
            manifest=Path(manifest) if manifest else None,  # type: ignore[arg-type]
            images_name=str(images),
            manifest_name=str(manifest or ""),
        )
        bar = _ProgressBar(disable=bool(options["no_progress"]), stream=self.stderr)
        try:
            result = study_import(
                study=study,
                source=source,
                options=import_options,
                created_by=coordinator,
                job_source=str(ImportJob.Source.CLI),
                progress=bar,
            )
        except ImportRejected as rejection:
            bar.close()
            for issue in rejection.issues:
                self.stderr.write(f"  {issue}")
            raise CommandError(
                f"nothing imported and no study created: {len(rejection.issues)} error(s)"
            ) from None
        finally:
            bar.close()
        self._print_summary(result.study, result.report)

    def _coordinator(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            return user
        coordinators = list(
            User.objects.filter(groups__name=Role.COORDINATOR.value, is_active=True)[:2]
        )
        if len(coordinators) != 1:
            raise CommandError("name the study's owner with --coordinator USERNAME")
        return coordinators[0]

    def _print_summary(self, study: Study, report: dict) -> None:
        self.stdout.write(self.style.SUCCESS(f"Created study {study.pk}: {study.name}"))
        self.stdout.write(f"study_id={study.pk}")
        truth = report.get("imported_truth", {})
        self.stdout.write(
            f"imported {report.get('imported_total', 0)} cases "
            f"({truth.get('positive', 0)} positive, {truth.get('negative', 0)} negative)"
        )
        drawn = report.get("drawn", {})
        for code, count in report.get("imported", {}).items():
            available = report.get("available", {}).get(code, 0)
            note = f" (drawn from {available})" if drawn and available != count else ""
            self.stdout.write(f"  {code:<6} {count}{note}")
        if report.get("seed") is not None:
            self.stdout.write(f"seed {report['seed']}")
        for reason, per_diagnosis in report.get("excluded_counts", {}).items():
            listed = ", ".join(f"{code} {n}" for code, n in per_diagnosis.items())
            self.stdout.write(f"excluded, {reason}: {listed}")
        for warning in report.get("warnings", []):
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))


class _ProgressBar:
    """tqdm fed by study_import's progress callback while it processes the images."""

    def __init__(self, *, disable: bool, stream: object) -> None:
        self.disable = disable
        self.stream = stream
        self.bar: tqdm | None = None
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.disable or phase != "processing images":
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            if total:
                self.bar = tqdm(total=total, desc=phase, unit="img", file=self.stream)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
