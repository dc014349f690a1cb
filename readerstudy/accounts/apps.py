from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate

from readerstudy.accounts.roles import Role


def _ensure_role_groups(sender: AppConfig, apps: Apps = global_apps, **kwargs: object) -> None:
    # The models as post_migrate hands them (the migrated state, or the live registry after a
    # flush), so that this module imports no model before the registry is ready.
    group = apps.get_model("auth", "Group")
    for role in Role:
        group.objects.get_or_create(name=role.value)


class AccountsConfig(AppConfig):
    name = "readerstudy.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # The roles migration creates the groups; this keeps them after a database flush
        # (Django's transactional tests flush every table and then send post_migrate).
        # Django sends post_migrate only for apps with models: hook on auth, which owns Group.
        post_migrate.connect(_ensure_role_groups, sender=global_apps.get_app_config("auth"))
