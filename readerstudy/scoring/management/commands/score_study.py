import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from readerstudy.core.services import worker_ping
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import model_version_active_get, study_scoring_progress_get
from readerstudy.scoring.services import study_scoring_enqueue
from readerstudy.studies.models import Study


class Command(BaseCommand):
    help = "Send a study's unscored cases to the CNN scoring workers (optionally wait)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", type=int, help="study id")
        parser.add_argument("--model", type=int, help="model version id (default: the active)")
        parser.add_argument("--wait", action="store_true", help="show progress until done")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="with --wait: give up after this many s"
        )
        parser.add_argument(
            "--ping-timeout",
            type=float,
            default=15,
            help="with --wait: seconds a worker on the scoring queue has to answer first",
        )

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with id {options['study']}")
        if options["model"]:
            model_version = ModelVersion.objects.filter(pk=options["model"]).first()
            if model_version is None:
                raise CommandError(f"no model version with id {options['model']}")
        else:
            model_version = model_version_active_get(study.task)
            if model_version is None:
                raise CommandError(
                    f"no model is active for task {study.task!r}; "
                    "register one with `manage.py register_model PATH --activate`"
                )
        try:
            run = study_scoring_enqueue(study=study, model_version=model_version, reason="command")
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"study {study.pk}: {run.n_cases if run else 0} cases sent to {model_version}"
        )
        if not options["wait"]:
            return
        # Waiting makes sense only if a worker is there to score: say so now, not in an hour.
        queue = settings.READERSTUDY_SCORING_QUEUE
        ping_timeout = float(options["ping_timeout"])  # type: ignore[arg-type]
        if worker_ping(queue=queue, timeout=ping_timeout) is None:
            raise CommandError(
                f"no worker answered on the scoring queue {queue!r} within {ping_timeout:g} s; "
                "the cases stay queued and are scored once one runs: "
                f"celery -A readerstudy.celery worker --queues {queue}"
            )
        progress = study_scoring_progress_get(study, model_version)
        deadline = time.monotonic() + float(options["timeout"])  # type: ignore[arg-type]
        with tqdm(total=progress.total, unit="case", desc="scoring") as bar:
            while True:
                progress = study_scoring_progress_get(study, model_version)
                bar.n = progress.scored + progress.failed
                bar.set_postfix(failed=progress.failed)
                bar.refresh()
                if progress.done:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"timed out with {progress.pending} cases unscored; is a worker "
                        "running on the scoring queue?"
                    )
                time.sleep(0.5)
        self.stdout.write(f"scored {progress.scored} of {progress.total}, failed {progress.failed}")
        if progress.failed:
            for failure in progress.failures:
                self.stdout.write(
                    f"  FAILED {failure['source_id'] or failure['case']}: {failure['error']}"
                )
