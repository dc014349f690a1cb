from django.apps import AppConfig


class ReadingConfig(AppConfig):
    name = "readerstudy.reading"
    label = "reading"
    verbose_name = "Grading by readers"
