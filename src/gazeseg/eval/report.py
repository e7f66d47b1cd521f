"""Markdown + JSON + PNG report of an evaluation run (``gazeseg eval``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gazeseg.eval.runner import EvalResult, _pad, summarize_rows
from gazeseg.eval.time_model import GAZESAM_REPORTED, TimeConstants, constants_table

MODELLED_NOTE = (
    "Times are **modelled, not measured on people**: published human-performance constants "
    "(KLM, Fitts' law, saccade main sequence; see docs/evaluation.md) applied to the simulated "
    "click and gaze sequences. Gaze is **simulated** from tracker presets, not recorded."
)


SITTING_NOTE = (
    "One sitting (`--recalibrate`): each tracker keeps one systematic offset for every object, in "
    "dataset order, and `<strategy>+recal` learns it from the masks accepted so far "
    "(`gazeseg.gaze.implicit_calibration`); the simulated user accepts a final mask with IoU >= 0.5 "
    "and discards the others. The first objects are uncorrected."
)


def summaries(result: EvalResult) -> dict[str, dict[str, float]]:
    return {method: summarize_rows(rows, result.config.max_looks) for method, rows in result.rows.items()}


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def markdown(result: EvalResult, summary: dict[str, dict[str, float]], plots: dict[str, str]) -> str:
    cfg = result.config
    mouse = summary.get("mouse")
    lines = [
        f"# Evaluation: {result.dataset_name}",
        "",
        f"Engine `{cfg.engine}` (`{result.engine_model_id}`), {next(iter(summary.values()))['objects']} objects, "
        f"seed {cfg.seed}, at most {cfg.max_looks} looks/clicks per object, the user stops at IoU >= {cfg.stop_iou:.2f}; "
        f"each look dwells {cfg.dwell_s:.2f} s.",
        "",
        MODELLED_NOTE,
        "",
        *([SITTING_NOTE, ""] if cfg.recalibrate else []),
        "## Accuracy and modelled time per method",
        "",
        "| method | mIoU@1 | mIoU@3 | mIoU at stop | NoI@85 | NoI@90 | wrong object @1 | interactions | time/object (s) | whole set (s) | time vs mouse | human part vs mouse |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, s in summary.items():
        ratio = f"{s['time_total_s'] / mouse['time_total_s']:.2f}" if mouse else "-"
        human = f"{s['human_time_total_s'] / mouse['human_time_total_s']:.2f}" if mouse else "-"
        lines.append(
            f"| {method} | {_fmt(100 * s['miou@1'])} | {_fmt(100 * s['miou@3'])} | {_fmt(100 * s['miou@stop'])} | "
            f"{_fmt(s['noi@85'], 2)} | {_fmt(s['noi@90'], 2)} | {_fmt(100 * s['wrong_object@1'])}% | {_fmt(s['interactions'], 2)} | "
            f"{_fmt(s['time_per_object_s'], 2)} | {_fmt(s['time_total_s'])} | {ratio} | {human} |"
        )
    lines += [
        "",
        "mIoU@k: mean IoU (%) after the k-th look (gaze: @1 is after the first fixation) or click; "
        "NoI@t: looks/clicks to reach IoU t (the maximum when never reached); wrong object: IoU < 0.1. "
        "Time includes the engine's measured decode time on this machine; \"human part\" leaves it out "
        "(machine-independent).",
        "",
        "## GazeSAM-style table (whole set)",
        "",
        "| method | modelled time (s) | mIoU at stop (%) |",
        "|---|---|---|",
    ]
    for method, s in summary.items():
        lines.append(f"| {method} | {_fmt(s['time_total_s'])} | {_fmt(100 * s['miou@stop'], 2)} |")
    lines += ["", "For context, GazeSAM's user study (SAM ViT-H, measured on people, not comparable number for number):", ""]
    lines += ["| set | gaze (s) | mouse (s) | gaze mIoU | mouse mIoU |", "|---|---|---|---|---|"]
    for name, row in GAZESAM_REPORTED.items():
        lines.append(f"| {name} | {row['gaze_s']:.0f} | {row['mouse_s']:.0f} | {row['gaze_miou']:.2f} | {row['mouse_miou']:.2f} |")
    lines += ["", "## Where the modelled time goes (mean seconds per object)", ""]
    parts = sorted({k for rows in result.rows.values() for r in rows for k in r["time"] if k != "total_s"})
    lines += ["| method | " + " | ".join(parts) + " |", "|---|" + "---|" * len(parts)]
    for method, rows in result.rows.items():
        lines.append(f"| {method} | " + " | ".join(_fmt(np.mean([r["time"].get(p, 0.0) for r in rows]), 2) for p in parts) + " |")
    if plots:
        lines += ["", "## Plots", ""]
        for title, name in plots.items():
            lines += [f"![{title}]({name})", ""]
    lines += [
        "## Time-model constants (s)",
        "",
        ", ".join(f"{k} = {v:g}" for k, v in constants_table(TimeConstants()).items()),
        "",
        f"Embedding: {np.mean(result.embed_s) if result.embed_s else float('nan'):.3f} s per image on average (each image embedded once).",
        "",
    ]
    return "\n".join(lines)


def plot_curves(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = result.config.max_looks
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for method, rows in result.rows.items():
        curve = np.stack([_pad(r["ious"], n) for r in rows]).mean(axis=0)
        ax.plot(np.arange(1, n + 1), 100 * curve, marker="o", label=method, linestyle="--" if method == "mouse" else "-")
    ax.set_xticks(np.arange(1, n + 1))
    _finish_line_plot(fig, ax, path, xlabel="looks (gaze) or clicks (mouse)", ylabel="mIoU (%)",
                      title=f"{result.dataset_name}: IoU vs interactions")


def _finish_line_plot(fig, ax, path: Path, *, xlabel: str, ylabel: str, title: str) -> None:  # noqa: ANN001
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_iou_over_time(result: EvalResult, path: Path) -> None:
    """Mean IoU against modelled time since the object was first seen (IoU 0 before the first answer)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizon = max((r["elapsed_s"][-1] for rows in result.rows.values() for r in rows if r.get("elapsed_s")), default=1.0)
    grid = np.linspace(0, horizon, 200)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for method, rows in result.rows.items():
        curves = []
        for r in rows:
            times, ious = np.array(r.get("elapsed_s", [])), np.array(r["ious"])
            idx = np.searchsorted(times, grid, side="right") - 1
            curves.append(np.where(idx >= 0, ious[np.clip(idx, 0, len(ious) - 1)], 0.0))
        ax.plot(grid, 100 * np.mean(curves, axis=0), label=method, linestyle="--" if method == "mouse" else "-")
    _finish_line_plot(fig, ax, path, xlabel="modelled seconds since the object was first seen (not measured)", ylabel="mIoU (%)",
                      title=f"{result.dataset_name}: IoU over modelled time")


