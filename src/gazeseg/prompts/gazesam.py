"""GazeSAM's prompt rules, kept faithful as baselines (Wang, Aboah, Zhang, Pan & Bagci, "GazeSAM:
Interactive Image Segmentation with Eye Gaze and Segment Anything Model", Gaze Meets ML workshop,
PMLR 226:254-265, 2024; arXiv:2304.13844; code github.com/ukaukaaaa/GazeSAM).

GazeSAM sends the latest gaze position as one positive point whenever the user presses the
trigger, with no filtering; its "All Points" variant sends every gaze position of the trace.
"""

from __future__ import annotations

from gazeseg.core.types import GazeSamples, PromptSet
from gazeseg.prompts.base import PromptStrategy, add_corrections, register_strategy, valid_image_points


@register_strategy("gazesam-point")
class GazeSamPoint(PromptStrategy):
    """The latest valid raw sample as one positive point; the engine's best-scored mask."""

    name = "gazesam-point"

    def build(self, gaze: GazeSamples, *, px_per_deg: float, image_hw: tuple[int, int], corrections: PromptSet | None = None) -> PromptSet | None:
        xy = valid_image_points(gaze, image_hw)
        if len(xy) == 0:
            return None
        return add_corrections(PromptSet(xy[-1:], [1]), corrections)


@register_strategy("gazesam-all")
class GazeSamAll(PromptStrategy):
    """Every valid sample of the trace as a positive point (GazeSAM's "All Points").

    ``max_points`` thins a long trace evenly (SAM's prompt encoder slows with thousands of points).
    """

    name = "gazesam-all"

    def __init__(self, max_points: int = 256) -> None:
        self.max_points = int(max_points)

    def build(self, gaze: GazeSamples, *, px_per_deg: float, image_hw: tuple[int, int], corrections: PromptSet | None = None) -> PromptSet | None:
        xy = valid_image_points(gaze, image_hw)
        if len(xy) == 0:
            return None
        if len(xy) > self.max_points:
            xy = xy[:: -(-len(xy) // self.max_points)]
        return add_corrections(PromptSet(xy, [1] * len(xy)), corrections)
