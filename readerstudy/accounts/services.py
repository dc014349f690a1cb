"""Writes on user accounts: creating users with roles and issuing API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from readerstudy.accounts.roles import Role


def initial_password_generate() -> str:
    """A random password for a new account, printed once to whoever created it."""
    return secrets.token_urlsafe(12)


@transaction.atomic
def user_create(
    *,
    username: str,
    roles: Iterable[Role],
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> tuple[User, str | None]:
    """Create an active user holding ``roles``.

    ``password=None`` generates a random initial password, returned so the caller can show it
    once; ``password=""`` makes an account that can log in only after its owner follows a
    one-time set-password link. Returns the user and the generated password (or None).
    """
    generated = None
    if password is None:
        password = generated = initial_password_generate()
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
    return user, generated


def user_roles_add(*, user: User, roles: Iterable[Role]) -> None:
    user.groups.add(*Group.objects.filter(name__in=[Role(r).value for r in roles]))


def api_token_regenerate(*, user: User) -> Token:
    """Replace the user's API token: the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def password_set_path(user: User) -> str:
    """The path of a one-time link at which ``user`` chooses a password.

    Django's password-reset token: it stops working once the password is set (the token
    covers the password hash and last login) and after PASSWORD_RESET_TIMEOUT (3 days).
    """
    return reverse(
        "accounts:password_set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
