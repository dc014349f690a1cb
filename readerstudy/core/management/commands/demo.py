from __future__ import annotations

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.core.demo import (
    DemoProcesses,
    demo_accounts_ensure,
    demo_logins_path,
    demo_web_start,
    demo_worker_start,
    wait_for_http,
)
from readerstudy.core.services import worker_ping


class Command(BaseCommand):
    help = (
        "Run the demo: accounts for every role, a Celery worker on the embedded broker and "
        "the web server. Safe to run again; --reset starts over."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--readers", type=int, default=3, help="reader accounts to create (default 3)"
        )
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on")
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="prepare everything, then exit instead of serving",
        )

    def handle(self, *args: object, **options: object) -> None:
        readers = int(options["readers"])  # type: ignore[call-overload]
        if readers < 1:
            raise CommandError("--readers must be at least 1")
        call_command("migrate", interactive=False, verbosity=0)
        logins = demo_accounts_ensure(readers=readers)
        if options["no_serve"]:
            self._print_logins(logins, url=None)
            return

        processes = DemoProcesses()
        try:
            self.stdout.write("Starting a Celery worker on the embedded broker ...")
            processes.worker = demo_worker_start()
            if worker_ping(timeout=120) is None:
                raise CommandError(
                    "the worker did not answer within 120 s; see "
                    f"{settings.VAR_DIR / 'log' / 'worker.log'}"
                )
            host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
            url = f"http://{host}:{port}/"
            processes.web = demo_web_start(host=host, port=port)
            if not wait_for_http(url + "healthz"):
                raise CommandError(
                    f"the web server did not answer at {url}; see "
                    f"{settings.VAR_DIR / 'log' / 'web.log'}"
                )
            self._print_logins(logins, url=url)
            self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
            while all(p.poll() is None for p in (processes.web, processes.worker) if p):
                time.sleep(1)
            raise CommandError("a demo process exited; see the logs in var/log/")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        finally:
            processes.stop()

    def _print_logins(self, logins: list, *, url: str | None) -> None:
        if url:
            self.stdout.write(self.style.SUCCESS(f"\nreaderstudy is running at {url}"))
        self.stdout.write(f"Logins (also in {demo_logins_path()}):")
        for login in logins:
            self.stdout.write(f"  {login.role.value:<12} {login.username:<14} {login.password}")
