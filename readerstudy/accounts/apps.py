from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_migrate, post_save, pre_delete

from readerstudy.accounts.roles import Role, roles_forget


def _ensure_role_groups(sender: AppConfig, apps: Apps = global_apps, **kwargs: object) -> None:
    # The models as post_migrate hands them (the migrated state, or the live registry after a
    # flush), so that this module imports no model before the registry is ready.
    group = apps.get_model("auth", "Group")
    for role in Role:
        group.objects.get_or_create(name=role.value)


# Roles are group memberships, and the admin changes them without any service of ours: these
# handlers keep the roles cache (roles.roles_forget) true to every way a membership changes.
def _memberships_changed(
    sender: object, instance: Any, action: str, reverse: bool, pk_set: set[Any] | None,
    **kwargs: object,
) -> None:  # fmt: skip
    if not reverse:  # a user's groups changed
        if action in ("post_add", "post_remove", "post_clear"):
            instance.__dict__.pop("_readerstudy_roles", None)
            roles_forget([instance.pk])
    elif action in ("post_add", "post_remove"):  # a group's users changed
        roles_forget(pk_set or ())
    elif action == "pre_clear":
        _group_members_forget(instance)


def _group_members_forget(group: Any) -> None:
    roles_forget(group.user_set.values_list("pk", flat=True))


def _group_saved(sender: object, instance: Any, created: bool, **kwargs: object) -> None:
    if not created:  # perhaps renamed: its members may have gained or lost a role
        _group_members_forget(instance)


def _group_deleted(sender: object, instance: Any, **kwargs: object) -> None:
    # Its memberships go with it, without an m2m signal.
    _group_members_forget(instance)


class AccountsConfig(AppConfig):
    name = "readerstudy.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # The roles migration creates the groups; this keeps them after a database flush
        # (Django's transactional tests flush every table and then send post_migrate).
        # Django sends post_migrate only for apps with models: hook on auth, which owns Group.
        post_migrate.connect(_ensure_role_groups, sender=global_apps.get_app_config("auth"))
        group = global_apps.get_model("auth", "Group")
        m2m_changed.connect(
            _memberships_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="readerstudy-roles-memberships",
        )
        post_save.connect(_group_saved, sender=group, dispatch_uid="readerstudy-roles-group")
        pre_delete.connect(
            _group_deleted, sender=group, dispatch_uid="readerstudy-roles-group-gone"
        )
