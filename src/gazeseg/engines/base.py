"""The engine interface every segmenter implements.

Engines are stateless between images: ``embed(image)`` returns a handle and
``predict(handle, prompts)`` answers prompts for it, so one engine serves many sessions and
nothing depends on a hidden "current image" (unlike ``SamPredictor.set_image``).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import MaskPrediction, PromptSet


def image_digest(image: np.ndarray) -> str:
    """Content hash of an image array (shape, dtype and bytes): the embedding cache key."""
    h = hashlib.sha256()
    h.update(f"{image.shape}|{image.dtype}".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:32]


@dataclass
class Embedding:
    """What ``embed`` computed for one image; ``payload`` is engine-specific (arrays or tensors).

    ``image_hw`` is the original image size that masks are returned at.
    """

    model_id: str
    image_digest: str
    image_hw: tuple[int, int]
    payload: dict[str, Any] = field(default_factory=dict)

    def nbytes(self) -> int:
        total = 0
        for value in self.payload.values():
            total += int(getattr(value, "nbytes", 0) or (value.numel() * value.element_size() if hasattr(value, "numel") else 0))
        return total


class Engine(ABC):
    """A promptable segmenter. Subclasses set ``name`` and ``model_id`` and implement the two steps."""

    name: str = "engine"

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identity of the weights and settings: embeddings of different ids never mix."""

    @abstractmethod
    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        """Compute the embedding of an RGB uint8 (H, W, 3) image."""

    @abstractmethod
    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        """Decode masks for validated prompts."""

    def embed(self, image: np.ndarray) -> Embedding:
        """Embed an image: (H, W) gray or (H, W, 3|4) colour, any dtype (converted once here)."""
        from gazeseg.io.images import to_rgb_uint8

        return self._embed(to_rgb_uint8(image))

    def prepare(self, embedding: Embedding) -> None:
        """Get ready to decode prompts on ``embedding`` (the image now on screen), so that the first
        prompt does not pay for per-image work; engines without such work do nothing."""

    def predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool = True) -> MaskPrediction:
        """Masks for ``prompts`` on the embedded image; see ``PromptSet`` for frames and units."""
        if embedding.model_id != self.model_id:
            raise InputError(
                f"embedding: made by model '{embedding.model_id}', but this engine is '{self.model_id}'; "
                "embed the image with this engine"
            )
        check_prompts(prompts, embedding.image_hw)
        return self._predict(embedding, prompts, multimask=multimask)


def check_prompts(prompts: PromptSet, image_hw: tuple[int, int]) -> None:
    """Reject empty prompts and points outside the image with a message that says which."""
    if prompts.is_empty:
        raise InputError("prompts: expected at least one point, a box or a mask; got none")
    h, w = image_hw
    pts = prompts.points_xy
    outside = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
    if np.any(outside):
        bad = pts[outside][0].tolist()
        raise InputError(
            f"prompts: point (x={bad[0]:.1f}, y={bad[1]:.1f}) lies outside the {w}x{h} image; "
            "give points in image pixels, 0 <= x <= width and 0 <= y <= height"
        )
