"""Loading checkpoint files with messages a user can act on (never a traceback from inside torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gazeseg.core.errors import InputError


def load_state_dict(path: Path, *, what: str) -> dict[str, Any]:
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{what}: no checkpoint at {path}; run `gazeseg models list` to see official checkpoints and "
            "`gazeseg models download NAME`, or pass --checkpoint with the right path"
        )
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, wrong format, pickle garbage
        raise InputError(
            f"{what}: {path} ({path.stat().st_size:,} bytes) is not a readable PyTorch checkpoint ({type(error).__name__}); "
            "the download may be truncated: delete it and download again, then `gazeseg models verify`"
        ) from None
    if isinstance(data, dict) and "model" in data and isinstance(data["model"], dict):
        data = data["model"]  # SAM 2 and some fine-tuned checkpoints wrap the weights
    if not isinstance(data, dict) or not data:
        raise InputError(f"{what}: {path} holds no model weights (expected a state dict)")
    return data


def apply_state_dict(model: Any, state: dict[str, Any], *, path: Path, what: str) -> None:
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatch
        first = str(error).splitlines()[1:2]
        raise InputError(f"{what}: {path} does not fit this model architecture ({' '.join(first).strip()}); wrong model type?") from None
    if missing or unexpected:
        raise InputError(
            f"{what}: {path} does not match the model: {len(missing)} missing and {len(unexpected)} unexpected weights "
            f"(e.g. {(missing or unexpected)[0]}); wrong model type or not a checkpoint of this family"
        )
