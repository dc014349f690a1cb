"""Skin-lesion CNNs for the reader studies: train, evaluate, predict, explain.

PyTorch only; never imports Django (nor any of the web app but the pure statistics in
``readerstudy.stats``). Importing this package loads nothing heavy: the modules
(``classifier.predictor``, ``classifier.train``, ...) import torch when they are used.

``classifier.architectures`` is the model factory (``build_model(arch, num_classes)``);
``classifier/models/`` is a data folder, not a module: the shipped checkpoint and its split.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).with_name("models")
# The shipped dermoscopy model (see classifier/MODEL_CARD.md) and the split it was trained on:
# a CSV lesion_id,image_id,dx,dx_type,split with split in train|val|test.
DEFAULT_CHECKPOINT: Path = MODELS_DIR / "default.pt"
DEFAULT_SPLIT: Path = MODELS_DIR / "split.csv"
# The same network with a head that also weighs the patient's age and sex (classifier.metadata):
# for studies that show readers the clinical information too.
METADATA_CHECKPOINT: Path = MODELS_DIR / "default-metadata.pt"

__all__ = ["DEFAULT_CHECKPOINT", "DEFAULT_SPLIT", "METADATA_CHECKPOINT", "MODELS_DIR"]
