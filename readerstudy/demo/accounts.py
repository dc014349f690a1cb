"""The demo's accounts: a coordinator, an analyst and readers, with generated passwords.

Idempotent: a second run finds the accounts and reuses their passwords, which the first run
generated and saved in ``var/demo-logins.json`` (readable by the owner only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User

from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import initial_password_generate, user_create, user_roles_add


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role


def demo_logins_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.json"


def demo_accounts_ensure(*, readers: int) -> list[DemoLogin]:
    """Create (or find) a coordinator, an analyst and ``readers`` reader accounts."""
    path = demo_logins_path()
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [("coordinator", Role.COORDINATOR), ("analyst", Role.ANALYST)] + [
        (f"reader{n}", Role.READER) for n in range(1, readers + 1)
    ]
    logins = []
    for username, role in wanted:
        password = saved.get(username) or initial_password_generate()
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(username=username, roles=[role], password=password)
        elif username not in saved or not user.check_password(password):
            # An account from an earlier demo whose password file was lost: reset it once.
            user.set_password(password)
            user.save(update_fields=["password"])
            user_roles_add(user=user, roles=[role])
        saved[username] = password
        logins.append(DemoLogin(username=username, password=password, role=role))
    path.write_text(json.dumps(saved, indent=2))
    path.chmod(0o600)
    return logins
