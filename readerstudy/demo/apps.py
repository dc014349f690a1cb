from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo installation (``python manage.py demo``): the top layer, which may use every
    other app; nothing imports it."""

    name = "readerstudy.demo"
    label = "demo"
    verbose_name = "Demo"
