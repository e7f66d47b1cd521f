"""``gazeseg finetune PROJECT``: learn from a project's accepted masks.

``--engine sam`` / ``sam2``: fine-tune the prompt encoder + mask decoder (image encoder frozen,
embeddings from the cache, so it runs on a CPU) into numbered versions OUT/v001, v002, ... with
metadata; open the app with ``--checkpoint OUT/vNNN/model.pth`` (SAM 2: ``sam2-model.pt``) or
switch to a version inside the app. ``--engine classic``: tune the weight-free engine's prompt-time
parameters into a version (``classic-params.json``, see ``learn.classic_tuner``) and refit its
candidate selector (``models/classic-selector-vN.pkl``).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gazeseg.core.errors import InputError

if TYPE_CHECKING:
    from gazeseg.store import ProjectStore


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("finetune", help="improve the model from a project's accepted masks")
    p.add_argument("project", type=Path, help="the project's SQLite file")
    p.add_argument("--engine", choices=["auto", "sam", "sam2", "classic"], default="auto",
                   help="auto: the family of --checkpoint or of the latest version in --out, else classic")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="SAM or SAM 2 checkpoint to start from (default: the latest version in --out)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--clicks", type=int, default=3, help="classic: simulated clicks replayed per accepted mask when tuning")
    p.add_argument("--out", type=Path, default=None, help="versions folder (default: the project's folder/models)")
    p.add_argument("--list", action="store_true", help="only list the SAM versions in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gazeseg.learn.versions import latest_version, list_versions

    out = args.out or args.project.parent / "models"
    if args.list:
        for v in list_versions(out):
            before, after = v.meta.get("before", {}), v.meta.get("after", {})
            print(f"{v.name}  {v.meta.get('engine', 'sam')}  parent={v.meta.get('parent')}  "
                  f"val_iou {before.get('val_iou')} -> {after.get('val_iou')}")
        return 0
    from gazeseg.store import ProjectStore

    if not args.project.is_file():
        raise InputError(f"finetune: no project at {args.project}; give the .sqlite file the app wrote")
    store = ProjectStore(args.project)
    if not store.masks():
        raise InputError("finetune: the project has no accepted masks yet; annotate some first")
    name = args.engine
    if name == "auto":
        latest = latest_version(out)
        if args.checkpoint is not None:
            from gazeseg.engines.select import guess_engine

            name = guess_engine(Path(args.checkpoint))
        elif latest is not None:
            name = latest.meta.get("engine", "sam")
        else:
            name = "classic"
    if name in ("sam", "sam2"):
        return _finetune_sam(args, out, name)
    return _finetune_classic(args, store, out)


def _finetune_classic(args: argparse.Namespace, store: ProjectStore, out: Path) -> int:
    """Tune the classic engine's prompt-time parameters into a version; refit the candidate selector."""
    from gazeseg.app.catalog import Catalog
    from gazeseg.core.types import PromptSet
    from gazeseg.engines.classic import ClassicEngine
    from gazeseg.eval.clicks import interior_point
    from gazeseg.eval.metrics import iou
    from gazeseg.learn.area_prior import AreaPriorEngine, fit_area_prior, replay_first_look
    from gazeseg.learn.classic_tuner import save_params, tune_classic
    from gazeseg.learn.data import data_hash, samples_from_project, split
    from gazeseg.learn.selector import CandidateSelector, candidate_features
    from gazeseg.learn.versions import AREA_PRIOR_NAME, save_version

    samples = samples_from_project(args.project)
    if not samples:
        raise InputError(f"finetune: {args.project} has no accepted masks with a readable image; accept some masks in the app first")
    train, val = split(samples, args.val_fraction)
    result = tune_classic([s.image for s in train], [s.mask for s in train], clicks=args.clicks, progress=True)
    tuned = ClassicEngine(result.params)
    looks = [replay_first_look(tuned, tuned.embed(s.image), s.mask) for s in train]
    prior = fit_area_prior(looks)
    learnt = AreaPriorEngine(tuned, prior)
    before = {"train_iou": result.default_score}
    after = {"train_iou": result.score}
    if val:  # held-out masks: the same simulated session, defaults vs learnt
        before["val_iou"] = _session_iou(ClassicEngine(), val, args.clicks)
        after["val_iou"] = _session_iou(learnt, val, args.clicks)
    meta = {"engine": "classic", "parent": "defaults", "project": str(args.project), "data_hash": data_hash(samples),
            "n_train": len(train), "n_val": len(val), "before": before, "after": after,
            "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in result.changes().items()},
            "area_prior": {"area_median": float(np.exp(prior.mu)), "sd": prior.sd, "weight": prior.weight},
            "config": {"clicks": args.clicks, "val_fraction": args.val_fraction}}

    def write(path: Path) -> None:
        save_params(result.params, path)
        prior.save(path.parent / AREA_PRIOR_NAME)

    version = save_version(out, write, meta, checkpoint_name="classic-params.json")
    print(json.dumps({"version": version.name, "engine": "classic", "checkpoint": str(version.checkpoint),
                      "changes": meta["changes"], "area_prior": meta["area_prior"], "before": before, "after": after}, indent=2, default=str))

    engine = ClassicEngine()
    catalog = Catalog(store)
    feats, ious = [], []
    for row in store.masks():
        mask = store.decode(row)
        embedding = engine.embed(catalog.rgb(row.item_id, row.slice_index))
        pred = engine.predict(embedding, PromptSet(points_xy=np.array([interior_point(mask)]), labels=np.array([1])))
        feats.append(candidate_features(pred.masks, pred.scores))
        ious.append(np.array([iou(m, mask) for m in pred.masks]))
    selector = CandidateSelector().fit(feats, ious)
    out.mkdir(parents=True, exist_ok=True)
    number = 1 + len(list(out.glob("classic-selector-v*.pkl")))
    path = out / f"classic-selector-v{number}.pkl"
    path.write_bytes(pickle.dumps(selector.model))
    print(f"trained the classic candidate selector on {len(feats)} accepted masks -> {path}")
    return 0


