"""Learning curves: the model improves as annotations accumulate (issue 9).

    python benchmarks/bench_learning.py [--idrid ../shared/data/idrid] [--natural ../shared/data/grabcut]

Retina: a simulated clinician confirms or rejects the candidates that pass the filter's rules on
the first N IDRiD images (ground truth decides); the lesion learner, which starts from the hand-set
filter score, trains on those decisions; on the held-out images we report lesion-level precision at
the sensitivity of the hand-set filter's lesion list (equal sensitivity).
Classic engine: the candidate selector learns from the first N accepted objects of a natural-image
folder; mIoU after one look on the held-out objects, versus the hand-set choice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from gazeseg.core.types import PromptSet
from gazeseg.engines.registry import create_engine
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from gazeseg.io.images import load_image
from gazeseg.learn.lesion_learner import FEATURES, LesionLearner, feature_vector
from gazeseg.learn.selector import CandidateSelector, candidate_features
from gazeseg.retina.pipeline import RetinaPipeline
from gazeseg.retina.preprocess import prepare
from gazeseg.retina.reading import simulate_reading


def retina_candidates(folder: Path, max_candidates: int, seed: int = 0) -> list[dict]:
    """The filter's candidates on every IDRiD image, read like in bench_retina (same simulated readings).

    Rows: (features, MA label hit or 0, passes the rules). The clinician sees (and decides on) the
    candidates that pass the rules, as in the app."""
    from scipy import ndimage as ndi

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_retina import distractor_mask

    engine = create_engine("classic")
    pipe = RetinaPipeline(engine, mode="saliency+filter", max_candidates=max_candidates)
    out = []
    for index, path in enumerate(tqdm(sorted((folder / "images").glob("*.jpg")), desc="IDRiD candidates", unit="img")):
        image = load_image(path)
        gt = cv2.imread(str(folder / "masks_MA" / f"{path.stem}_MA.png"), 0) > 127
        view = prepare(image)
        reading = simulate_reading(image.shape[:2], view.fov, gt, distractor_mask(folder / "masks_color" / f"{path.stem}.png", gt.shape), rng=seed + index)
        result = pipe.run(image, reading.fixations, px_per_deg=reading.px_per_deg, view=view)
        labels, n = ndi.label(gt)
        rows = []
        for c in result.candidates:
            y0, x0, y1, x1 = c.box
            hit_labels = np.unique(labels[y0:y1, x0:x1][c.mask])
            hit_labels = hit_labels[hit_labels > 0]
            rows.append((feature_vector(c), int(hit_labels[0]) if len(hit_labels) else 0, c.kept))
        out.append({"image": path.stem, "lesions": n, "rows": rows})
    return out


def precision_at_sensitivity(images: list[dict], scores: list[np.ndarray], target: float) -> tuple[float, float]:
    """Precision (and sensitivity) at the highest threshold whose lesion sensitivity reaches ``target``.

    Candidates of all images ranked together; an MA counts once, however many candidates hit it."""
    total = sum(img["lesions"] for img in images)
    score = np.concatenate([s for s in scores]) if scores else np.zeros(0)
    keys = np.array([(k, r[1]) for k, img in enumerate(images) for r in img["rows"]]).reshape(-1, 2)
    if not len(score) or total == 0:
        return 0.0, 0.0
    order = np.argsort(-score, kind="stable")
    keys, score = keys[order], score[order]
    hit = keys[:, 1] > 0
    seen: set[tuple[int, int]] = set()
    first = np.zeros(len(keys), bool)
    for i, (k, label) in enumerate(keys):
        if label and (k, label) not in seen:
            seen.add((k, label))
            first[i] = True
    found = np.cumsum(first) / total
    # Thresholds sit between distinct scores: only the last row of each tie group is an operating point.
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    ok = last[found[last] >= target - 1e-12]
    if not len(ok):
        return 0.0, float(found[-1])
    i = ok[0]
    return float(np.cumsum(hit)[i] / (i + 1)), float(found[i])


def retina_curve(images: list[dict], n_test: int, filter_threshold: float) -> dict:
    """Train on the decisions of the first N images; held-out: the last ``n_test`` images.

    Operating point: the hand-set filter's lesion list (rules pass, filter score >= threshold):
    its sensitivity on the held-out images is the one every row of the curve is held to."""
    prior = FEATURES.index("prior")
    test = [{**img, "rows": [r for r in img["rows"] if r[2]]} for img in images[-n_test:]]
    pool = [{**img, "rows": [r for r in img["rows"] if r[2]]} for img in images[:-n_test]]
    total = sum(img["lesions"] for img in test)
    listed = [[r for r in img["rows"] if r[0][prior] >= filter_threshold] for img in test]
    rule_sens = sum(len({r[1] for r in rows if r[1]}) for rows in listed) / max(1, total)
    rule_precision = float(np.mean([bool(r[1]) for rows in listed for r in rows])) if any(listed) else 0.0
    all_kept = [r for img in test for r in img["rows"]]
    curve = [{"annotated_images": 0, "precision": rule_precision, "sensitivity": rule_sens, "what": "hand-set filter (rules + score threshold)"}]
    hand = [LesionLearner().score(np.array([r[0] for r in img["rows"]])) if img["rows"] else np.zeros(0) for img in test]
    precision, sens = precision_at_sensitivity(test, hand, rule_sens)
    curve.append({"annotated_images": 0, "precision": precision, "sensitivity": sens, "what": "hand-set filter score, best threshold"})
    for n in range(1, len(pool) + 1):
        X = np.array([r[0] for img in pool[:n] for r in img["rows"]])  # noqa: N806
        y = np.array([int(bool(r[1])) for img in pool[:n] for r in img["rows"]])
        if len(set(y.tolist())) < 2:
            continue
        learner = LesionLearner().fit(X, y)
        scores = [learner.score(np.array([r[0] for r in img["rows"]])) if img["rows"] else np.zeros(0) for img in test]
        precision, sens = precision_at_sensitivity(test, scores, rule_sens)
        curve.append({"annotated_images": n, "precision": precision, "sensitivity": sens, "decisions": int(len(y)), "what": "learned"})
    return {"test_images": [img["image"] for img in test], "kept_candidates": len(all_kept), "lesions": total, "curve": curve}


def classic_curve(folder: Path, n_test: int, steps: list[int]) -> dict:
    engine = create_engine("classic")
    objects = list(load_dataset(folder))
    rows = []
    for obj in tqdm(objects, desc=f"{folder.name} first looks", unit="obj"):
        gt, ignore = obj.load()
        embedding = engine.embed(obj.load_image())
        x, y = interior_point(gt, ignore)
        pred = engine.predict(embedding, PromptSet(points_xy=np.array([[x, y]]), labels=np.array([1])))
        rows.append((candidate_features(pred.masks, pred.scores), np.array([iou(m, gt, ignore) for m in pred.masks]), pred.best_index))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    test = [rows[i] for i in order[:n_test]]
    pool = [rows[i] for i in order[n_test:]]
    hand = float(np.mean([r[1][r[2]] for r in test]))
    oracle = float(np.mean([r[1].max() for r in test]))
    curve = [{"annotated_objects": 0, "miou_first_look": hand}]
    for n in steps:
        if n > len(pool):
            break
        selector = CandidateSelector().fit([r[0] for r in pool[:n]], [r[1] for r in pool[:n]])
        curve.append({"annotated_objects": n, "miou_first_look": float(np.mean([r[1][selector.choose(r[0])] for r in test]))})
    return {"folder": folder.name, "test_objects": n_test, "oracle": oracle, "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idrid", type=Path, default=Path("../shared/data/idrid"))
    parser.add_argument("--natural", type=Path, action="append", default=None)
    parser.add_argument("--max-candidates", type=int, default=1500)
    parser.add_argument("--skip-classic", action="store_true", help="only the retina curve (the classic-engine part takes minutes)")
    parser.add_argument("--out", type=Path, default=Path("results/bench_learning"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    naturals = args.natural or [Path("../shared/data/grabcut"), Path("../shared/data/davis")]
    report = {"classic": [] if args.skip_classic else [classic_curve(f, n_test=20 if "grabcut" in f.name else 40, steps=[2, 5, 10, 20, 30, 50, 75]) for f in naturals]}
    images = retina_candidates(args.idrid, args.max_candidates)
    report["retina"] = retina_curve(images, n_test=4, filter_threshold=RetinaPipeline.filter_threshold)
    # The same curve with other held-out images (the list rotated), so one lucky split cannot make the gain.
    report["retina_rotations"] = [retina_curve(images[k:] + images[:k], n_test=4, filter_threshold=RetinaPipeline.filter_threshold)
                                  for k in range(2, len(images), 2) if len(images) >= 6]
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    _plot(report, args.out / "learning_curves.png")
    md = _markdown(report)
    (args.out / "report.md").write_text(md)
    print(md)


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if report["classic"] else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.5), dpi=100, squeeze=False)
    axes = axes[0]
    r = report["retina"]["curve"]
    learned = [r[1]] + [p for p in r if p["what"] == "learned"]
    axes[0].plot([p["annotated_images"] for p in learned], [p["precision"] for p in learned], marker="o", label="learner (0: hand-set score)")
    axes[0].axhline(r[0]["precision"], ls="--", lw=0.8, color="grey", label="hand-set filter's lesion list")
    axes[0].legend(fontsize=8)
    axes[0].set_xlabel("annotated fundus images")
    axes[0].set_ylabel("lesion precision at equal sensitivity")
    axes[0].set_title("retina: learned filter")
    for c in report["classic"]:  # only drawn when the classic part ran
        axes[1].plot([p["annotated_objects"] for p in c["curve"]], [p["miou_first_look"] for p in c["curve"]], marker="o", label=c["folder"])
        axes[1].axhline(c["oracle"], ls="--", lw=0.8, color="grey")
    if report["classic"]:
        axes[1].set_xlabel("accepted objects")
        axes[1].set_ylabel("mIoU after one look (held out)")
        axes[1].set_title("classic engine: learned candidate choice")
        axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(report: dict) -> str:
    rr = report["retina"]
    lines = ["# Learning from annotations", "", "## Retina: lesion precision at equal sensitivity (held-out IDRiD images "
             + ", ".join(rr["test_images"]) + f"; {rr['kept_candidates']} candidates pass the rules, {rr['lesions']} MAs)", "",
             "| annotated images | decisions | precision | sensitivity | |", "|---|---|---|---|---|"]
    for p in rr["curve"]:
        lines.append(f"| {p['annotated_images']} | {p.get('decisions', '-')} | {p['precision']:.3f} | {p['sensitivity']:.3f} | {p['what']} |")
    for c in report["classic"]:
        lines += ["", f"## Classic engine on {c['folder']}: mIoU after one look, {c['test_objects']} held-out objects (oracle choice {c['oracle']:.3f})", "",
                  "| accepted objects | mIoU@1 |", "|---|---|"]
        for p in c["curve"]:
            lines.append(f"| {p['annotated_objects']} {'(hand-set choice)' if p['annotated_objects'] == 0 else ''} | {p['miou_first_look']:.3f} |")
    rotations = [report["retina"], *report.get("retina_rotations", [])]
    if len(rotations) > 1:
        header = " | ".join(str(p["annotated_images"]) for p in rotations[0]["curve"][2:])
        lines += ["", "### Every held-out split: precision at the hand-set filter's sensitivity (hand-set list / hand-set score / learned from 1..N images)", "",
                  f"| held-out images | sensitivity | hand-set list | hand-set score | {header} |", "|---|---|---|---|" + "---|" * len(rotations[0]["curve"][2:])]
        for rot in rotations:
            c = rot["curve"]
            lines.append(f"| {', '.join(rot['test_images'])} | {c[0]['sensitivity']:.3f} | {c[0]['precision']:.3f} | {c[1]['precision']:.3f} | "
                         + " | ".join(f"{p['precision']:.3f}" for p in c[2:]) + " |")
    if not report["classic"]:
        lines += ["", "The weight-free engine's learning curves: `benchmarks/bench_learning_refine.py` ([learning_classic.md](learning_classic.md))."]
    lines += ["", "![learning curves](learning_curves.png)"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
