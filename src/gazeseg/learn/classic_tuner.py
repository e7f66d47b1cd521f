"""Learning the weight-free engine's own knobs from accepted masks.

Why this and not a pixel corrector: the classic engine has a few prompt-time parameters (how
much the widest candidate is preferred, how strongly colour edges stop the geodesic proposal,
how far a refinement click grows or shrinks the mask, how big the definite seed around a click
is). Their best values depend on what a project labels (whole objects vs parts, textured vs flat
scenes), and every accepted mask is a measurement of them. The tuner replays a short simulated
click session (the evaluation protocol's clicker) on each accepted mask for a small grid of
values, one parameter at a time (coordinate ascent from the defaults), and keeps a change only if
it raises the mean IoU by ``min_gain``: few masks mean noisy estimates, so the defaults win ties.
Only prompt-time parameters are searched, so one embedding per image serves every candidate.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError

# Prompt-time parameters only: the embedding (working image, gradient map) does not depend on them.
DEFAULT_GRID: dict[str, tuple[Any, ...]] = {
    "whole_bias": (0.0, 0.05, 0.15, 0.3, 0.6),
    "edge_weight": (5.0, 10.0, 20.0),
    "prior_reach": ((0.1, 0.2, 10.0), (0.2, 0.4, 10.0), (0.35, 0.7, 10.0)),
    "seed_radius": (0.005, 0.01, 0.02),
}


@dataclass
class TuneResult:
    """The chosen parameters, their training score and every tried (name, value, score)."""

    params: Any
    score: float
    default_score: float
    trials: list[tuple[str, Any, float]] = field(default_factory=list)
    n_objects: int = 0

    def changes(self, base: Any | None = None) -> dict[str, Any]:
        """The fields that differ from ``base`` (default: ``ClassicParams()``)."""
        from gazeseg.engines.classic import ClassicParams

        base = base or ClassicParams()
        return {k: getattr(self.params, k) for k in DEFAULT_GRID if getattr(self.params, k) != getattr(base, k)}


def session_score(engine: Any, embedding: Any, mask: np.ndarray, ignore: np.ndarray | None, clicks: int) -> float:
    """Mean IoU over a ``clicks``-click simulated session (the evaluation protocol's clicker)."""
    from gazeseg.eval.clicks import run_click_protocol

    trace = run_click_protocol(engine, embedding, mask, ignore, max_clicks=clicks)
    ious = list(trace.ious) + [trace.ious[-1]] * (clicks - len(trace.ious))  # stopped early: perfect enough
    return float(np.mean(ious))


def score_params(
    params: Any,
    images: Sequence[Any],
    masks: Sequence[np.ndarray],
    ignores: Sequence[np.ndarray | None] | None = None,
    *,
    clicks: int = 3,
) -> float:
    """Mean session IoU of the classic engine with ``params`` over (image or embedding, mask) pairs.

    Embeddings made with other prompt-time parameters are reused (same working image).
    """
    from gazeseg.engines.base import Embedding
    from gazeseg.engines.classic import ClassicEngine

    engine = ClassicEngine(params)
    ignores = list(ignores) if ignores is not None else [None] * len(masks)
    total = []
    for image, mask, ignore in zip(images, masks, ignores, strict=True):
        emb = image if isinstance(image, Embedding) else engine.embed(image)
        # only prompt-time knobs differ between candidates: the working image is the same
        emb = dataclasses.replace(emb, model_id=engine.model_id)
        total.append(session_score(engine, emb, np.asarray(mask, bool), ignore, clicks))
    return float(np.mean(total)) if total else float("nan")


def tune_classic(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    ignores: Sequence[np.ndarray | None] | None = None,
    *,
    base: Any = None,
    grid: dict[str, tuple[Any, ...]] | None = None,
    clicks: int = 3,
    min_gain: float = 0.005,
    progress: bool = False,
) -> TuneResult:
    """Coordinate ascent over ``grid`` from ``base`` on accepted (image, mask) pairs.

    images: RGB uint8 (H, W, 3); masks: bool (H, W), the accepted masks; ignores: optional bool
    (H, W) regions not scored. With no objects the base parameters come back unchanged.
    """
    from tqdm.auto import tqdm

    from gazeseg.engines.classic import ClassicEngine, ClassicParams

    base = base or ClassicParams()
    grid = grid or DEFAULT_GRID
    unknown = set(grid) - set(ClassicParams.__dataclass_fields__)
    if unknown:
        raise InputError(f"tune_classic grid: unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULT_GRID)}")
    if len(images) != len(masks):
        raise InputError(f"tune_classic: expected one mask per image, got {len(images)} images and {len(masks)} masks")
    ignores = list(ignores) if ignores is not None else [None] * len(masks)
    masks = [np.asarray(m, bool) for m in masks]
    if any(not m.any() for m in masks):
        raise InputError("tune_classic: an accepted mask is empty; drop it")
    if not masks:
        return TuneResult(base, float("nan"), float("nan"))
    embeddings = [ClassicEngine(base).embed(img) for img in images]

    def score(params: ClassicParams) -> float:
        return score_params(params, embeddings, masks, ignores, clicks=clicks)

    best = base
    best_score = default_score = score(base)
    trials: list[tuple[str, Any, float]] = []
    for name in tqdm(list(grid), desc="tune classic", disable=not progress):
        current = getattr(best, name)
        choice, choice_score = current, best_score
        for value in grid[name]:
            if value == current:
                continue
            s = score(dataclasses.replace(best, **{name: value}))
            trials.append((name, value, s))
            if s > choice_score:
                choice, choice_score = value, s
        if choice != current and choice_score >= best_score + min_gain:
            best, best_score = dataclasses.replace(best, **{name: choice}), choice_score
    return TuneResult(best, best_score, default_score, trials, len(masks))


def save_params(params: Any, path: str | Path) -> Path:
    """Classic parameters as JSON (a classic model version's 'checkpoint')."""
    path = Path(path)
    path.write_text(json.dumps(dataclasses.asdict(params), indent=2))
    return path


def load_params(path: str | Path) -> Any:
    """The ``ClassicParams`` written by ``save_params``."""
    from gazeseg.engines.classic import ClassicParams

    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"classic parameters: cannot read {path} ({error}); give a file written by `gazeseg finetune --engine classic`") from error
    unknown = set(raw) - set(ClassicParams.__dataclass_fields__)
    if unknown:
        raise InputError(f"classic parameters {path}: unknown field(s) {sorted(unknown)}")
    raw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return ClassicParams(**raw)
