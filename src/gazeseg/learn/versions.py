"""Numbered model versions: DIR/v001, v002, ... each with the checkpoint and a metadata JSON.

Why: the app must be able to go back to the model before a fine-tune that made things worse, and
every number in a report must say which data and parent model it came from.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gazeseg.core.errors import InputError

CHECKPOINT_NAME = "model.pth"
META_NAME = "meta.json"
AREA_PRIOR_NAME = "area-prior.json"
"""Classic versions: the learnt size prior beside the parameters (``learn.area_prior``)."""
_VERSION = re.compile(r"^v(\d{3,})$")


@dataclass(frozen=True)
class ModelVersion:
    name: str
    directory: Path
    checkpoint: Path
    meta: dict[str, Any]


def list_versions(root: str | Path) -> list[ModelVersion]:
    """All versions under ``root``, oldest first (what the app's model menu shows)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if not _VERSION.match(child.name) or not (child / META_NAME).is_file():
            continue
        meta = json.loads((child / META_NAME).read_text())
        found.append(ModelVersion(child.name, child, child / meta.get("checkpoint", CHECKPOINT_NAME), meta))
    return found


def latest_version(root: str | Path) -> ModelVersion | None:
    versions = list_versions(root)
    return versions[-1] if versions else None


def get_version(root: str | Path, name: str) -> ModelVersion:
    for version in list_versions(root):
        if version.name == name:
            return version
    names = ", ".join(v.name for v in list_versions(root)) or "none"
    raise InputError(f"model version: no '{name}' under {root}; existing: {names}")


def next_version_dir(root: str | Path) -> Path:
    root = Path(root)
    numbers = [int(m.group(1)) for c in root.glob("v*") if (m := _VERSION.match(c.name))] if root.is_dir() else []
    return root / f"v{(max(numbers) + 1 if numbers else 1):03d}"


def save_version(root: str | Path, write_checkpoint: Any, meta: dict[str, Any], *, checkpoint_name: str = CHECKPOINT_NAME) -> ModelVersion:
    """Create the next version directory; ``write_checkpoint(path)`` writes the weights file."""
    directory = next_version_dir(root)
    directory.mkdir(parents=True, exist_ok=False)
    path = directory / checkpoint_name
    write_checkpoint(path)
    meta = {**meta, "version": directory.name, "checkpoint": checkpoint_name, "created_unix": time.time()}
    (directory / META_NAME).write_text(json.dumps(meta, indent=2, default=float))
    return ModelVersion(directory.name, directory, path, meta)


def version_engine_name(version: ModelVersion) -> str:
    """'sam', 'sam2' or 'classic': the family a version was trained for (old SAM versions lack the field)."""
    name = str(version.meta.get("engine", "sam"))
    if name not in ("sam", "sam2", "classic"):
        raise InputError(f"model version {version.name}: unknown engine '{name}' in {version.directory / META_NAME}")
    return name


def engine_for_version(version: ModelVersion) -> Any:
    """Load a version through the normal loaders: SAM / SAM 2 checkpoints, classic parameters JSON."""
    from gazeseg.engines.registry import create_engine

    if not version.checkpoint.is_file():
        raise InputError(f"model version {version.name}: its file {version.checkpoint} is missing; pick another version")
    name = version_engine_name(version)
    if name == "classic":
        from gazeseg.engines.classic import ClassicEngine
        from gazeseg.learn.area_prior import AreaPrior, AreaPriorEngine
        from gazeseg.learn.classic_tuner import load_params

        engine = ClassicEngine(load_params(version.checkpoint))
        prior_path = version.directory / AREA_PRIOR_NAME
        return AreaPriorEngine(engine, AreaPrior.load(prior_path)) if prior_path.is_file() else engine
    return create_engine(name, checkpoint=version.checkpoint)


def describe(version: ModelVersion) -> dict[str, Any]:
    """What the app's model menu shows for a version (JSON-ready)."""
    before, after = version.meta.get("before", {}), version.meta.get("after", {})
    return {
        "name": version.name, "engine": version.meta.get("engine", "sam"), "parent": version.meta.get("parent"),
        "created_unix": version.meta.get("created_unix"), "n_train": version.meta.get("n_train"),
        "val_iou_before": before.get("val_iou"), "val_iou_after": after.get("val_iou"),
    }
