"""Learning curve of the weight-free engine + SAM fine-tune step speed.

Simulated users accept masks (ground truth stands in) on the first n images of a shuffled folder
(nested: n=10 sees the n=5 images and five more); a learner adapts the classic engine from them;
the click protocol (mIoU@1, NoC@90) runs on held-out images that no n ever sees, the same for
every n. Learners: ``tuner`` (``classic_tuner``: the engine's own prompt-time parameters, chosen
by replaying clicks on the accepted masks) and ``refiner`` (``RefinedEngine(classic,
PixelRefiner)``, a per-pixel corrector). Then, with random weights (plumbing and speed only), the
time of one SAM decoder fine-tune step on CPU (the decoder is the same for ViT-B/L/H).

    python benchmarks/bench_learning_refine.py --data ../shared/data/grabcut --ns 0 5 10 20 --heldout 12
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import miou_curve, run_click_protocol, summarize
from gazeseg.eval.datasets import load_dataset
from gazeseg.learn.refine import PixelRefiner, RefinedEngine

ROOT = Path(__file__).resolve().parents[1]


def both_curve(data: Path, ns: list[int], heldout: int, max_clicks: int, seed: int) -> dict:
    return area_curve(data, ns, heldout, max_clicks, seed, tune=True)


def _repo_relative(path: Path) -> str:
    """Reports name the data relative to the repository (../shared/data/...), not this machine's paths."""
    return os.path.relpath(Path(path).resolve(), ROOT)


def split_and_embed(data: Path, ns: list[int], heldout: int, seed: int, engine: Any) -> tuple[list, list]:
    """The shuffled folder's training pool and its held-out objects, embedded once:
    (pool objects, [(name, embedding, gt, ignore)])."""
    objects = load_dataset(data)
    order = np.random.default_rng(seed).permutation(len(objects))
    test = [objects[i] for i in order[-heldout:]]
    pool = [objects[i] for i in order[: len(objects) - heldout]]
    if max(ns) > len(pool):
        raise SystemExit(f"--ns: at most {len(pool)} training images with --heldout {heldout}")
    test_items = []
    for obj in tqdm(test, desc="embed held-out"):
        gt, ignore = obj.load()
        test_items.append((obj.name, engine.embed(obj.load_image()), gt, ignore))
    return pool, test_items


def area_curve(data: Path, ns: list[int], heldout: int, max_clicks: int, seed: int, *, tune: bool = False) -> dict:
    """The classic engine with a size prior fitted on the first n accepted masks, on held-out objects.

    ``tune``: first tune the prompt-time parameters on the same masks (what ``gazeseg finetune
    --engine classic`` writes: tuned parameters + size prior).
    """
    from gazeseg.engines.classic import ClassicEngine
    from gazeseg.learn.area_prior import AreaPriorEngine, fit_area_prior, replay_first_look

    base = ClassicEngine()
    pool, test_items = split_and_embed(data, ns, heldout, seed, base)
    looks, look_seconds, train = [], [], []
    for obj in tqdm(pool[: max(ns)], desc="replay accepted masks"):  # one first-look prediction per accepted mask
        gt, ignore = obj.load()
        start = time.perf_counter()
        image = obj.load_image()
        emb = base.embed(image)
        looks.append(replay_first_look(base, emb, gt, ignore))
        look_seconds.append(time.perf_counter() - start)
        if tune:
            train.append((image, gt, ignore, emb))
    rows, curves = [], {}
    for n in sorted(ns):
        start = time.perf_counter()
        engine = base
        prior = None
        changes: dict = {}
        if n:
            inner, fit_looks = base, looks[:n]
            if tune:
                from gazeseg.learn.classic_tuner import tune_classic

                tuned = tune_classic([t[0] for t in train[:n]], [t[1] for t in train[:n]], [t[2] for t in train[:n]], progress=True)
                inner, changes = ClassicEngine(tuned.params), {k: str(v) for k, v in tuned.changes().items()}
                fit_looks = [replay_first_look(inner, dataclasses.replace(t[3], model_id=inner.model_id), t[1], t[2]) for t in train[:n]]
            prior = fit_area_prior(fit_looks)
            engine = AreaPriorEngine(inner, prior)
        learn_s = time.perf_counter() - start + float(np.sum(look_seconds[:n]))
        traces = [run_click_protocol(engine, dataclasses.replace(emb, model_id=engine.model_id), gt, ignore, max_clicks=max_clicks)
                  for _, emb, gt, ignore in tqdm(test_items, desc=f"clicks n={n}", leave=False)]
        summary = summarize(traces, max_clicks)
        summary.update(n=n, fitted=bool(n), learn_seconds=learn_s, changes=changes,
                       prior=None if prior is None else {"area_median": float(np.exp(prior.mu)), "sd": prior.sd, "weight": prior.weight})
        rows.append(summary)
        curves[n] = miou_curve(traces, max_clicks).tolist()
        print(f"n={n:3d}  mIoU@1 {summary['miou@1']:.3f}  mIoU@3 {summary.get('miou@3', float('nan')):.3f}  mIoU@5 {summary['miou@5']:.3f}  "
              f"NoC@90 {summary['noc@90']:.2f}  failures {summary['failures@90']}  learn {learn_s:.1f} s  prior {summary['prior']}  changes {changes}", flush=True)
    return {"data": _repo_relative(data), "learner": "tuner+area" if tune else "area", "seed": seed, "heldout": [t[0] for t in test_items], "max_clicks": max_clicks,
            "rows": rows, "curves": curves}


