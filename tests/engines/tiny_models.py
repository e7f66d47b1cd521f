"""Tiny randomly initialised models built from the official classes (plumbing and speed only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazeseg.core.types import PromptSet

PROMPTS = {
    "point": PromptSet(points_xy=np.array([[140.0, 200.0]]), labels=np.array([1])),
    "points": PromptSet(points_xy=np.array([[140.0, 200.0], [20.0, 20.0], [200.0, 300.0]]), labels=np.array([1, 0, 1])),
    "box": PromptSet(box_xyxy=np.array([20.0, 30.0, 250.0, 380.0])),
    "box+point": PromptSet(points_xy=np.array([[140.0, 200.0]]), labels=np.array([0]), box_xyxy=np.array([20.0, 30.0, 250.0, 380.0])),
}
"""Every kind of prompt the decoders take, on the 'teddy' GrabCut image (engine-equality tests)."""


def save_tiny_sam(path: Path, seed: int = 0) -> Path:
    import torch

    from gazeseg.engines.sam import build_sam_model

    torch.manual_seed(seed)
    model = build_sam_model("tiny")
    torch.save(model.state_dict(), str(path))
    return path


def save_tiny_sam2(path: Path, seed: int = 0) -> Path:
    import torch

    from gazeseg.engines.sam2 import build_sam2_model

    torch.manual_seed(seed)
    model = build_sam2_model("tiny")
    torch.save({"model": model.state_dict()}, str(path))  # the official checkpoint layout
    return path
