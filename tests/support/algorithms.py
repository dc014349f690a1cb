"""Algorithms brought from elsewhere, made for real in the tests: a small timm network saved
as a state_dict and exported to ONNX with torch.onnx, an NHWC/BGR graph built with onnx,
their JSON descriptions, and score files for import_scores."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

TIMM_ARCH = "test_efficientnet"  # timm's 100k-parameter test network (nothing downloaded)
INPUT_SIZE = (96, 128)


def description(**changes: Any) -> dict[str, Any]:
    """A description of the three-class test network (melanoma, nevus, other)."""
    data: dict[str, Any] = {
        "name": "Bring-your-own test network",
        "input_size": list(INPUT_SIZE),
        "layout": "NCHW",
        "channel_order": "RGB",
        "resize": "cover",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "class_names": ["melanoma", "nevus", "other"],
        "outputs": "logits",
        "taxonomy_mapping": {"melanoma": "mel", "nevus": "nv", "other": None},
        "metrics": {"auc_melanoma_vs_nevus": 0.9},
        "notes": "made by tests/support/algorithms.py",
    }
    data.update(changes)
    return data


def write_json(data: Mapping[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def timm_network(seed: int = 0) -> torch.nn.Module:
    """A randomly initialised timm test network whose outputs differ between images (its
    head is scaled up so the probabilities are not all near 1/3)."""
    import timm

    torch.manual_seed(seed)
    network = timm.create_model(TIMM_ARCH, pretrained=False, num_classes=3).eval()
    with torch.no_grad():
        network.get_classifier().weight.mul_(40.0)
    return network


def save_state_dict(network: torch.nn.Module, path: Path) -> Path:
    torch.save(network.state_dict(), path)
    return path


def export_onnx(network: torch.nn.Module, path: Path, *, input_size=INPUT_SIZE) -> Path:
    """The network as an ONNX file with a dynamic batch axis (torch.onnx, TorchScript path)."""
    example = torch.zeros(2, 3, *input_size)
    with warnings.catch_warnings():  # the TorchScript exporter needs no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            network,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    return path


def nhwc_probability_graph(
    path: Path, weights: np.ndarray, *, input_size=INPUT_SIZE, final: str | None = "Softmax"
) -> Path:
    """An ONNX graph built with onnx.helper that takes NHWC input and gives
    final(mean over pixels of each channel @ weights), weights of shape (3, n_outputs);
    ``final`` is Softmax, Sigmoid or None (the logits themselves)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height, width = input_size
    last = (
        [
            helper.make_node(
                final, ["logits"], ["probabilities"], **({"axis": 1} if final == "Softmax" else {})
            )
        ]
        if final
        else [helper.make_node("Identity", ["logits"], ["probabilities"])]
    )
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image", "axes"], ["pooled"], keepdims=0),
            helper.make_node("MatMul", ["pooled", "weights"], ["logits"]),
            *last,
        ],
        "nhwc_test",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", height, width, 3])],
        [
            helper.make_tensor_value_info(
                "probabilities", TensorProto.FLOAT, ["N", weights.shape[1]]
            )
        ],
        initializer=[
            numpy_helper.from_array(np.asarray([1, 2], dtype=np.int64), "axes"),
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_scores(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(header))
        writer.writerows([list(row) for row in rows])
    return path
