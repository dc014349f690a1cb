from django.http import HttpRequest

from readerstudy.accounts.roles import Role, user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    """Which role menus the page header shows."""
    held = user_roles(request.user)
    return {
        "is_coordinator": Role.COORDINATOR in held,
        "is_reader": Role.READER in held,
        "is_analyst": Role.ANALYST in held,
    }
