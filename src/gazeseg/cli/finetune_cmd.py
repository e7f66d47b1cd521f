"""``gazeseg finetune PROJECT``: learn from a project's accepted masks.

``--engine sam``: fine-tune SAM's prompt encoder + mask decoder (image encoder frozen, embeddings
from the cache, so it runs on a CPU) into numbered versions OUT/v001, v002, ... with metadata;
open the app with ``--checkpoint OUT/vNNN/model.pth``. ``--engine classic``: train the candidate
selector of the weight-free engine (``models/classic-selector-vN.pkl``).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("finetune", help="improve the model from a project's accepted masks")
    p.add_argument("project", type=Path, help="the project's SQLite file")
    p.add_argument("--engine", choices=["auto", "sam", "classic"], default="auto",
                   help="auto: sam when a checkpoint is given or a version exists in --out, else classic")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="SAM-format checkpoint to start from (default: the latest version in --out)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="versions folder (default: the project's folder/models)")
    p.add_argument("--list", action="store_true", help="only list the SAM versions in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gazeseg.learn.versions import latest_version, list_versions

    out = args.out or args.project.parent / "models"
    if args.list:
        for v in list_versions(out):
            before, after = v.meta.get("before", {}), v.meta.get("after", {})
            print(f"{v.name}  parent={v.meta.get('parent')}  val_iou {before.get('val_iou')} -> {after.get('val_iou')}")
        return 0
    from gazeseg.store import ProjectStore

    if not args.project.is_file():
        raise InputError(f"finetune: no project at {args.project}; give the .sqlite file the app wrote")
    store = ProjectStore(args.project)
    if not store.masks():
        raise InputError("finetune: the project has no accepted masks yet; annotate some first")
    name = args.engine
    if name == "auto":
        name = "sam" if args.checkpoint is not None or latest_version(out) is not None else "classic"
    if name == "sam":
        return _finetune_sam(args, out)
    from gazeseg.app.catalog import Catalog
    from gazeseg.engines.registry import create_engine

    engine = create_engine("classic")
    catalog = Catalog(store)
    models = out
    if engine.name == "classic":
        from gazeseg.core.types import PromptSet
        from gazeseg.eval.clicks import interior_point
        from gazeseg.eval.metrics import iou
        from gazeseg.learn.selector import CandidateSelector, candidate_features

        feats, ious = [], []
        for row in store.masks():
            mask = store.decode(row)
            embedding = engine.embed(catalog.rgb(row.item_id, row.slice_index))
            pred = engine.predict(embedding, PromptSet(points_xy=np.array([interior_point(mask)]), labels=np.array([1])))
            feats.append(candidate_features(pred.masks, pred.scores))
            ious.append(np.array([iou(m, mask) for m in pred.masks]))
        selector = CandidateSelector().fit(feats, ious)
        models.mkdir(parents=True, exist_ok=True)
        version = 1 + len(list(models.glob("classic-selector-v*.pkl")))
        path = models / f"classic-selector-v{version}.pkl"
        path.write_bytes(pickle.dumps(selector.model))
        print(f"trained the classic candidate selector on {len(feats)} accepted masks -> {path}")
        return 0
    raise InputError(f"finetune: engine '{engine.name}' cannot be fine-tuned here (SAM 2 fine-tuning is not implemented)")


def _finetune_sam(args: argparse.Namespace, out: Path) -> int:
    from gazeseg.engines.cache import EmbeddingCache
    from gazeseg.engines.registry import create_engine
    from gazeseg.learn.data import samples_from_project
    from gazeseg.learn.sam_finetune import FinetuneConfig, finetune_sam, save_sam_checkpoint
    from gazeseg.learn.versions import latest_version, save_version

    checkpoint = args.checkpoint
    if checkpoint is None:
        latest = latest_version(out)
        if latest is None:
            raise InputError("finetune: no --checkpoint and no earlier version in the output folder; pass --checkpoint PATH (a SAM .pth)")
        checkpoint = latest.checkpoint
    if not Path(checkpoint).is_file():
        raise InputError(f"--checkpoint: expected a SAM checkpoint file, got '{checkpoint}' (missing)")
    samples = samples_from_project(args.project)
    if not samples:
        raise InputError(f"finetune: {args.project} has no accepted 2-D image masks; accept some masks in the app first")
    engine = create_engine("sam", checkpoint=checkpoint)
    config = FinetuneConfig(epochs=args.epochs, lr=args.lr, val_fraction=args.val_fraction, patience=args.patience)
    result = finetune_sam(engine, samples, config=config, cache=EmbeddingCache(), progress=True)
    meta = {
        "engine": "sam", "parent": str(checkpoint), "parent_model_id": engine.model_id,
        "project": str(args.project), "data_hash": result.data_hash, "n_train": result.n_train, "n_val": result.n_val,
        "best_epoch": result.best_epoch, "before": result.before, "after": result.after,
        "history": result.history, "config": result.config,
    }
    version = save_version(out, lambda path: save_sam_checkpoint(engine.model, path), meta)
    print(json.dumps({"version": version.name, "checkpoint": str(version.checkpoint), "before": result.before, "after": result.after}, indent=2))
    return 0