def first_look_splits(data: Path, ns: list[int], heldout: int, splits: int) -> dict:
    """mIoU after one look (the protocol's first click) over many random splits, paired per split.

    Each object's first-look candidates are computed once; a split draws ``heldout`` test objects
    and a training pool from the rest; for every n the prior is fitted on the pool's first n
    objects and scored on the same test objects. Cheap, so the spread over splits is measured.
    """
    from gazeseg.engines.classic import ClassicEngine
    from gazeseg.learn.area_prior import fit_area_prior, replay_first_look

    objects = load_dataset(data)
    base = ClassicEngine()
    looks = []
    for obj in tqdm(objects, desc="first looks"):
        gt, ignore = obj.load()
        looks.append(replay_first_look(base, base.embed(obj.load_image()), gt, ignore))
    default = np.array([look.ious[int(np.argmax(look.scores))] for look in looks])
    oracle = np.array([look.ious.max() for look in looks])
    gains: dict[int, list[float]] = {n: [] for n in ns if n}
    for split in range(splits):
        order = np.random.default_rng(1000 + split).permutation(len(looks))
        test, pool = order[-heldout:], order[: len(looks) - heldout]
        for n in gains:
            prior = fit_area_prior([looks[i] for i in pool[:n]])
            chosen = np.array([looks[i].ious[int(np.argmax(prior.rescore(looks[i].scores, looks[i].areas)))] for i in test])
            gains[n].append(float(chosen.mean() - default[test].mean()))
    rows = [{"n": n, "gain_mean": float(np.mean(g)), "gain_p05": float(np.percentile(g, 5)), "gain_p95": float(np.percentile(g, 95)),
             "share_positive": float(np.mean(np.array(g) > 0)), "share_negative": float(np.mean(np.array(g) < 0))} for n, g in gains.items()]
    for r in rows:
        print(f"n={r['n']:3d}  mIoU@1 gain {r['gain_mean']:+.3f} (5-95%: {r['gain_p05']:+.3f}..{r['gain_p95']:+.3f}), "
              f"better in {r['share_positive']:.0%} of splits, worse in {r['share_negative']:.0%}")
    return {"data": _repo_relative(data), "splits": splits, "heldout": heldout, "default_miou1": float(default.mean()),
            "oracle_miou1": float(oracle.mean()), "rows": rows}


