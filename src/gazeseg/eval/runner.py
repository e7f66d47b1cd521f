"""Run the gaze and click protocols over a dataset folder and collect per-object results.

Every image is embedded once per engine (``EmbeddingCache``); every (strategy, preset) pair and
the mouse clicks see the same objects; per-object seeds make any subset reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.eval.gaze_protocol import object_seed
from gazeseg.eval.time_model import Interaction, TimeConstants, gaze_time, mouse_time
from gazeseg.gaze.implicit_calibration import ImplicitRecalibration

@dataclass
class EvalConfig:
    """What to run. ``max_looks`` bounds both gaze looks and mouse clicks per object."""

    dataset_dir: Path
    engine: str = "classic"
    strategies: Sequence[str] = ("gazesam-point", "fixation")
    presets: Sequence[str] = ("tobii-pro-nano", "webcam")
    clicks: bool = True
    limit: int | None = None
    seed: int = 0
    max_looks: int = 5
    stop_iou: float = 0.9
    dwell_s: float = 0.3
    recalibrate: bool = False
    """One sitting: each tracker keeps one systematic offset for every object (drawn once per
    preset), and every gaze method also runs as ``<strategy>+recal``, which learns that offset
    from the masks accepted so far (``gazeseg.gaze.implicit_calibration``; ``Sitting``)."""


@dataclass
class EvalResult:
    """Per-object rows per method (``"mouse"`` or ``"<strategy>@<preset>"``) plus the setup."""

    config: EvalConfig
    dataset_name: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    engine_model_id: str = ""
    embed_s: list[float] = field(default_factory=list)


def make_strategy(name: str, preset: str):
    """A strategy configured for the tracker: ``fixation`` is told the preset's nominal accuracy
    and precision (a device's data sheet, known before any annotation)."""
    from gazeseg.gaze.simulator import get_preset
    from gazeseg.prompts import create_strategy

    spec = get_preset(preset)
    if name == "fixation":
        return create_strategy(name, accuracy_deg=max(spec.accuracy_deg, 0.1), precision_deg=spec.precision_deg)
    return create_strategy(name)


def click_interactions(trace, gt: np.ndarray, ignore: np.ndarray | None, viewport: Viewport) -> list[Interaction]:
    """Screen positions and Fitts widths of a click trace (``keep_masks`` must have been on)."""
    from gazeseg.eval.gaze_protocol import region_width

    valid = np.ones_like(gt) if ignore is None else ~ignore
    out = []
    previous = None
    for i, ((x, y), label) in enumerate(zip(trace.points_xy, trace.labels)):
        if previous is None:
            region = gt & valid
        else:
            region = (gt & ~previous & valid) if label == 1 else (previous & ~gt & valid)
        screen = viewport.image_to_screen(np.array([[x + 0.5, y + 0.5]]))[0]
        width = region_width(region, (x, y)) * viewport.scale
        out.append(Interaction(float(screen[0]), float(screen[1]), width, int(label), float(trace.seconds[i])))
        previous = trace.masks[i]
    return out


class Sitting:
    """One annotator's sitting for ``--recalibrate``: a fixed tracker offset per preset, and one
    implicit recalibration per gaze method that learns from each object's accepted mask."""

    def __init__(self, config: EvalConfig, geometry: ViewingGeometry) -> None:
        from gazeseg.gaze.simulator import GazeSimulator, get_preset

        screen = Viewport.fit(geometry.screen_w_px, geometry.screen_h_px, geometry)
        self.offsets = {p: GazeSimulator(p, geometry, screen, rng=object_seed(config.seed, f"sitting/{p}")).offset_screen_px for p in config.presets}
        # corrections capped at twice the worst offset the device model draws (1.5 x accuracy)
        self._cap = {p: geometry.deg_to_px(3.0 * max(get_preset(p).accuracy_deg, 0.1)) for p in config.presets}
        self._learners: dict[tuple[str, str], ImplicitRecalibration] = {}

    def recalibration(self, name: str, preset: str) -> ImplicitRecalibration:
        return self._learners.setdefault((name, preset), ImplicitRecalibration(max_shift_px=self._cap[preset]))

    ACCEPT_IOU = 0.5
    """The simulated user accepts a final mask that covers the object at least this well; a mask on
    the wrong object is discarded, as in the app, where only an accepted mask teaches."""

    def learn(self, recalibration: ImplicitRecalibration, trace, viewport: Viewport) -> None:  # noqa: ANN001
        """Pair the object's accepted mask with the first look's raw gaze."""
        if trace.final_mask is None or not trace.ious or trace.ious[-1] < self.ACCEPT_IOU or trace.first_look_screen_xy is None:
            return
        recalibration.observe_accepted(trace.first_look_screen_xy, trace.final_mask, viewport)


def stop_index(ious: list[float], stop_iou: float) -> int:
    """How many interactions a user who stops at ``stop_iou`` makes (all of them if never reached)."""
    for k, value in enumerate(ious, start=1):
        if value >= stop_iou:
            return k
    return len(ious)


def run_evaluation(config: EvalConfig, *, progress: bool = True) -> EvalResult:
    """Run every method on every object of ``config.dataset_dir``."""
    from tqdm import tqdm

    from gazeseg.engines.cache import EmbeddingCache
    from gazeseg.engines.registry import create_engine
    from gazeseg.eval.clicks import run_click_protocol
    from gazeseg.eval.datasets import load_dataset
    from gazeseg.eval.gaze_protocol import run_gaze_protocol

    objects = load_dataset(config.dataset_dir, limit=config.limit)
    engine = create_engine(config.engine)
    cache = EmbeddingCache()
    geometry = ViewingGeometry()
    constants = TimeConstants()
    strategies = {(s, p): make_strategy(s, p) for p in config.presets for s in config.strategies}
    sitting = Sitting(config, geometry) if config.recalibrate else None
    result = EvalResult(config, Path(config.dataset_dir).resolve().name, engine_model_id=engine.model_id)
    import time

    for obj in tqdm(objects, desc=f"eval {result.dataset_name}", unit="obj", disable=not progress):
        image = obj.load_image()
        gt, ignore = obj.load()
        if not gt.any():
            continue
        start = time.perf_counter()
        embedding = cache.get_or_embed(engine, image)
        result.embed_s.append(time.perf_counter() - start)
        h, w = embedding.image_hw
        viewport = Viewport.fit(w, h, geometry)
        seed = object_seed(config.seed, obj.name)
        area = float(gt.mean())
        if config.clicks:
            trace = run_click_protocol(engine, embedding, gt, ignore, max_clicks=config.max_looks, stop_iou=config.stop_iou, keep_masks=True)
            n = stop_index(trace.ious, config.stop_iou)
            clicks = click_interactions(trace, gt, ignore, viewport)[:n]
            start_xy = (geometry.screen_w_px / 2, geometry.screen_h_px / 2)
            timing = mouse_time(clicks, start_xy=start_xy, constants=constants)
            all_clicks = click_interactions(trace, gt, ignore, viewport)
            elapsed = [mouse_time(all_clicks[:k], start_xy=start_xy, constants=constants).total_s - constants.keystroke_s for k in range(1, len(all_clicks) + 1)]
            result.rows.setdefault("mouse", []).append({
                "object": obj.name, "area": area, "ious": [float(v) for v in trace.ious], "n": n,
                "final_iou": float(trace.ious[n - 1]), "time": timing.to_dict(), "elapsed_s": elapsed,
            })
        methods = [(name, preset, strategy, None) for (name, preset), strategy in strategies.items()]
        if sitting is not None:
            methods += [(f"{name}+recal", preset, strategy, sitting.recalibration(name, preset)) for name, preset, strategy, _ in methods]
        for name, preset, strategy, recalibration in methods:
            offset = None if sitting is None else sitting.offsets[preset]
            # the systematic error this object's gaze carries: the sitting's offset less what was learnt
            sitting_error = None if offset is None else offset + (0.0 if recalibration is None else recalibration.shift_px)
            gtrace = run_gaze_protocol(
                engine, embedding, gt, ignore, strategy, preset=preset, seed=seed,
                max_looks=config.max_looks, stop_iou=config.stop_iou, dwell_s=config.dwell_s, geometry=geometry,
                session_offset_screen_px=offset, recalibration=recalibration,
            )
            if recalibration is not None:
                sitting.learn(recalibration, gtrace, viewport)
            n = max(1, len(gtrace.ious))
            timing = gaze_time(gtrace.looks, px_per_deg=geometry.px_per_deg, constants=constants)
            elapsed = [gaze_time(gtrace.looks[:k], px_per_deg=geometry.px_per_deg, constants=constants).total_s - constants.keystroke_s for k in range(1, len(gtrace.looks) + 1)]
            result.rows.setdefault(f"{name}@{preset}", []).append({
                "object": obj.name, "area": area, "ious": [float(v) for v in gtrace.ious], "n": n,
                "final_iou": float(gtrace.ious[-1]) if gtrace.ious else 0.0, "time": timing.to_dict(),
                "decodes": gtrace.decodes, "no_prompt_looks": gtrace.no_prompt_looks, "elapsed_s": elapsed,
                **({} if sitting_error is None else {"gaze_error_deg": float(np.hypot(*sitting_error)) / geometry.px_per_deg}),
            })
    if not result.rows:
        raise InputError(f"dataset '{config.dataset_dir}': no object with a non-empty mask to evaluate")
    return result


def summarize_rows(rows: list[dict[str, Any]], max_looks: int) -> dict[str, float]:
    """Numbers for one method over all objects: mIoU@1/@3/at stop, NoI@85/90, wrong object, time."""
    from gazeseg.eval.metrics import noc

    curves = np.stack([_pad(r["ious"], max_looks) for r in rows])
    times = np.array([r["time"]["total_s"] for r in rows])
    return {
        "objects": len(rows),
        "miou@1": float(curves[:, 0].mean()),
        "miou@3": float(curves[:, min(2, max_looks - 1)].mean()),
        "miou@stop": float(np.mean([r["final_iou"] for r in rows])),
        "noi@85": float(np.mean([noc(c, 0.85, max_looks) for c in curves])),
        "noi@90": float(np.mean([noc(c, 0.90, max_looks) for c in curves])),
        "wrong_object@1": float(np.mean(curves[:, 0] < 0.1)),
        "interactions": float(np.mean([r["n"] for r in rows])),
        "time_per_object_s": float(times.mean()),
        "time_total_s": float(times.sum()),
        "human_time_total_s": float(sum(r["time"]["total_s"] - r["time"].get("engine", 0.0) for r in rows)),
    }


def _pad(values: list[float], n: int) -> np.ndarray:
    arr = np.array(values if values else [0.0], float)
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), arr[-1])])
    return arr[:n]


