"""Score an engine with the standard click protocol on datasets with ground truth.

    python benchmarks/bench_classic.py --data ../shared/data/grabcut --data ../shared/data/davis

Prints a table and writes report.md, report.json, a mIoU-vs-clicks plot and best/worst overlays
under --out. Reference (issue 3): a quick GrabCut+watershed baseline measured here reaches mIoU@1
0.71 / NoC@90 4.5 on GrabCut and 0.45 / 15.8 on DAVIS; SAM ViT-H NoC@90 ~1.9 and ~5.2.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gazeseg.core.types import PromptSet
from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import interior_point, miou_curve, run_click_protocol, summarize
from gazeseg.eval.datasets import load_dataset
from gazeseg.io.images import overlay, save_image

BASELINE = {"grabcut": {"miou@1": 0.71, "noc@90": 4.5}, "davis": {"miou@1": 0.45, "noc@90": 15.8}}
SAM_VIT_H = {"grabcut": {"noc@90": 1.9}, "davis": {"noc@90": 5.2}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-clicks", type=int, default=20)
    parser.add_argument("--limit", type=int, default=None, help="first N objects per dataset (quick runs)")
    parser.add_argument("--out", default="results/bench_classic")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    engine = create_engine(args.engine, **options)

    report: dict = {"engine": engine.model_id, "machine": platform.processor() or platform.machine(), "datasets": {}}
    curves = {}
    for folder in args.data:
        name = Path(folder).name
        objects = list(load_dataset(folder))[: args.limit]
        traces, embed_s, prompt_s, cases = [], [], [], []
        embedding, embedded_path = None, None
        for obj in tqdm(objects, desc=f"{name} ({engine.name})", unit="obj"):
            gt, ignore = obj.load()
            if obj.image_path != embedded_path:
                image = obj.load_image()
                start = time.perf_counter()
                embedding = engine.embed(image)
                embed_s.append(time.perf_counter() - start)
                embedded_path = obj.image_path
            trace = run_click_protocol(engine, embedding, gt, ignore, max_clicks=args.max_clicks)
            traces.append(trace)
            x, y = interior_point(gt, ignore)
            one = PromptSet(points_xy=np.array([[x, y]]), labels=np.array([1]))
            start = time.perf_counter()
            first = engine.predict(embedding, one, multimask=False)
            prompt_s.append(time.perf_counter() - start)
            cases.append((trace.ious[0], obj, first.best_mask))
        summary = summarize(traces, args.max_clicks)
        summary["embed_seconds_mean"] = float(np.mean(embed_s))
        summary["single_prompt_seconds_mean"] = float(np.mean(prompt_s))
        summary["single_prompt_seconds_p95"] = float(np.percentile(prompt_s, 95))
        summary["baseline"] = BASELINE.get(name)
        summary["sam_vit_h"] = SAM_VIT_H.get(name)
        report["datasets"][name] = summary
        curves[name] = miou_curve(traces, args.max_clicks).tolist()
        cases.sort(key=lambda c: c[0])
        for tag, (value, obj, mask) in [("worst", cases[0]), ("median", cases[len(cases) // 2]), ("best", cases[-1])]:
            save_image(overlay(obj.load_image(), mask), out / f"{name}_{tag}_{obj.name}_iou{value:.2f}.png")
    report["miou_curves"] = curves
    (out / "report.json").write_text(json.dumps(report, indent=2))
    _plot(curves, out / "miou_vs_clicks.png")
    (out / "report.md").write_text(_markdown(report))
    print(_markdown(report))


def _plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", ms=3, label=name)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("clicks")
    ax.set_ylabel("mIoU")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(report: dict) -> str:
    lines = [
        f"# Click protocol: `{report['engine']}`",
        "",
        "First click at the object's most interior pixel, each next click at the centre of the largest",
        "error region, up to 20 clicks; GrabCut's 128 band and DAVIS's void label ignored.",
        "",
        "| dataset | objects | mIoU@1 | mIoU@5 | NoC@85 | NoC@90 | fails@90 | s/click | embed s | 1 prompt s (p95) | baseline mIoU@1 / NoC@90 | SAM ViT-H NoC@90 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["datasets"].items():
        base = s.get("baseline") or {}
        sam = s.get("sam_vit_h") or {}
        lines.append(
            f"| {name} | {s['objects']} | {s['miou@1']:.3f} | {s['miou@5']:.3f} | {s['noc@85']:.2f} | {s['noc@90']:.2f} "
            f"| {s['failures@90']} | {s['seconds_per_click']:.3f} | {s['embed_seconds_mean']:.3f} "
            f"| {s['single_prompt_seconds_mean']:.3f} ({s['single_prompt_seconds_p95']:.3f}) "
            f"| {base.get('miou@1', '-')} / {base.get('noc@90', '-')} | {sam.get('noc@90', '-')} |"
        )
    lines += ["", f"Machine: {report['machine']}. ![mIoU vs clicks](miou_vs_clicks.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
