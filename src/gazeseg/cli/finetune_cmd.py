"""``gazeseg finetune PROJECT``: learn from a project's accepted masks.

With a SAM checkpoint: fine-tune its prompt encoder and mask decoder (image encoder frozen) and
save ``models/sam-finetuned-vN.pth`` next to the project; open the app with
``--checkpoint`` on it to use it. With the classic engine: train the candidate selector.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("finetune", help="improve the model from a project's accepted masks")
    p.add_argument("project", type=Path, help="the project's SQLite file")
    p.add_argument("--engine", default="auto")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-4)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gazeseg.app.catalog import Catalog
    from gazeseg.core.errors import InputError
    from gazeseg.engines.select import engine_from_args
    from gazeseg.store import ProjectStore

    if not args.project.is_file():
        raise InputError(f"finetune: no project at {args.project}; give the .sqlite file the app wrote")
    store = ProjectStore(args.project)
    if not store.masks():
        raise InputError("finetune: the project has no accepted masks yet; annotate some first")
    engine = engine_from_args(args.engine, args.checkpoint)
    catalog = Catalog(store)
    models = args.project.parent / "models"
    if engine.name == "sam":
        from gazeseg.learn.sam_finetune import examples_from_store, finetune_sam

        report = finetune_sam(engine, examples_from_store(store, engine, catalog), models, epochs=args.epochs, lr=args.lr)
        print(f"v{report.version}: held-out IoU {report.val_iou_before:.3f} -> {report.val_iou_after:.3f} "
              f"({report.train_examples} train / {report.val_examples} held out, {report.epochs_run} epochs) -> {report.checkpoint}")
        return 0
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
