"""Fine-tune SAM's prompt encoder + mask decoder on accepted masks, image encoder frozen.

Why this split: the ViT image encoder is 90%+ of SAM's compute and its embeddings are already in
the EmbeddingCache, so training only the light prompt side runs on a CPU (as in MedSAM-style
decoder tuning). Loss is SAM's: 20 x focal + dice on the low-res logits, plus the MSE of the
predicted IoU; single-point prompts are ambiguous, so they use the three outputs and the best one
carries the loss. Prompts are resampled from each mask every epoch (see ``data.resample_prompts``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.learn.data import TrainingSample, data_hash, resample_prompts, split

LOW_RES = 256


@dataclass
class FinetuneConfig:
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    patience: int = 3
    """Stop after this many epochs without a lower validation loss (the best state is kept)."""
    prompts_per_sample: int = 2
    seed: int = 0
    focal_weight: float = 20.0


@dataclass
class FinetuneResult:
    history: list[dict[str, float]]
    before: dict[str, float]
    after: dict[str, float]
    best_epoch: int
    n_train: int
    n_val: int
    data_hash: str
    config: dict[str, Any] = field(default_factory=dict)


def low_res_target(mask: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """(256, 256) float target in SAM's low-res frame: resized to the 1024 input, padded bottom/right."""
    import cv2

    ih, iw = input_hw
    th, tw = max(1, round(ih * LOW_RES / 1024)), max(1, round(iw * LOW_RES / 1024))
    small = cv2.resize(mask.astype(np.float32), (tw, th), interpolation=cv2.INTER_AREA)
    out = np.zeros((LOW_RES, LOW_RES), np.float32)
    out[:th, :tw] = small > 0.5
    return out


class _Prepared:
    """A sample with its cached image features (torch tensors) and its low-res target."""

    def __init__(self, sample: TrainingSample, features: Any, target: np.ndarray, embedding: Any) -> None:
        self.sample = sample
        self.features = features
        self.embedding = embedding
        self.target = target


class SamAdapter:
    """What the shared loop needs from SAM (v1): its prompt-side modules and one forward pass.

    The SAM 2 twin is ``sam2_finetune.Sam2Adapter``; the loop, loss, split and early stopping
    are shared (``train_prompt_side``).
    """

    family = "sam"

    def __init__(self, engine: Any) -> None:
        model = engine.model
        if not hasattr(model, "prompt_encoder") or not hasattr(model, "mask_decoder"):
            raise InputError("finetune: expected a SAM engine (prompt_encoder + mask_decoder); use --engine sam, or --engine sam2 for SAM 2")
        self.engine = engine
        self.model = model
        self.trainable = [model.prompt_encoder, model.mask_decoder]

    def parameters(self) -> list[Any]:
        return [p for module in self.trainable for p in module.parameters()]

    def is_trained(self, key: str) -> bool:
        """Whether a state-dict key belongs to the trained (prompt) side."""
        return key.startswith(("prompt_encoder.", "mask_decoder."))

    def prepare(self, emb: Any, mask: np.ndarray) -> tuple[Any, np.ndarray]:
        import torch

        input_hw = tuple(int(v) for v in emb.payload["input_hw"])
        return torch.as_tensor(np.asarray(emb.payload["features"], np.float32))[None], low_res_target(mask, input_hw)

    def forward(self, item: _Prepared, prompts: PromptSet, multimask: bool):  # noqa: ANN201
        """(low-res logits (K, 256, 256), predicted IoU (K,)) with gradients."""
        import torch

        model = self.model
        coords, box = self.engine._prompt_arrays(item.embedding, prompts)
        points = None
        if coords is not None:
            points = (torch.as_tensor(coords, dtype=torch.float32)[None], torch.as_tensor(prompts.labels, dtype=torch.int64)[None])
        boxes = torch.as_tensor(box, dtype=torch.float32) if box is not None else None
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=None)
        low_res, iou_pred = model.mask_decoder(
            image_embeddings=item.features, image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
        )
        return low_res[0], iou_pred[0]


def prompt_loss(logits: Any, iou_pred: Any, target: np.ndarray, focal_weight: float):  # noqa: ANN201
    """SAM's loss on (K, 256, 256) logits: the best of K outputs carries focal x w + dice + IoU MSE.

    Returns (loss tensor, hard IoU of the chosen output).
    """
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torchvision.ops import sigmoid_focal_loss

    target_t = torch.as_tensor(target)[None].expand_as(logits)
    focal = sigmoid_focal_loss(logits, target_t, reduction="none").mean(dim=(1, 2))
    prob = torch.sigmoid(logits)
    inter = (prob * target_t).sum(dim=(1, 2))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(1, 2)) + target_t.sum(dim=(1, 2)) + 1)
    with torch.no_grad():
        hard = logits > 0
        tb = target_t > 0.5
        true_iou = (hard & tb).sum(dim=(1, 2)).float() / ((hard | tb).sum(dim=(1, 2)).float().clamp(min=1))
    mask_loss = focal_weight * focal + dice
    k = int(torch.argmin(mask_loss.detach()))
    loss = mask_loss[k] + F.mse_loss(iou_pred[k], true_iou[k])
    return loss, float(true_iou[k])


def _losses(adapter: Any, item: _Prepared, prompts: PromptSet, focal_weight: float):  # noqa: ANN202
    # single-point prompts are ambiguous: use the multimask outputs, the best one carries the loss
    multimask = prompts.box_xyxy is None and len(prompts.points_xy) == 1
    logits, iou_pred = adapter.forward(item, prompts, multimask)
    return prompt_loss(logits, iou_pred, item.target, focal_weight)