def collect_examples(config: EvalConfig, result: EvalResult, *, per_side: int = 2) -> list[dict[str, Any]]:
    """Re-run the best and worst objects (by first-look IoU of the last strategy, first preset) with
    masks kept, for every strategy under that preset: overlays of good and bad cases."""
    from gazeseg.engines.registry import create_engine
    from gazeseg.eval.datasets import load_dataset
    from gazeseg.eval.gaze_protocol import run_gaze_protocol

    if not config.strategies or not config.presets:
        return []
    preset = config.presets[0]
    key = f"{config.strategies[-1]}@{preset}"
    rows = sorted(result.rows.get(key, []), key=lambda r: r["ious"][0] if r["ious"] else 0.0)
    if not rows:
        return []
    chosen = [r["object"] for r in rows[-per_side:][::-1]] + [r["object"] for r in rows[:per_side] if r["object"] not in {x["object"] for x in rows[-per_side:]}]
    by_name = {o.name: o for o in load_dataset(config.dataset_dir, limit=config.limit)}
    engine = create_engine(config.engine)
    geometry = ViewingGeometry()
    examples = []
    for name in chosen:
        obj = by_name[name]
        image = obj.load_image()
        gt, ignore = obj.load()
        embedding = engine.embed(image)
        from gazeseg.io.images import to_rgb_uint8

        rgb = to_rgb_uint8(image)
        for strategy_name in config.strategies:
            trace = run_gaze_protocol(
                engine, embedding, gt, ignore, make_strategy(strategy_name, preset), preset=preset,
                seed=object_seed(config.seed, name), max_looks=1, stop_iou=None, dwell_s=config.dwell_s,
                geometry=geometry, keep_masks=True,
            )
            examples.append({
                "image": rgb, "gt": gt, "mask": trace.masks[0] if trace.masks else np.zeros_like(gt),
                "gaze": trace.gaze_xy[0] if trace.gaze_xy else np.zeros((0, 2)),
                "points": np.array(trace.prompt_points[0]) if trace.prompt_points else np.zeros((0, 2)),
                "title": f"{name} {strategy_name}@{preset}\nIoU {trace.first_iou:.2f}",
            })
    return examples
