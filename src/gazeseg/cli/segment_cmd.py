"""``gazeseg segment IMAGE --point X,Y ... --out MASK.png``: one image, plain prompts, one mask."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet


def _xy(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in image pixels (e.g. 120,80), got {text!r}") from None
    return x, y


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 in image pixels, got {text!r}") from None
    return x0, y0, x1, y1


def prompts_from_args(args: argparse.Namespace) -> PromptSet:
    """Plain prompts from the command line (gaze recordings are turned into prompts elsewhere)."""
    points = [(*p, 1) for p in args.point or []] + [(*p, 0) for p in args.negative or []]
    box = np.array(args.box, float) if args.box else None
    if not points and box is None:
        raise InputError("segment: no prompt given; add --point X,Y (and/or --negative X,Y, --box X0,Y0,X1,Y1)")
    arr = np.array(points, float).reshape(-1, 3)
    return PromptSet(points_xy=arr[:, :2], labels=arr[:, 2].astype(int), box_xyxy=box)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("segment", help="segment one image from points and/or a box")
    p.add_argument("image", type=Path)
    p.add_argument("--point", type=_xy, action="append", metavar="X,Y", help="positive point (repeatable)")
    p.add_argument("--negative", type=_xy, action="append", metavar="X,Y", help="negative point (repeatable)")
    p.add_argument("--box", type=_box, metavar="X0,Y0,X1,Y1")
    p.add_argument("--engine", default="auto", help="classic, sam, sam2 or auto (SAM if a checkpoint is present)")
    p.add_argument("--checkpoint", type=Path, default=None, help="SAM/SAM 2 checkpoint file placed by hand")
    p.add_argument("--out", type=Path, required=True, help="binary PNG mask, same size as the image")
    p.add_argument("--overlay", type=Path, default=None, help="also write the image with the mask drawn")
    from gazeseg.prompts.recording import add_gaze_arguments  # --gaze RECORDING --strategy NAME

    add_gaze_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gazeseg.engines.select import engine_from_args
    from gazeseg.io.images import load_image, overlay, save_image, save_mask

    image = load_image(args.image)
    gaze = getattr(args, "gaze", None)
    prompts = prompts_from_args(args) if gaze is None else None
    engine = engine_from_args(args.engine, args.checkpoint)
    embedding = engine.embed(image)
    if gaze is not None:  # prompts from a gaze recording through a prompt strategy
        from gazeseg.prompts.recording import segment_from_recording

        found = segment_from_recording(engine, embedding, gaze, strategy=args.strategy, accuracy_deg=args.accuracy_deg)
        prompts, result = found.prompts, found.prediction
        result = type(result)(result.masks[found.index : found.index + 1], result.scores[found.index : found.index + 1], result.low_res_logits[found.index : found.index + 1])
    else:
        result = engine.predict(embedding, prompts, multimask=len(prompts.points_xy) <= 1 and prompts.box_xyxy is None)
    mask = result.best_mask
    save_mask(mask, args.out)
    if args.overlay:
        save_image(overlay(image, mask, points_xy=prompts.points_xy, labels=prompts.labels), args.overlay)
    print(f"{args.out}: {int(mask.sum())} px in the mask ({mask.mean():.1%} of the image), engine {engine.model_id}, score {result.scores[result.best_index]:.2f}")
    return 0
