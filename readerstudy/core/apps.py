from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "readerstudy.core"
    label = "core"
    verbose_name = "Platform"

    def ready(self) -> None:
        from readerstudy.core import checks  # noqa: F401  (registers the deploy checks)