def tuner_curve(data: Path, ns: list[int], heldout: int, max_clicks: int, seed: int, clicks: int = 3) -> dict:
    """The classic engine with parameters tuned on the first n accepted masks, on held-out objects."""
    import dataclasses

    from gazeseg.engines.classic import ClassicEngine
    from gazeseg.learn.classic_tuner import tune_classic

    base = ClassicEngine()
    pool, test_items = split_and_embed(data, ns, heldout, seed, base)
    train = []
    for obj in pool[: max(ns)]:
        gt, ignore = obj.load()
        train.append((obj.load_image(), gt, ignore))
    rows, curves = [], {}
    for n in sorted(ns):
        start = time.perf_counter()
        chosen = train[:n]
        result = tune_classic([t[0] for t in chosen], [t[1] for t in chosen], [t[2] for t in chosen], clicks=clicks, progress=True)
        learn_s = time.perf_counter() - start
        engine = ClassicEngine(result.params)
        traces = [run_click_protocol(engine, dataclasses.replace(emb, model_id=engine.model_id), gt, ignore, max_clicks=max_clicks)
                  for _, emb, gt, ignore in tqdm(test_items, desc=f"clicks n={n}", leave=False)]
        summary = summarize(traces, max_clicks)
        summary.update(n=n, fitted=bool(n), learn_seconds=learn_s, changes={k: str(v) for k, v in result.changes().items()},
                       train_score=result.score, train_default_score=result.default_score)
        rows.append(summary)
        curves[n] = miou_curve(traces, max_clicks).tolist()
        print(f"n={n:3d}  mIoU@1 {summary['miou@1']:.3f}  mIoU@5 {summary['miou@5']:.3f}  NoC@90 {summary['noc@90']:.2f}  "
              f"failures {summary['failures@90']}  learn {learn_s:.0f} s  changes {summary['changes']}", flush=True)
    return {"data": _repo_relative(data), "learner": "tuner", "heldout": [t[0] for t in test_items], "max_clicks": max_clicks,
            "rows": rows, "curves": curves}


def learning_curve(data: Path, ns: list[int], heldout: int, max_clicks: int, seed: int) -> dict:
    engine = RefinedEngine(create_engine("classic"), PixelRefiner())
    pool, test_items = split_and_embed(data, ns, heldout, seed, engine)
    rows, curves, learned = [], {}, 0
    for n in sorted(ns):
        start = time.perf_counter()
        for obj in tqdm(pool[learned:n], desc=f"learn up to n={n}", leave=False):
            gt, ignore = obj.load()
            engine.learn(obj.load_image(), gt, ignore=ignore, fit=False)
        learned = n
        engine.refiner.fit()
        learn_s = time.perf_counter() - start
        traces = [run_click_protocol(engine, emb, gt, ignore, max_clicks=max_clicks)
                  for _, emb, gt, ignore in tqdm(test_items, desc=f"clicks n={n}", leave=False)]
        summary = summarize(traces, max_clicks)
        summary.update(n=n, fitted=engine.refiner.is_fitted, learn_seconds=learn_s)
        rows.append(summary)
        curves[n] = miou_curve(traces, max_clicks).tolist()
        print(f"n={n:3d}  mIoU@1 {summary['miou@1']:.3f}  mIoU@5 {summary['miou@5']:.3f}  NoC@90 {summary['noc@90']:.2f}  "
              f"failures {summary['failures@90']}  {summary['seconds_per_click']:.2f} s/click  learn {learn_s:.0f} s")
    return {"data": _repo_relative(data), "learner": "refiner", "heldout": [t[0] for t in test_items], "max_clicks": max_clicks,
            "rows": rows, "curves": curves}