def _evaluate(adapter: Any, items: list[_Prepared], prompts: list[PromptSet], focal_weight: float) -> dict[str, float]:
    import torch

    if not items:
        return {"loss": float("nan"), "iou": float("nan")}
    losses, ious = [], []
    with torch.no_grad():
        for item, prompt in zip(items, prompts, strict=True):
            loss, iou = _losses(adapter, item, prompt, focal_weight)
            losses.append(float(loss))
            ious.append(iou)
    return {"loss": float(np.mean(losses)), "iou": float(np.mean(ious))}


def finetune_sam(
    engine: Any,
    samples: list[TrainingSample],
    *,
    config: FinetuneConfig | None = None,
    cache: Any = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """Train a ``SamEngine``'s prompt encoder and mask decoder in place on ``samples``.

    Embeddings come from ``cache`` (an ``EmbeddingCache``) or the samples' own ``embedding``.
    The model ends in eval mode with the best validation state loaded.
    """
    return train_prompt_side(SamAdapter(engine), samples, config=config, cache=cache, progress=progress, on_epoch=on_epoch)


def train_prompt_side(
    adapter: Any,
    samples: list[TrainingSample],
    *,
    config: FinetuneConfig | None = None,
    cache: Any = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """The loop shared by SAM and SAM 2: held-out split, resampled prompts, early stopping.

    ``adapter`` (``SamAdapter`` / ``Sam2Adapter``) names the trainable parameters and runs one
    forward pass; everything else stays fixed (the image encoder, whose cached embeddings are
    reused).
    """
    import torch
    from tqdm.auto import tqdm

    from gazeseg.engines.cache import EmbeddingCache

    cfg = config or FinetuneConfig()
    if cfg.epochs < 1:
        raise InputError(f"epochs: expected 1 or more, got {cfg.epochs}")
    engine, model = adapter.engine, adapter.model
    cache = cache if cache is not None else EmbeddingCache()
    train_s, val_s = split(samples, cfg.val_fraction, cfg.seed)

    def prepare(group: list[TrainingSample]) -> list[_Prepared]:
        out = []
        for s in tqdm(group, desc="embeddings", disable=not progress, leave=False):
            emb = s.embedding if s.embedding is not None else cache.get_or_embed(engine, s.image)
            if emb.model_id != engine.model_id:
                raise InputError(f"sample '{s.name}': embedding from '{emb.model_id}', engine is '{engine.model_id}'; re-embed")
            if tuple(emb.image_hw) != s.mask.shape:
                raise InputError(f"sample '{s.name}': mask {s.mask.shape} vs image {tuple(emb.image_hw)}; masks must match their image")
            features, target = adapter.prepare(emb, s.mask)
            out.append(_Prepared(s, features, target, emb))
        return out

    train, val = prepare(train_s), prepare(val_s)
    rng = np.random.default_rng(cfg.seed)
    # Validation prompts are drawn once, so epochs are compared on the same questions.
    val_prompts = [resample_prompts(p.sample.mask, np.random.default_rng(cfg.seed + 1000 + i)) for i, p in enumerate(val)]
    train_eval_prompts = [p.sample.prompts if not p.sample.prompts.is_empty else resample_prompts(p.sample.mask, rng) for p in train]

    for param in model.parameters():
        param.requires_grad_(False)
    params = adapter.parameters()
    for param in params:
        param.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def snapshot() -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in model.state_dict().items() if adapter.is_trained(k)}

    def measure() -> dict[str, float]:
        row = {"train_" + k: v for k, v in _evaluate(adapter, train, train_eval_prompts, cfg.focal_weight).items()}
        row.update({"val_" + k: v for k, v in _evaluate(adapter, val, val_prompts, cfg.focal_weight).items()})
        return row

    model.eval()
    before = measure()
    monitor = "val_loss" if val else "train_loss"
    # the starting weights are the fallback: a fine-tune that never beats them changes nothing
    best_value, best_epoch, best_state, since_best = before[monitor], 0, snapshot(), 0
    history: list[dict[str, float]] = []
    for epoch in tqdm(range(1, cfg.epochs + 1), desc="fine-tune", disable=not progress):
        for module in adapter.trainable:
            module.train()
        step_losses = []
        for i in rng.permutation(len(train)):
            item = train[int(i)]
            for j in range(cfg.prompts_per_sample):
                prompts = item.sample.prompts if (j == 0 and not item.sample.prompts.is_empty) else resample_prompts(item.sample.mask, rng)
                loss, _ = _losses(adapter, item, prompts, cfg.focal_weight)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step_losses.append(float(loss.detach()))
        model.eval()
        row = {"epoch": epoch, "step_loss": float(np.mean(step_losses)), **measure()}
        history.append(row)
        if on_epoch:
            on_epoch(row)
        if row[monitor] < best_value:
            best_value, best_epoch, since_best = row[monitor], epoch, 0
            best_state = snapshot()
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    model.load_state_dict(best_state, strict=False)
    for param in model.parameters():
        param.requires_grad_(False)
    model.eval()
    adapter.engine.weights_changed()
    after = history[best_epoch - 1] if best_epoch else {**before, "epoch": 0}
    after = {k: v for k, v in after.items() if k.startswith(("train_", "val_"))}
    return FinetuneResult(history, before, after, best_epoch, len(train), len(val), data_hash(samples), asdict(cfg))


def save_sam_checkpoint(model: Any, path: str | Path) -> Path:
    """The whole model as a plain SAM-format state dict: ``load_sam`` / ``create_engine('sam', checkpoint=)`` read it."""
    import torch

    path = Path(path)
    torch.save({k: v.detach().cpu() for k, v in copy.copy(model.state_dict()).items()}, str(path))
    return path
