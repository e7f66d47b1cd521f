"""Choosing an engine for a user: SAM when a checkpoint is at hand, else the weight-free one."""

from __future__ import annotations

import sys
from pathlib import Path

from gazeseg.engines.base import Engine
from gazeseg.engines.registry import create_engine

SAM_HINT = (
    "gazeseg: using the weight-free 'classic' engine; for SAM run `gazeseg models download sam-vit-b` "
    "(or pass --checkpoint FILE)"
)


def guess_engine(checkpoint: Path) -> str:
    """'sam2' for SAM 2 / 2.1 checkpoints (by file name), else 'sam'."""
    return "sam2" if "sam2" in checkpoint.name.lower() else "sam"


def engine_from_args(name: str = "auto", checkpoint: Path | str | None = None, *, quiet: bool = False) -> Engine:
    """The engine a command asked for; ``auto`` prefers a SAM checkpoint already downloaded."""
    checkpoint = Path(checkpoint) if checkpoint else None
    if name == "auto":
        if checkpoint is not None:
            name = guess_engine(checkpoint)
        else:
            cached = _cached_checkpoint()
            if cached is not None:
                name, checkpoint = cached
            else:
                name = "classic"
                if not quiet:
                    print(SAM_HINT, file=sys.stderr)
    if name == "classic" or checkpoint is None:
        return create_engine(name)
    return create_engine(name, checkpoint=checkpoint)


def _cached_checkpoint() -> tuple[str, Path] | None:
    try:
        from gazeseg.engines.weights import first_available
    except ImportError:
        return None
    return first_available()
