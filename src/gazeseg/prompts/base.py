"""The prompt-strategy interface and its registry.

A strategy turns what the eyes did (gaze samples in image pixels) into prompts for an engine and
picks one of the engine's candidate masks. Strategies are swappable by name so the evaluation,
the real-time loop and the app compare them on the same gaze.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import GazeSamples, MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine


@dataclass(frozen=True)
class Segmentation:
    """What a strategy settled on: the prompts sent, the engine's answer and the chosen candidate."""

    prompts: PromptSet
    prediction: MaskPrediction
    index: int
    decodes: int = 1

    @property
    def mask(self) -> np.ndarray:
        return self.prediction.masks[self.index]

    @property
    def logits(self) -> np.ndarray:
        return self.prediction.low_res_logits[self.index]


class PromptStrategy(ABC):
    """Gaze (image px) -> ``PromptSet`` -> chosen candidate mask.

    ``corrections`` are inputs confirmed earlier: clicks, confirmed looks, or a look plus a reject
    key (a negative point). They come first in the built prompts, unchanged; the new look's
    points follow.
    """

    name: str = "strategy"

    @abstractmethod
    def build(
        self,
        gaze: GazeSamples,
        *,
        px_per_deg: float,
        image_hw: tuple[int, int],
        corrections: PromptSet | None = None,
    ) -> PromptSet | None:
        """Prompts from the gaze so far, or None while the gaze says nothing yet (e.g. no dwell)."""

    def choose(self, prediction: MaskPrediction, gaze: GazeSamples, *, px_per_deg: float) -> int:
        """Index of the candidate to keep; the default trusts the engine's own score."""
        return prediction.best_index

    def segment(
        self,
        engine: Engine,
        embedding: Embedding,
        gaze: GazeSamples,
        *,
        px_per_deg: float,
        corrections: PromptSet | None = None,
        previous_logits: np.ndarray | None = None,
    ) -> Segmentation | None:
        """build -> predict -> choose. Strategies that probe the engine more than once override it."""
        prompts = self.build(gaze, px_per_deg=px_per_deg, image_hw=embedding.image_hw, corrections=corrections)
        if prompts is None:
            return None
        if previous_logits is not None:
            prompts = PromptSet(prompts.points_xy, prompts.labels, prompts.box_xyxy, previous_logits)
        prediction = engine.predict(embedding, prompts, multimask=previous_logits is None)
        return Segmentation(prompts, prediction, self.choose(prediction, gaze, px_per_deg=px_per_deg))


def valid_image_points(gaze: GazeSamples, image_hw: tuple[int, int]) -> np.ndarray:
    """(N, 2) valid, finite samples clipped into the image (a tracker can report slightly outside)."""
    if gaze.frame != "image_px":
        raise InputError(
            f"gaze.frame: expected 'image_px', got '{gaze.frame}'; convert with gazeseg.gaze.transforms.to_image_px"
        )
    ok = np.asarray(gaze.valid, bool) & np.all(np.isfinite(gaze.xy), axis=1)
    h, w = image_hw
    xy = gaze.xy[ok]
    inside = (xy[:, 0] >= -0.5 * w) & (xy[:, 0] <= 1.5 * w) & (xy[:, 1] >= -0.5 * h) & (xy[:, 1] <= 1.5 * h)
    # A pixel inside the border: engines that downscale may round a border point out of range.
    return np.clip(xy[inside], [0.5, 0.5], [w - 1.5, h - 1.5])


def add_corrections(prompts: PromptSet, corrections: PromptSet | None) -> PromptSet:
    """Earlier confirmed inputs first, then the new look's points (so the new ones are the tail)."""
    if corrections is None or len(corrections.points_xy) == 0:
        return prompts
    return PromptSet(corrections.points_xy, corrections.labels, prompts.box_xyxy, prompts.mask_logits).with_points(prompts.points_xy, prompts.labels)


_FACTORIES: dict[str, Callable[..., PromptStrategy]] = {}


def register_strategy(name: str) -> Callable[[Callable[..., PromptStrategy]], Callable[..., PromptStrategy]]:
    """Class or factory decorator: ``@register_strategy("fixation")``."""

    def decorator(factory: Callable[..., PromptStrategy]) -> Callable[..., PromptStrategy]:
        _FACTORIES[name] = factory
        return factory

    return decorator


def _load_builtin() -> None:
    import gazeseg.prompts.fixation  # noqa: F401
    import gazeseg.prompts.gazesam  # noqa: F401


def available_strategies() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def create_strategy(name: str, **options: Any) -> PromptStrategy:
    """A strategy by name (``gazesam-point``, ``gazesam-all``, ``fixation``) with its options."""
    _load_builtin()
    if name not in _FACTORIES:
        raise InputError(f"strategy: unknown name '{name}'; choose one of {', '.join(sorted(_FACTORIES))}")
    try:
        return _FACTORIES[name](**options)
    except TypeError as error:
        raise InputError(f"strategy '{name}': bad option ({error}); see its docstring for the options") from error
