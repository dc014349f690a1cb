from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "readerstudy.studies"
    label = "studies"
    verbose_name = "Studies and image sets"
