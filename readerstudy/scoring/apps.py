from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "readerstudy.scoring"
    label = "scoring"
    verbose_name = "CNN scoring"
