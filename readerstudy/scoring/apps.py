from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _register_default_model(sender: AppConfig, **kwargs: object) -> None:
    from readerstudy.scoring.registration import model_version_register_default

    model_version_register_default()


class ScoringConfig(AppConfig):
    name = "readerstudy.scoring"
    label = "scoring"
    verbose_name = "CNN scoring"

    def ready(self) -> None:
        # The shipped model is registered (and scores every task without a model of its own)
        # as soon as the database is migrated, so a fresh installation can score at once.
        post_migrate.connect(_register_default_model, sender=self)
        # The studies' confound audit reads the CNN's scores through this provider: studies
        # sits below scoring and cannot import it. (Imported here: models load after apps.py.)
        from readerstudy.scoring.selectors import study_cnn_probabilities
        from readerstudy.studies.confounds import cnn_probabilities_provider_set

        cnn_probabilities_provider_set(study_cnn_probabilities)