def sam_step_speed(steps: int) -> dict:
    """Time of one prompt-side fine-tune step (SAM and SAM 2) on cached-size random features."""
    import torch

    from gazeseg.engines.base import Embedding
    from gazeseg.engines.sam import SamEngine, build_sam_model
    from gazeseg.engines.sam2 import Sam2Engine, build_sam2_model
    from gazeseg.learn.data import TrainingSample, resample_prompts
    from gazeseg.learn.sam2_finetune import Sam2Adapter
    from gazeseg.learn.sam_finetune import SamAdapter, _losses, _Prepared

    torch.manual_seed(0)
    mask = np.zeros((768, 1024), bool)
    mask[200:500, 300:700] = True
    sample = TrainingSample(prompts=resample_prompts(mask, np.random.default_rng(0)), mask=mask, image=np.zeros((8, 8, 3), np.uint8))
    emb_sam = Embedding("speed", "x", (768, 1024), {"features": np.random.randn(256, 64, 64).astype(np.float32), "input_hw": np.array([768, 1024])})
    emb_sam2 = Embedding("speed", "x", (768, 1024), {
        "image_embed": np.random.randn(256, 64, 64).astype(np.float32),
        "high_res_0": np.random.randn(32, 256, 256).astype(np.float32), "high_res_1": np.random.randn(64, 128, 128).astype(np.float32)})
    adapters = {
        "sam": (SamAdapter(SamEngine(build_sam_model("tiny"), model_id="sam-speed")), emb_sam),
        "sam2": (Sam2Adapter(Sam2Engine(build_sam2_model("tiny"), model_id="sam2-speed", arch="tiny")), emb_sam2),
    }
    out: dict = {"steps": steps, "threads": torch.get_num_threads()}
    for name, (adapter, emb) in adapters.items():
        features, target = adapter.prepare(emb, mask)
        item = _Prepared(sample, features, target, emb)
        params = adapter.parameters()
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        rng = np.random.default_rng(0)
        times = []
        for i in range(steps + 2):
            prompts = resample_prompts(mask, rng)
            start = time.perf_counter()
            loss, _ = _losses(adapter, item, prompts, 20.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i >= 2:  # warm-up
                times.append(time.perf_counter() - start)
        n_params = sum(p.numel() for p in params)
        out[name] = {"trainable_params": n_params, "step_ms_median": 1000 * float(np.median(times)),
                     "step_ms_p90": 1000 * float(np.percentile(times, 90))}
        print(f"{name} decoder fine-tune step: {out[name]['step_ms_median']:.0f} ms median ({n_params / 1e6:.2f} M trainable, {out['threads']} threads)")
    return out


def write_report(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "learning.json").write_text(json.dumps(result, indent=2))
    lines = ["# Learning from accepted masks: weight-free engine", "",
             f"Data: `{Path(result['curve']['data']).name}`, {len(result['curve']['heldout'])} held-out objects, "
             f"click protocol up to {result['curve']['max_clicks']} clicks.", "",
             "| n accepted | mIoU@1 | mIoU@5 | NoC@90 | failures@90 | s/click | learn s |", "|---|---|---|---|---|---|---|"]
    for r in result["curve"]["rows"]:
        lines.append(f"| {r['n']} | {r['miou@1']:.3f} | {r['miou@5']:.3f} | {r['noc@90']:.2f} | {r['failures@90']} | "
                     f"{r['seconds_per_click']:.2f} | {r['learn_seconds']:.0f} |")
    if result.get("sam"):
        s = result["sam"]
        for name in ("sam", "sam2"):
            t = s[name]
            lines += ["", f"{name.upper()} prompt-side fine-tune step (random weights, CPU, {s['threads']} threads): "
                      f"{t['step_ms_median']:.0f} ms median, {t['step_ms_p90']:.0f} ms p90, {t['trainable_params'] / 1e6:.2f} M trainable parameters."]
    lines += ["", "![learning curve](learning_curve.png)"]
    (out / "learning.md").write_text("\n".join(lines) + "\n")
    rows = result["curve"]["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    ns = [r["n"] for r in rows]
    axes[0].plot(ns, [r["miou@1"] for r in rows], "o-", label="mIoU@1")
    axes[0].plot(ns, [r["miou@5"] for r in rows], "s-", label="mIoU@5")
    axes[0].set_xlabel("accepted masks learned from (n)")
    axes[0].set_ylabel("mIoU on held-out")
    axes[0].legend()
    axes[1].plot(ns, [r["noc@90"] for r in rows], "o-", color="C3")
    axes[1].set_xlabel("accepted masks learned from (n)")
    axes[1].set_ylabel("NoC@90 (lower is better)")
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=90)
    print(f"report: {out / 'learning.md'}")


def combine(paths: list[Path], out: Path, splits: list[Path]) -> None:
    """docs/results/learning_classic.md + learning_classic_curve.png from several runs' learning.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(Path(p).read_text()) for p in paths]
    lines = ["# Learning from accepted masks: weight-free engine", "",
             "Simulated users: ground truth stands in for accepted masks. Training objects are the first n of a shuffled",
             "folder (nested); the held-out objects are never learned from and are the same for every n. Click protocol:",
             "first click deep inside the object (multimask, best-scored candidate), then at the largest error.", ""]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for run, path in zip(runs, paths, strict=True):
        c = run["curve"]
        name = f"{Path(c['data']).name}, {c.get('learner', 'refiner')}, seed {c.get('seed', 0)}"
        lines += [f"## {name}", "", f"{len(c['heldout'])} held-out objects, up to {c['max_clicks']} clicks; raw: `{Path(path).name}`.", "",
                  "| n accepted | mIoU@1 | mIoU@3 | mIoU@5 | NoC@90 | failures@90 | learn s | learnt |", "|---|---|---|---|---|---|---|---|"]
        for r in c["rows"]:
            learnt = r.get("prior") or r.get("changes") or ""
            if isinstance(learnt, dict) and "weight" in learnt:
                learnt = f"median area {learnt['area_median']:.3f}, sd {learnt['sd']:.2f}, weight {learnt['weight']:g}"
            lines.append(f"| {r['n']} | {r['miou@1']:.3f} | {r['miou@3']:.3f} | {r['miou@5']:.3f} | {r['noc@90']:.2f} | "
                         f"{r['failures@90']} | {r['learn_seconds']:.0f} | {learnt} |")
        lines.append("")
        ns = [r["n"] for r in c["rows"]]
        (line,) = axes[0].plot(ns, [r["miou@1"] for r in c["rows"]], "o-", label=f"{name}: @1")
        axes[0].plot(ns, [r["miou@5"] for r in c["rows"]], "s--", color=line.get_color(), label=f"{name}: @5")
    for path in splits:
        r = json.loads(Path(path).read_text())
        name = Path(r["data"]).name
        lines += [f"## {name}: first-look gain over {r['splits']} random splits ({r['heldout']} held out each)", "",
                  f"mIoU@1 of the hand-set choice {r['default_miou1']:.3f}, best of the three candidates (oracle) {r['oracle_miou1']:.3f}.", "",
                  "| n accepted | mean gain in mIoU@1 | 5-95% over splits | splits better | splits worse |", "|---|---|---|---|---|"]
        for row in r["rows"]:
            lines.append(f"| {row['n']} | {row['gain_mean']:+.3f} | {row['gain_p05']:+.3f} .. {row['gain_p95']:+.3f} | "
                         f"{row['share_positive']:.0%} | {row['share_negative']:.0%} |")
        lines.append("")
        axes[1].plot([row["n"] for row in r["rows"]], [row["gain_mean"] for row in r["rows"]], "o-", label=name)
        axes[1].fill_between([row["n"] for row in r["rows"]], [row["gain_p05"] for row in r["rows"]],
                             [row["gain_p95"] for row in r["rows"]], alpha=0.2)
    axes[0].set_xlabel("accepted masks learned from (n)")
    axes[0].set_ylabel("mIoU on held-out objects")
    axes[0].legend(fontsize=6)
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_xlabel("accepted masks learned from (n)")
    axes[1].set_ylabel("mIoU@1 gain (mean, 5-95% of splits)")
    if splits:
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "learning_classic_curve.png", dpi=90)
    lines += ["![learning curves](learning_classic_curve.png)", ""]
    (out / "learning_classic.md").write_text("\n".join(lines))
    print(f"report: {out / 'learning_classic.md'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "grabcut")
    parser.add_argument("--ns", type=int, nargs="+", default=[0, 5, 10, 20])
    parser.add_argument("--heldout", type=int, default=12)
    parser.add_argument("--max-clicks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learner", choices=["area", "both", "tuner", "refiner"], default="area")
    parser.add_argument("--splits", type=int, default=0, help="area: also the first-look gain over this many random splits")
    parser.add_argument("--sam-steps", type=int, default=10, help="0 skips the SAM speed part")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "learning")
    parser.add_argument("--combine", type=Path, nargs="+", help="only write OUT/learning_classic.md from these runs' learning.json")
    parser.add_argument("--combine-splits", type=Path, nargs="*", default=[], help="with --combine: first_look_splits JSON files")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.out, args.combine_splits)
        return
    curve = {"area": area_curve, "both": both_curve, "tuner": tuner_curve, "refiner": learning_curve}[args.learner]
    result = {"curve": curve(args.data, args.ns, args.heldout, args.max_clicks, args.seed)}
    if args.splits:
        result["splits"] = first_look_splits(args.data, args.ns, args.heldout, args.splits)
    result["sam"] = sam_step_speed(args.sam_steps) if args.sam_steps else None
    write_report(result, args.out)


if __name__ == "__main__":
    main()
