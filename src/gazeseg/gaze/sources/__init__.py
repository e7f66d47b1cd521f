"""Gaze sources: every tracker yields ``GazeSamples`` blocks through the same ``GazeSource`` API."""

from __future__ import annotations

from gazeseg.gaze.sources.base import GazeSource, SourceError, SampleBuffer

__all__ = ["GazeSource", "SourceError", "SampleBuffer", "create_source", "SOURCE_NAMES"]

SOURCE_NAMES = ("mouse", "replay", "lsl", "tobii", "pupil", "webcam")


def create_source(name: str, **options: object) -> GazeSource:
    """A source by name; hardware SDKs are imported only here, with a clear message when missing."""
    from gazeseg.core.errors import InputError

    if name == "mouse":
        from gazeseg.gaze.sources.mouse import MouseSource

        return MouseSource(**options)  # type: ignore[arg-type]
    if name == "replay":
        from gazeseg.gaze.sources.replay import ReplaySource

        return ReplaySource(**options)  # type: ignore[arg-type]
    if name == "lsl":
        from gazeseg.gaze.sources.lsl import LSLSource

        return LSLSource(**options)  # type: ignore[arg-type]
    if name == "tobii":
        from gazeseg.gaze.sources.tobii import TobiiSource

        return TobiiSource(**options)  # type: ignore[arg-type]
    if name == "pupil":
        from gazeseg.gaze.sources.pupil import PupilSource

        return PupilSource(**options)  # type: ignore[arg-type]
    if name == "webcam":
        from gazeseg.gaze.sources.webcam import WebcamSource

        return WebcamSource(**options)  # type: ignore[arg-type]
    raise InputError(f"gaze source: unknown '{name}'; choose one of {', '.join(SOURCE_NAMES)}")
