"""Grad-CAM saliency maps: where in the image the CNN found the evidence for a class.

Grad-CAM (Selvaraju et al., ICCV 2017) weights each channel k of the last convolutional
feature map A by the spatial mean of the gradient of the class score y with respect to it,
alpha_k = mean_ij dy/dA_kij, and keeps the positive part of sum_k alpha_k A_k. Here the score
is the log of the class's probability as the predictor reports it (the softmax mass of its
outputs summed, as the taxonomy sums training classes), so the map shows what speaks for the
class against the others. For an ensemble the members' maps are added. The map is upsampled to
the network input, put back where the eval preset's centre crop came from (inside the
dermatoscope's frame, when the checkpoint's preprocessing crops it), and scaled to [0, 1] at
the image's own size.

Targets: a training class (``"mel"``), a task name (its positive classes together:
``"melanoma-vs-nevus"`` -> mel; ``"carcinoma-vs-keratosis"`` -> bcc + akiec), a sequence of
diagnoses (a custom task's positive side, mapped to training classes as the taxonomy maps
them), or None for the class the model rates highest.

    python -m classifier.explain [--checkpoint PATH] IMAGE --out PNG [--target mel]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from classifier import DEFAULT_CHECKPOINT
from classifier.architectures import cam_layer, members
from classifier.clinical import ClinicalInfo
from classifier.data import load_image
from classifier.imaging import fit_to_source, preprocess
from classifier.predictor import Predictor
from classifier.taxonomy import TaxonomyError, load_taxonomy


def target_classes(
    predictor: Predictor, target: str | Sequence[str] | None, probabilities: np.ndarray
) -> list[str]:
    """The training classes a target names (see the module docstring)."""
    names = predictor.config.class_names
    if target is None:
        return [names[int(np.argmax(probabilities))]]
    if not isinstance(target, str):  # a task's positive diagnoses (a custom task's own)
        indices = load_taxonomy().class_indices(frozenset(target))
        if not indices:
            raise ValueError(f"the diagnoses {sorted(target)} name no training class")
        return [names[i] for i in indices]
    if target in names:
        return [target]
    taxonomy = load_taxonomy()
    try:
        task = taxonomy.task(target)
    except TaxonomyError:
        raise ValueError(
            f"unknown target {target!r}: use a training class ({', '.join(names)}) or a task"
        ) from None
    return [names[i] for i in taxonomy.class_indices(task.positive)]


def grad_cam(
    predictor: Predictor,
    image: Image.Image,
    target: str | Sequence[str] | None = None,
    *,
    metadata: ClinicalInfo | None = None,
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of ``target`` for one image: float32 (H, W) in [0, 1]
    at the image's own size (zero outside the region the eval preset crops).

    For a model that weighs the patient's details the score is the probability it reports
    with ``metadata`` (unknown details when None): the details move every class's score by a
    constant of the image, so the map still shows the image's evidence, and the top class is
    the one the model answers."""
    image = image.convert("RGB")
    network = predictor.network
    x = (
        predictor.transform(image)[None]
        .to(predictor.device)
        .contiguous(memory_format=torch.channels_last)
    )
    activations: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        output.retain_grad()
        activations.append(output)

    handles = [cam_layer(member).register_forward_hook(keep) for member in members(network)]
    try:
        with torch.enable_grad():
            logits = network(x)
            outputs = torch.softmax(logits.float(), dim=1)
            fine = outputs @ predictor.output_matrix
            head = predictor.config.metadata
            if head is not None:
                shift = torch.as_tensor(
                    head.shift([metadata or ClinicalInfo()]), dtype=fine.dtype, device=fine.device
                )
                fine = torch.softmax(head.evidence * torch.log(fine.clamp_min(1e-7)) + shift, 1)
            wanted = target_classes(predictor, target, fine[0].detach().cpu().numpy())
            index = [predictor.config.class_names.index(c) for c in wanted]
            score = torch.log(fine[0, index].sum().clamp_min(1e-12))
            network.zero_grad(set_to_none=True)
            score.backward()
    finally:
        for handle in handles:
            handle.remove()
    height, width = predictor.config.input_size
    cam = torch.zeros(height, width, device=x.device)
    for activation in activations:
        if activation.grad is None:
            continue
        weights = activation.grad.mean(dim=(2, 3), keepdim=True)
        member_cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
        cam += F.interpolate(
            member_cam, size=(height, width), mode="bilinear", align_corners=False
        )[0, 0]
    left, top, right, bottom = _content_box(predictor, image)
    inside = _to_image_frame(
        cam.detach().cpu().numpy(),
        (right - left, bottom - top),
        predictor.config.input_size,
        stretched=predictor.resize == "stretch",
    )
    if (left, top, right, bottom) == (0, 0, image.width, image.height):
        return inside
    full = np.zeros((image.height, image.width), dtype=np.float32)
    full[top:bottom, left:right] = inside
    return full


