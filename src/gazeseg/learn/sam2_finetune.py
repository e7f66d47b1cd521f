"""Fine-tune SAM 2's prompt encoder + mask decoder on accepted masks, Hiera image encoder frozen.

The loop, loss, held-out split and early stopping are SAM's (``sam_finetune.train_prompt_side``);
this module only says what differs. SAM 2's decoder also reads the two high-resolution feature
maps, which the ``sam2`` engine's embeddings already hold (after the decoder's ``conv_s0`` /
``conv_s1`` projections, so those two stay frozen with the encoder). SAM 2 resizes every image
to a 1024 square (no padding), so the low-res target is the mask resized to 256 x 256.
Checkpoints keep the official layout (``{"model": state_dict}``) that ``load_sam2`` reads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import PromptSet
from gazeseg.learn.data import TrainingSample
from gazeseg.learn.sam_finetune import LOW_RES, FinetuneConfig, FinetuneResult, _Prepared, train_prompt_side

# Applied to the backbone features when the image is embedded: part of the cached embedding.
_ENCODER_SIDE = ("sam_mask_decoder.conv_s0.", "sam_mask_decoder.conv_s1.")


def sam2_low_res_target(mask: np.ndarray) -> np.ndarray:
    """(256, 256) float target in SAM 2's low-res frame: the whole image squeezed to a square."""
    import cv2

    small = cv2.resize(np.asarray(mask, np.float32), (LOW_RES, LOW_RES), interpolation=cv2.INTER_AREA)
    return (small > 0.5).astype(np.float32)


class Sam2Adapter:
    """SAM 2's prompt side for the shared loop: ``sam_prompt_encoder`` + ``sam_mask_decoder``."""

    family = "sam2"

    def __init__(self, engine: Any) -> None:
        model = engine.model
        if not hasattr(model, "sam_prompt_encoder") or not hasattr(model, "sam_mask_decoder"):
            raise InputError("finetune: expected a SAM 2 engine (sam_prompt_encoder + sam_mask_decoder); use --engine sam2")
        if not getattr(model.sam_mask_decoder, "use_high_res_features", False):
            raise InputError("finetune: this SAM 2 model does not use high-resolution features; only the released SAM 2 / 2.1 layouts are supported")
        self.engine = engine
        self.model = model
        self.trainable = [model.sam_prompt_encoder, model.sam_mask_decoder]

    def parameters(self) -> list[Any]:
        return [p for name, p in self.model.named_parameters() if self.is_trained(name)]

    def is_trained(self, key: str) -> bool:
        return key.startswith(("sam_prompt_encoder.", "sam_mask_decoder.")) and not key.startswith(_ENCODER_SIDE)

    def prepare(self, emb: Any, mask: np.ndarray) -> tuple[Any, np.ndarray]:
        import torch

        p = emb.payload
        features = tuple(torch.as_tensor(np.asarray(p[k], np.float32))[None] for k in ("image_embed", "high_res_0", "high_res_1"))
        return features, sam2_low_res_target(mask)

    def forward(self, item: _Prepared, prompts: PromptSet, multimask: bool):  # noqa: ANN201
        """(low-res logits (K, 256, 256), predicted IoU (K,)) with gradients, as ``SAM2ImagePredictor._predict``."""
        import torch

        model = self.model
        transforms = self.engine.predictor._transforms
        hw = tuple(item.embedding.image_hw)
        coords: list[Any] = []
        labels: list[Any] = []
        if prompts.box_xyxy is not None:  # the box goes first, as two corner points labelled 2 and 3
            box = transforms.transform_boxes(torch.as_tensor(prompts.box_xyxy, dtype=torch.float32), normalize=True, orig_hw=hw)
            coords.append(box.reshape(1, 2, 2))
            labels.append(torch.tensor([[2, 3]], dtype=torch.int32))
        if len(prompts.points_xy):
            pts = transforms.transform_coords(torch.as_tensor(prompts.points_xy, dtype=torch.float32), normalize=True, orig_hw=hw)
            coords.append(pts.reshape(1, -1, 2))
            labels.append(torch.as_tensor(prompts.labels, dtype=torch.int32)[None])
        points = (torch.cat(coords, dim=1), torch.cat(labels, dim=1)) if coords else None
        mask_input = None
        if prompts.mask_logits is not None:
            mask_input = torch.as_tensor(np.asarray(prompts.mask_logits, np.float32))[None, None]
        sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
        image_embed, high_res_0, high_res_1 = item.features
        low_res, iou_pred, _tokens, _object_score = model.sam_mask_decoder(
            image_embeddings=image_embed, image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            repeat_image=False, high_res_features=[high_res_0, high_res_1],
        )
        return low_res[0], iou_pred[0]


def finetune_sam2(
    engine: Any,
    samples: list[TrainingSample],
    *,
    config: FinetuneConfig | None = None,
    cache: Any = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """Train a ``Sam2Engine``'s prompt encoder and mask decoder in place on ``samples``.

    The engine's fast prompt decoder reads the same modules, so its answers use the new weights
    at once. The model ends in eval mode with the best validation state loaded.
    """
    return train_prompt_side(Sam2Adapter(engine), samples, config=config, cache=cache, progress=progress, on_epoch=on_epoch)


def save_sam2_checkpoint(model: Any, path: str | Path) -> Path:
    """The whole model in the official SAM 2 layout ``{"model": state_dict}`` (``load_sam2`` reads it)."""
    import torch

    path = Path(path)
    state = {k: v.detach().cpu() for k, v in copy.copy(model.state_dict()).items()}
    torch.save({"model": state}, str(path))
    return path
