"""``manage.py create_user``: the documented way to make the first coordinator and analyst."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from readerstudy.accounts.cli import set_password_link_arguments
from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import password_set_path, user_create

ROLES = {role.name.lower(): role for role in Role}


class Command(BaseCommand):
    help = (
        "Create an account holding a role (coordinator, analyst or reader). Its initial "
        "password, or with --link a one-time set-password link, is printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            choices=sorted(ROLES),
            required=True,
            help="the account's role; repeat for several",
        )
        parser.add_argument("--email", default="", help="the account's e-mail address")
        set_password_link_arguments(parser, who="the new account should")

    def handle(self, *args: object, **options: object) -> None:
        username = str(options["username"]).strip()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        names = cast(list[str], options["role"])  # argparse's append: one or more names
        roles = [ROLES[name] for name in dict.fromkeys(names)]
        try:
            user, password = user_create(
                username=username,
                roles=roles,
                email=str(options["email"]),
                password="" if options["link"] else None,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        role_names = ", ".join(role.name.lower() for role in roles)
        self.stdout.write(self.style.SUCCESS(f"created {user.username} ({role_names})"))
        if password:
            self.stdout.write(f"initial password: {password}")
        else:
            base = str(options["base_url"]).rstrip("/")
            self.stdout.write(f"set-password link: {base}{password_set_path(user)}")
