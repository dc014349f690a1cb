"""``manage.py register_shipped_model``: the step after ``migrate`` on every installation."""

from django.core.management.base import BaseCommand

from readerstudy.scoring.registration import model_version_register_shipped


class Command(BaseCommand):
    help = (
        "Register the shipped model (classifier/models/default.pt) and make it score every task "
        "that has no model of its own. Run it after migrate; running it again changes nothing."
    )

    def handle(self, *args: object, **options: object) -> None:
        model_version = model_version_register_shipped()
        if model_version is None:
            self.stderr.write("The shipped model's checkpoint is missing: no model registered.")
            return
        self.stdout.write(f"Shipped model: {model_version} (sha256 {model_version.sha256}).")
