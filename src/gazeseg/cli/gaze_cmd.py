"""``gazeseg gaze simulate | fixations | info``: gaze recordings from the command line."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def _geometry(args: argparse.Namespace):  # noqa: ANN202
    from gazeseg.core.geometry import ViewingGeometry

    w, h = (int(v) for v in args.screen.lower().split("x"))
    mw, mh = (float(v) for v in args.screen_mm.lower().split("x"))
    return ViewingGeometry(screen_w_px=w, screen_h_px=h, screen_w_mm=mw, screen_h_mm=mh, distance_mm=args.distance_mm)


def _add_geometry(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screen", default="1920x1080", help="screen size in px, WxH")
    p.add_argument("--screen-mm", default="344x194", help="screen size in mm, WxH")
    p.add_argument("--distance-mm", type=float, default=600.0, help="eye-screen distance")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gaze", help="simulate, inspect and detect fixations in gaze recordings")
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("simulate", help="a simulated viewer looking at points of an image, as a tracker records it")
    s.add_argument("image", type=Path)
    s.add_argument("--preset", default="tobii-pro-nano")
    s.add_argument("--look", action="append", metavar="X,Y", help="image px to look at (repeatable; default: 5 random points)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True)
    _add_geometry(s)
    s.set_defaults(func=run_simulate)
    f = sub.add_parser("fixations", help="I-DT or I-VT fixations of a recording (CSV to stdout or --out)")
    f.add_argument("recording", type=Path)
    f.add_argument("--method", choices=["idt", "ivt"], default="idt")
    f.add_argument("--out", type=Path, default=None)
    _add_geometry(f)
    f.set_defaults(func=run_fixations)
    i = sub.add_parser("info", help="sampling rate, validity, blinks of a recording")
    i.add_argument("recording", type=Path)
    i.set_defaults(func=run_info)


def run_simulate(args: argparse.Namespace) -> int:
    from gazeseg.core.geometry import Viewport
    from gazeseg.gaze.recording import write_gaze_csv
    from gazeseg.gaze.simulator import GazeSimulator
    from gazeseg.io.images import load_image

    image = load_image(args.image)
    h, w = image.shape[:2]
    geometry = _geometry(args)
    rng = np.random.default_rng(args.seed)
    if args.look:
        targets = np.array([[float(v) for v in t.split(",")] for t in args.look])
    else:
        targets = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h], (5, 2))
    sim = GazeSimulator(args.preset, geometry, Viewport.fit(w, h, geometry), rng=rng)
    samples, _ = sim.scanpath(targets)
    write_gaze_csv(samples, args.out)
    print(f"{len(samples)} samples ({samples.duration_s:.1f} s, {samples.valid.mean():.0%} valid) -> {args.out}")
    return 0


def run_fixations(args: argparse.Namespace) -> int:
    from gazeseg.gaze.fixations import idt, ivt
    from gazeseg.gaze.recording import load_recording
    from gazeseg.gaze.transforms import to_screen_px

    samples = load_recording(args.recording)
    geometry = _geometry(args)
    if samples.frame == "display_norm":
        samples = to_screen_px(samples, geometry)
    fixations = (idt if args.method == "idt" else ivt)(samples, px_per_deg=geometry.px_per_deg)
    handle = args.out.open("w", newline="") if args.out else sys.stdout
    writer = csv.writer(handle)
    writer.writerow(["start_s", "end_s", "duration_s", "x", "y", "frame"])
    for fx in fixations:
        writer.writerow([f"{fx.start_s:.4f}", f"{fx.end_s:.4f}", f"{fx.duration_s:.4f}", f"{fx.x:.2f}", f"{fx.y:.2f}", fx.frame])
    if args.out:
        handle.close()
        print(f"{len(fixations)} fixations -> {args.out}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from gazeseg.gaze.filters import detect_blinks
    from gazeseg.gaze.recording import load_recording

    s = load_recording(args.recording)
    rate = 1.0 / float(np.median(np.diff(s.t_s))) if len(s) > 1 else 0.0
    print(f"{args.recording}: {len(s)} samples, {s.duration_s:.2f} s, ~{rate:.0f} Hz, frame {s.frame}, "
          f"{s.valid.mean():.1%} valid, {len(detect_blinks(s))} blinks")
    return 0
