"""``manage.py enrol_readers``: enrol readers in a study, creating their accounts if asked."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.accounts.cli import set_password_link_arguments
from readerstudy.studies.models import Study
from readerstudy.studies.services import readers_enrol


class Command(BaseCommand):
    help = (
        "Enrol readers in a study by username. With --create, missing accounts are created "
        "as readers and their initial password (or, with --link, a one-time set-password "
        "link) is printed once. All or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", type=int, required=True, help="the study's id")
        parser.add_argument("--readers", required=True, help="usernames, e.g. alice,bob")
        parser.add_argument(
            "--create", action="store_true", help="create accounts that do not exist"
        )
        set_password_link_arguments(parser, who="new accounts")

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"no study {options['study']}")
        try:
            outcomes = readers_enrol(
                study=study,
                usernames=str(options["readers"]).split(","),
                enrolled_by=None,
                create=bool(options["create"]),
                credentials="link" if options["link"] else "password",
            )
        except ValidationError as error:
            unknown = any("no such user" in message for message in error.messages)
            hint = " (--create creates missing accounts)" if unknown else ""
            raise CommandError("; ".join(error.messages) + hint) from None
        base = str(options["base_url"]).rstrip("/")
        for outcome in outcomes:
            enrolment = outcome.enrolment
            line = f"{enrolment.pseudonym}  {enrolment.reader.username}"
            if outcome.already_enrolled:
                line += "  (already enrolled)"
            if outcome.initial_password:
                line += f"  initial password: {outcome.initial_password}"
            if outcome.set_password_path:
                line += f"  set-password link: {base}{outcome.set_password_path}"
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{len(outcomes)} reader(s) enrolled in {study}"))
