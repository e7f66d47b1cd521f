"""Tiny randomly initialised models built from the official classes (plumbing and speed only)."""

from __future__ import annotations

from pathlib import Path


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
