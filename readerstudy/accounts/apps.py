from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_role_groups(sender: AppConfig, **kwargs: object) -> None:
    from django.contrib.auth.models import Group

    from readerstudy.accounts.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


class AccountsConfig(AppConfig):
    name = "readerstudy.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # The roles migration creates the groups; this keeps them after a database flush
        # (Django's transactional tests flush every table and then send post_migrate).
        # Django sends post_migrate only for apps with models: hook on auth, which owns Group.
        from django.apps import apps

        post_migrate.connect(_ensure_role_groups, sender=apps.get_app_config("auth"))
