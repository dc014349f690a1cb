from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from classifier.taxonomy import load_taxonomy
from readerstudy.core.services import worker_ping
from readerstudy.demo.accounts import demo_accounts_ensure, demo_logins_path
from readerstudy.demo.processes import (
    ProgressLines,
    demo_processes_stopped_on_exit,
    demo_web_start,
    demo_worker_start,
    wait_for_http,
)
from readerstudy.demo.study import (
    DEMO_AUTOMATION_BIAS,
    DEMO_DESIGNS,
    DEMO_FAULTY_AI_PERCENT,
    DemoDataMissing,
    demo_data_locate,
    demo_panel_ensure,
    demo_readers_enrol,
    demo_reset,
    demo_study_create,
    demo_study_get,
    demo_study_open,
)
from readerstudy.scoring.selectors import study_scoring_progress_get
from readerstudy.scoring.services import study_scoring_enqueue
from readerstudy.studies.design import MANAGEMENT
from readerstudy.studies.ingest.selection import sample_parse


class Command(BaseCommand):
    help = (
        "Run the demo study: accounts for every role, a melanoma-vs-nevus study of "
        "biopsy-proven images scored by the shipped CNN through a worker, a simulated "
        "reader panel, and the web server. Safe to run again; --reset starts over."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data",
            type=Path,
            default=None,
            help="folder with ham10000/ (default: ../shared/data)",
        )
        parser.add_argument(
            "--readers", type=int, default=3, help="reader accounts for people (default 3)"
        )
        parser.add_argument(
            "--simulated",
            type=int,
            default=20,
            help="simulated readers in the panel (default 20; 0 for none)",
        )
        parser.add_argument(
            "--sample",
            default=None,
            help="held-out HAM10000 cases per diagnosis (default mel=80,nv=120; for the "
            "diagnosis designs akiec=20,bcc=25,bkl=30,df=4,mel=40,nv=60,vasc=5)",
        )
        parser.add_argument(
            "--design",
            choices=list(DEMO_DESIGNS),
            default=MANAGEMENT,
            help="what the readers answer: management (default: the melanoma-vs-nevus "
            "study), diagnosis (the seven HAM10000 classes of 184 held-out lesions), "
            "diagnosis_management (both), or aided (the melanoma-vs-nevus study read "
            "sequentially, unaided and then with the CNN, with a "
            f"{DEMO_FAULTY_AI_PERCENT}%% faulty-AI check and a simulated panel whose aided "
            f"answers lean on the CNN with automation bias {DEMO_AUTOMATION_BIAS}); each "
            "design is its own demo study",
        )
        parser.add_argument(
            "--acknowledge-confounds",
            action="store_true",
            help="open the study even where its confound audit warns (recorded as the "
            "coordinator's acknowledgement); without it such warnings stop the demo",
        )
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo study and accounts first"
        )
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on")
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="build and score the study, then stop instead of serving",
        )

    def handle(self, *args: object, **options: object) -> None:
        readers = int(options["readers"])  # type: ignore[call-overload]
        if readers < 1:
            raise CommandError("--readers must be at least 1")
        folder = Path(options["data"] or settings.SHARED_DATA_DIR)  # type: ignore[arg-type]
        try:
            data = demo_data_locate(folder)
        except DemoDataMissing as error:
            raise CommandError(f"the demo data is not there.\n{error}") from None
        sample = None
        if options["sample"]:
            try:
                sample = sample_parse(str(options["sample"]), taxonomy=load_taxonomy())
            except ValueError as error:
                raise CommandError(f"--sample: {error}") from None
        began = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("register_shipped_model", verbosity=0)
        if options["reset"]:
            demo_reset()
            self.stdout.write("Removed the demo study and accounts.")
        logins = demo_accounts_ensure(readers=readers)
        coordinator = User.objects.get(username="coordinator")

        # Ctrl-C, a plain kill or a closed terminal stops the worker and the web server with
        # the demo, however many signals arrive (demo_processes_stopped_on_exit).
        try:
            with demo_processes_stopped_on_exit() as processes:
                self.stdout.write("Starting a Celery worker on the embedded broker ...")
                demo_worker_start(processes)
                if worker_ping(timeout=180) is None:
                    raise CommandError(
                        f"the worker did not answer; see {settings.VAR_DIR / 'log' / 'worker.log'}"
                    )
                design = str(options["design"])
                study = demo_study_get(design)
                if study is None:
                    self.stdout.write("Importing the demo images ...")
                    study = demo_study_create(
                        coordinator=coordinator,
                        data=data,
                        sample=sample,
                        design=design,
                        progress=ProgressLines(self.stdout.write, unit="image"),
                    )
                # Scored before it opens, so that the confound audit sees the CNN's scores.
                self._score(study)
                self._open(study, coordinator, acknowledge=bool(options["acknowledge_confounds"]))
                demo_readers_enrol(study=study, logins=logins, coordinator=coordinator)
                added = demo_panel_ensure(
                    study=study,
                    n_readers=int(options["simulated"]),  # type: ignore[call-overload]
                    coordinator=coordinator,
                )
                if added:
                    self.stdout.write(f"Added {added} simulated readers (labelled simulated).")
                self.stdout.write(f"Demo study ready in {time.monotonic() - began:.0f} s.")
                if options["no_serve"]:
                    self._print_logins(logins, url=None, study=study)
                    return
                host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
                url = f"http://{host}:{port}/"
                demo_web_start(processes, host=host, port=port)
                if not wait_for_http(url + "healthz"):
                    raise CommandError(
                        f"the web server did not answer at {url}; see "
                        f"{settings.VAR_DIR / 'log' / 'web.log'}"
                    )
                self._print_logins(logins, url=url, study=study)
                self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
                while all(p.poll() is None for p in processes.started):
                    time.sleep(1)
                raise CommandError("a demo process exited; see the logs in var/log/")
        except KeyboardInterrupt:
            self.stdout.write("\nStopped the web server and the worker.")

    def _open(self, study, coordinator: User, *, acknowledge: bool) -> None:
        try:
            demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=acknowledge)
        except ValidationError as error:
            raise CommandError(
                " ".join(error.messages) + " (the audit is on the study's page; "
                "--acknowledge-confounds opens it all the same)"
            ) from None

    def _score(self, study) -> None:
        progress = study_scoring_progress_get(study)
        if progress.model_version is None:
            raise CommandError("no CNN model is registered: is classifier/models/default.pt there?")
        if progress.done:
            return
        study_scoring_enqueue(study=study, reason="demo")
        deadline = time.monotonic() + 900
        self.stdout.write("Scoring the cases with the CNN ...")
        report = ProgressLines(self.stdout.write, unit="case")
        while not progress.done:
            if time.monotonic() > deadline:
                raise CommandError("scoring did not finish in 15 minutes; see var/log/")
            time.sleep(0.5)
            progress = study_scoring_progress_get(study)
            report("CNN scoring", progress.scored + progress.failed, progress.total)
        if progress.failed:
            self.stdout.write(self.style.WARNING(f"{progress.failed} cases failed to score"))

    def _print_logins(self, logins: list, *, url: str | None, study) -> None:
        if url:
            self.stdout.write(self.style.SUCCESS(f"\nreaderstudy is running at {url}"))
            self.stdout.write(f"  study:    {url}studies/{study.pk}/")
            self.stdout.write(f"  grading:  {url}reading/")
            self.stdout.write(f"  analysis: {url}analysis/studies/{study.pk}/")
            if study.aided:
                self.stdout.write(f"  with AI:  {url}analysis/studies/{study.pk}/aided/")
        self.stdout.write(f"Logins (also in {demo_logins_path()}):")
        for login in logins:
            self.stdout.write(f"  {login.role.value:<12} {login.username:<14} {login.password}")