def _session_iou(engine: object, samples: list, clicks: int) -> float:
    from gazeseg.learn.classic_tuner import session_score

    return float(np.mean([session_score(engine, engine.embed(s.image), s.mask, None, clicks) for s in samples]))


def _finetune_sam(args: argparse.Namespace, out: Path, family: str) -> int:
    from gazeseg.engines.cache import EmbeddingCache
    from gazeseg.engines.registry import create_engine
    from gazeseg.learn.data import samples_from_project
    from gazeseg.learn.sam_finetune import FinetuneConfig
    from gazeseg.learn.versions import latest_version, save_version

    checkpoint = args.checkpoint
    if checkpoint is None:
        latest = latest_version(out)
        if latest is None:
            raise InputError(f"finetune: no --checkpoint and no earlier version in {out}; pass --checkpoint PATH (a {family.upper()} checkpoint)")
        if latest.meta.get("engine", "sam") != family:
            raise InputError(f"finetune: the latest version {latest.name} is a {latest.meta.get('engine', 'sam')} model, not {family}; "
                             "pass --checkpoint or a different --out")
        checkpoint = latest.checkpoint
    if not Path(checkpoint).is_file():
        raise InputError(f"--checkpoint: expected a {family.upper()} checkpoint file, got '{checkpoint}' (missing)")
    samples = samples_from_project(args.project)
    if not samples:
        raise InputError(f"finetune: {args.project} has no accepted masks with a readable image; accept some masks in the app first")
    engine = create_engine(family, checkpoint=checkpoint)
    config = FinetuneConfig(epochs=args.epochs, lr=args.lr, val_fraction=args.val_fraction, patience=args.patience)
    if family == "sam2":
        from gazeseg.learn.sam2_finetune import finetune_sam2 as train
        from gazeseg.learn.sam2_finetune import save_sam2_checkpoint as write
        checkpoint_name = "sam2-model.pt"  # "sam2" in the name: ``guess_engine`` and the app pick the right family
    else:
        from gazeseg.learn.sam_finetune import finetune_sam as train
        from gazeseg.learn.sam_finetune import save_sam_checkpoint as write
        checkpoint_name = "model.pth"
    result = train(engine, samples, config=config, cache=EmbeddingCache(), progress=True)
    meta = {
        "engine": family, "parent": str(checkpoint), "parent_model_id": engine.model_id,
        "project": str(args.project), "data_hash": result.data_hash, "n_train": result.n_train, "n_val": result.n_val,
        "best_epoch": result.best_epoch, "before": result.before, "after": result.after,
        "history": result.history, "config": result.config,
    }
    version = save_version(out, lambda path: write(engine.model, path), meta, checkpoint_name=checkpoint_name)
    print(json.dumps({"version": version.name, "engine": family, "checkpoint": str(version.checkpoint),
                      "before": result.before, "after": result.after}, indent=2))
    return 0