def plot_times(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result.rows)
    parts = sorted({k for rows in result.rows.values() for r in rows for k in r["time"] if k != "total_s"})
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    bottom = np.zeros(len(methods))
    for part in parts:
        values = np.array([np.mean([r["time"].get(part, 0.0) for r in result.rows[m]]) for m in methods])
        ax.bar(methods, values, bottom=bottom, label=part)
        bottom += values
    ax.set_ylabel("modelled seconds per object")
    ax.set_title(f"{result.dataset_name}: modelled time per object (not measured)")
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_examples(examples: list[dict[str, Any]], path: Path, *, columns: int = 2) -> None:
    """Grid of overlays: image, ground-truth outline (green), mask (red tint), gaze (dots), prompts (x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    cols = max(1, min(columns, len(examples)))
    rows = -(-len(examples) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.5 * rows), dpi=60, squeeze=False)
    for ax in axes.ravel()[len(examples):]:
        ax.axis("off")
    for ax, ex in zip(axes.ravel(), examples):
        image = ex["image"].astype(float) / 255.0
        overlay = image.copy()
        overlay[ex["mask"]] = 0.5 * overlay[ex["mask"]] + 0.5 * np.array([1.0, 0.1, 0.1])
        overlay[find_boundaries(ex["gt"])] = [0.1, 1.0, 0.1]
        ax.imshow(overlay)
        if len(ex["gaze"]):
            ax.scatter(ex["gaze"][:, 0], ex["gaze"][:, 1], s=2, c="yellow", alpha=0.5)
        if len(ex["points"]):
            ax.scatter(ex["points"][:, 0], ex["points"][:, 1], s=40, c="cyan", marker="x")
        ax.set_title(ex["title"], fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sitting_error(result: EvalResult, path: Path) -> bool:
    """One sitting (``--recalibrate``): the tracker's remaining systematic error on each object, in
    dataset order, with and without implicit recalibration. False when the run was not a sitting."""
    series = {m: [r["gaze_error_deg"] for r in rows] for m, rows in result.rows.items() if rows and "gaze_error_deg" in rows[0]}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for method, errors in series.items():
        ax.plot(np.arange(1, len(errors) + 1), errors, label=method, linestyle="-" if "+recal" in method else ":")
    _finish_line_plot(fig, ax, path, xlabel="object (in the order annotated)", ylabel="systematic gaze error (deg)",
                      title=f"{result.dataset_name}: one sitting, offset left after recalibration")
    return True


def _standard_plots(result: EvalResult, out: Path) -> dict[str, str]:
    plots = {"IoU vs interactions": "iou_curves.png", "IoU over modelled time": "iou_time.png", "modelled time per object": "time_per_object.png"}
    plot_curves(result, out / plots["IoU vs interactions"])
    plot_iou_over_time(result, out / plots["IoU over modelled time"])
    plot_times(result, out / plots["modelled time per object"])
    if plot_sitting_error(result, out / "sitting_error.png"):
        plots["gaze error over the sitting"] = "sitting_error.png"
    return plots


def write_report(result: EvalResult, out_dir: str | Path, *, examples: list[dict[str, Any]] | None = None) -> Path:
    """Write ``report.md``, ``report.json`` and PNG plots into ``out_dir``; returns the markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summaries(result)
    plots = _standard_plots(result, out)
    if examples:
        plots["examples (first look)"] = "examples.png"
        plot_examples(examples, out / "examples.png", columns=len(result.config.strategies))
    (out / "report.md").write_text(markdown(result, summary, plots))
    config = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in asdict(result.config).items()}
    config["dataset_dir"] = result.dataset_name
    payload = {
        "dataset": result.dataset_name, "engine_model_id": result.engine_model_id, "config": config,
        "note": MODELLED_NOTE, "summary": summary, "time_constants": constants_table(TimeConstants()),
        "gazesam_reported": GAZESAM_REPORTED, "rows": result.rows,
    }
    (out / "report.json").write_text(json.dumps(payload, indent=1))
    return out / "report.md"


def rerender(out_dir: str | Path) -> Path:
    """Rewrite report.md and the plots of a finished run from its report.json (examples.png kept)."""
    from gazeseg.eval.runner import EvalConfig

    out = Path(out_dir)
    data = json.loads((out / "report.json").read_text())
    cfg = dict(data["config"])
    cfg["dataset_dir"] = Path(cfg["dataset_dir"])
    cfg["strategies"], cfg["presets"] = tuple(cfg["strategies"]), tuple(cfg["presets"])
    result = EvalResult(EvalConfig(**cfg), data["dataset"], rows=data["rows"], engine_model_id=data["engine_model_id"])
    summary = summaries(result)
    plots = _standard_plots(result, out)
    if (out / "examples.png").exists():
        plots["examples (first look)"] = "examples.png"
    text = markdown(result, summary, plots)
    embed_line = next((line for line in (out / "report.md").read_text().splitlines() if line.startswith("Embedding:")), None)
    if embed_line:
        text = text.replace(next(line for line in text.splitlines() if line.startswith("Embedding:")), embed_line)
    (out / "report.md").write_text(text)
    data["summary"] = summary
    (out / "report.json").write_text(json.dumps(data, indent=1))
    return out / "report.md"
