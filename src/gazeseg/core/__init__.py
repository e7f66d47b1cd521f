"""Core types and geometry shared by every layer (gaze, prompts, engines, apps)."""

from gazeseg.core.errors import GazesegError, InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import Fixation, GazeSamples, MaskPrediction, PromptSet

__all__ = [
    "Fixation",
    "GazeSamples",
    "GazesegError",
    "InputError",
    "MaskPrediction",
    "PromptSet",
    "ViewingGeometry",
    "Viewport",
]
