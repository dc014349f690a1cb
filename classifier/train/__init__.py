"""Fine-tuning a CNN on HAM10000: ``python -m classifier.train`` (options and recipe in
``cli``).

- ``config``: ``TrainConfig``, the settings of a run (typed, with the recipe's defaults)
- ``cli``: the command line, which builds a TrainConfig and runs a Trainer
- ``trainer``: ``Trainer``, one run: epochs, resumable state, the checkpoint it writes
- ``dataset``: training labels, the lesion-level split, the augmented images of an epoch
- ``recipe``: seeding, learning-rate schedule, AdamW groups, frozen stages, weight EMA
- ``metrics``: per-task AUCs, epoch selection, validation thresholds
"""

from classifier.train.cli import main
from classifier.train.config import TrainConfig
from classifier.train.trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "main"]
