"""``gazeseg retina IMAGE --gaze RECORDING``: microaneurysm candidates from a reading's gaze."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("retina", help="microaneurysms from a clinician's reading gaze (GlanceSeg)")
    p.add_argument("image", type=Path)
    p.add_argument("--gaze", type=Path, help="raw gaze recording (gazeseg CSV, Tobii TSV) or a fixation CSV in image px")
    p.add_argument("--simulate-reading", type=Path, metavar="MA_MASK", default=None,
                   help="no recording: simulate a reader who dwells on the lesions of this mask (for demos and benchmarks)")
    p.add_argument("--mode", default="saliency+filter", choices=["grid", "saliency", "saliency+filter"])
    p.add_argument("--max-candidates", type=int, default=300, help="most salient points prompted (time grows with it)")
    p.add_argument("--engine", default="classic")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--screen", default="1920x1080", help="screen the image was read on, WxH px (for display coordinates)")
    p.add_argument("--out", type=Path, required=True, help="output folder: lesions.png, scores.png, lesions.csv, overlay.png")
    p.set_defaults(func=run)


def _fixations(args: argparse.Namespace, image_hw: tuple[int, int], view):  # noqa: ANN001, ANN202
    from gazeseg.core.errors import InputError
    from gazeseg.core.geometry import ViewingGeometry, Viewport
    from gazeseg.gaze.fixations import idt
    from gazeseg.gaze.recording import load_recording, read_fixation_csv
    from gazeseg.gaze.transforms import to_image_px

    w, h = (int(v) for v in args.screen.lower().split("x"))
    geometry = ViewingGeometry(screen_w_px=w, screen_h_px=h, screen_w_mm=w * 0.28, screen_h_mm=h * 0.28)
    viewport = Viewport.fit(image_hw[1], image_hw[0], geometry)
    ppd = viewport.image_px_per_deg(geometry)
    if args.simulate_reading is not None:
        from gazeseg.io.images import load_mask
        from gazeseg.retina.reading import simulate_reading

        reading = simulate_reading(image_hw, view.fov, load_mask(args.simulate_reading), geometry=geometry, rng=0)
        return reading.fixations, reading.px_per_deg
    if args.gaze is None:
        raise InputError("retina: give --gaze RECORDING (or --simulate-reading MA_MASK for a demo)")
    first_line = args.gaze.read_text(errors="replace")[:200].lower().split("\n", 1)[0]
    if "duration" in first_line:  # a fixation list rather than raw samples
        return read_fixation_csv(args.gaze), ppd
    samples = load_recording(args.gaze)
    return idt(to_image_px(samples, geometry, viewport), px_per_deg=ppd), ppd


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from gazeseg.engines.select import engine_from_args
    from gazeseg.io.images import load_image, overlay, save_image, save_mask
    from gazeseg.retina.pipeline import RetinaPipeline
    from gazeseg.retina.preprocess import prepare

    image = load_image(args.image)
    if image.ndim != 3:
        from gazeseg.core.errors import InputError

        raise InputError(f"{args.image}: expected a colour fundus photograph, got a grey image")
    image = image[..., :3]
    view = prepare(image)
    fixations, ppd = _fixations(args, image.shape[:2], view)
    pipeline = RetinaPipeline(engine_from_args(args.engine, args.checkpoint), mode=args.mode, max_candidates=args.max_candidates)
    result = pipeline.run(image, fixations, px_per_deg=ppd, view=view)
    args.out.mkdir(parents=True, exist_ok=True)
    save_mask(result.lesion_mask, args.out / "lesions.png")
    Image.fromarray((np.clip(result.score_map, 0, 1) * 255).astype(np.uint8)).save(args.out / "scores.png")
    with (args.out / "lesions.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["x", "y", "area_px", "score"])
        writer.writeheader()
        writer.writerows(result.lesions())
    save_image(overlay(image, result.lesion_mask, color=(0, 255, 0)), args.out / "overlay.png")
    total = sum(result.seconds.values())
    print(f"{len(fixations)} fixations, {len(result.candidates)} candidates, {len(result.lesions())} lesions kept in {total:.1f} s -> {args.out}")
    return 0
