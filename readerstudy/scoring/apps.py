from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "readerstudy.scoring"
    label = "scoring"
    verbose_name = "CNN scoring"

    def ready(self) -> None:
        # The studies' confound audit reads the CNN's scores through this provider: studies
        # sits below scoring and cannot import it. (Imported here: models load after apps.py.)
        from readerstudy.scoring.selectors import study_cnn_probabilities
        from readerstudy.studies.confounds import cnn_probabilities_provider_set

        cnn_probabilities_provider_set(study_cnn_probabilities)
