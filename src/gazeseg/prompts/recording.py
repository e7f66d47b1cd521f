"""Prompts from a gaze recording file, for ``gazeseg segment IMAGE --gaze REC --strategy NAME``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.core.types import GazeSamples
from gazeseg.engines.base import Embedding, Engine
from gazeseg.prompts.base import Segmentation


def add_gaze_arguments(parser: argparse.ArgumentParser) -> None:
    """``--gaze``, ``--strategy``, ``--accuracy-deg`` for a subcommand that segments one image."""
    parser.add_argument("--gaze", type=Path, default=None, metavar="RECORDING",
                        help="gaze recording (.gaze.csv, Tobii TSV, raw x/y file) to prompt with; samples not in "
                             "image px are taken as shown fitted to a 15.6\" 1920x1080 screen at 60 cm")
    parser.add_argument("--strategy", default="fixation", metavar="NAME",
                        help="gaze prompt strategy: fixation (default), gazesam-point, gazesam-all")
    parser.add_argument("--accuracy-deg", type=float, default=0.5, metavar="DEG",
                        help="tracker accuracy told to the fixation strategy (default 0.5)")


def gaze_in_image_px(samples: GazeSamples, image_hw: tuple[int, int], geometry: ViewingGeometry | None = None) -> tuple[GazeSamples, float]:
    """Samples in image px and image px per degree, the image assumed fitted to ``geometry``'s screen."""
    from gazeseg.gaze.transforms import to_image_px

    geometry = geometry or ViewingGeometry()
    h, w = image_hw
    viewport = Viewport.fit(w, h, geometry)
    return to_image_px(samples, geometry, viewport), viewport.image_px_per_deg(geometry)


def segment_from_recording(
    engine: Engine, embedding: Embedding, recording: Path, *, strategy: str = "fixation", accuracy_deg: float = 0.5
) -> Segmentation:
    """Read ``recording``, let ``strategy`` prompt the engine, return what it settled on."""
    from gazeseg.gaze.recording import load_recording
    from gazeseg.prompts import create_strategy

    samples = load_recording(recording)
    gaze, px_per_deg = gaze_in_image_px(samples, embedding.image_hw)
    chosen = create_strategy(strategy, accuracy_deg=accuracy_deg) if strategy == "fixation" else create_strategy(strategy)
    result = chosen.segment(engine, embedding, gaze, px_per_deg=px_per_deg)
    if result is None:
        raise InputError(
            f"--gaze {recording}: no usable gaze for strategy '{strategy}' (no valid sample, or no fixation "
            f"of at least the dwell threshold on the image); record a longer look or try --strategy gazesam-point"
        )
    return result