def _content_box(predictor: Predictor, image: Image.Image) -> tuple[int, int, int, int]:
    """The part of the image the eval preset keeps before its resize, in the image's pixels:
    all of it, unless the checkpoint's preprocessing crops a dermatoscope's frame."""
    config = predictor.config
    if "crop_border" not in config.preprocess:
        return (0, 0, image.width, image.height)
    fitted = fit_to_source(image, config.source_size)
    kept, (left, top) = preprocess(fitted, config.preprocess)
    scale_x, scale_y = image.width / fitted.width, image.height / fitted.height
    return (
        round(left * scale_x),
        round(top * scale_y),
        min(image.width, round((left + kept.width) * scale_x)),
        min(image.height, round((top + kept.height) * scale_y)),
    )


def _to_image_frame(
    cam: np.ndarray,
    image_size: tuple[int, int],
    input_size: tuple[int, int],
    *,
    stretched: bool = False,
) -> np.ndarray:
    """Undo the eval preset's cover-resize + centre crop (or a stretch over the whole image,
    for a model described so): the map at the image's size."""
    image_w, image_h = image_size
    height, width = input_size
    scale = max(height / image_h, width / image_w)
    crop_w, crop_h = width / scale, height / scale  # the crop, in image pixels
    if stretched:
        crop_w, crop_h = float(image_w), float(image_h)
    left, top = (image_w - crop_w) / 2, (image_h - crop_h) / 2
    box = (
        max(0, round(left)),
        max(0, round(top)),
        min(image_w, round(left + crop_w)),
        min(image_h, round(top + crop_h)),
    )
    full = np.zeros((image_h, image_w), dtype=np.float32)
    region = Image.fromarray(cam.astype(np.float32), mode="F").resize(
        (box[2] - box[0], box[3] - box[1]), Image.Resampling.BILINEAR
    )
    full[box[1] : box[3], box[0] : box[2]] = np.asarray(region, dtype=np.float32)
    full = np.clip(full, 0.0, None)
    peak = float(full.max())
    return full / peak if peak > 0 else full


def _colormap(values: np.ndarray) -> np.ndarray:
    """Jet-like colours for values in [0, 1] (blue -> cyan -> yellow -> red), uint8 RGB."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25])  # red, green, blue peaks
    rgb = np.clip(1.5 - np.abs(4.0 * (v - centres)), 0.0, 1.0)
    return (rgb * 255).astype(np.uint8)


def overlay(image: Image.Image, cam: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The heatmap of ``cam`` (H x W in [0, 1], the image's size) blended over the image;
    weak evidence stays transparent so the lesion shows through."""
    image = image.convert("RGB")
    if cam.shape != (image.height, image.width):
        raise ValueError(f"map of shape {cam.shape} for an image of {image.width}x{image.height}")
    base = np.asarray(image, dtype=np.float32)
    heat = _colormap(cam).astype(np.float32)
    weight = (alpha * np.sqrt(np.clip(cam, 0.0, 1.0)))[..., None]
    blended = base * (1 - weight) + heat * weight
    return Image.fromarray(blended.round().astype(np.uint8))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m classifier.explain", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("image", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="PNG of the heatmap over the image")
    parser.add_argument(
        "--target", default=None, help="training class or task (default: top class)"
    )
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    predictor = Predictor.from_checkpoint(
        args.checkpoint or DEFAULT_CHECKPOINT, device=args.device, precision="fp32"
    )
    image = load_image(args.image)
    cam = grad_cam(predictor, image, args.target)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    overlay(image, cam).save(args.out)
    # A model that weighs the patient's details gets none here: it answers for an unknown
    # patient.
    unknown = [ClinicalInfo()] if predictor.uses_metadata else None
    probabilities = predictor.predict_images([image], metadata=unknown).fine[0]
    top = ", ".join(
        f"{name} {p:.3f}"
        for name, p in sorted(
            zip(predictor.config.class_names, probabilities, strict=True), key=lambda t: -t[1]
        )[:3]
    )
    print(f"{args.image.name}: {top}; Grad-CAM of {args.target or 'the top class'} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
