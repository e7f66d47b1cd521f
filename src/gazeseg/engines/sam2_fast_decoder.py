"""SAM 2's prompt decoder in the fast form (``sam_fast_decoder``) and its ONNX export.

SAM 2's decoder is SAM's plus an object-score token and two high-resolution feature maps added
inside the upscaling; the same re-association applies. The prompt encoder is the official
module's own (``_embed_points``/``_embed_masks``). Single-mask answers go through the official
``_dynamic_multimask_via_stability`` afterwards, as ``SAM2ImagePredictor`` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gazeseg.engines.sam_fast_decoder import FastMaskDecoder, channels_last, high_res_sub_pixel


class FastSam2PromptDecoder(nn.Module):
    """Inputs: ``image_tokens`` (S*S, C), ``high_res_0``/``high_res_1`` in sub-pixel layout
    (``sam2_image_feeds``), ``point_coords``/``point_labels`` (1, N, ...) in the 1024 frame with
    the padding point included (``prompt_feeds(family="sam2")``), ``mask_input``, ``has_mask_input``.
    Outputs ``iou_predictions`` (1, M), ``low_res_masks`` (1, M, 4S, 4S), ``object_score_logits`` (1, 1)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.encoder = model.sam_prompt_encoder
        self.decoder = FastMaskDecoder(model.sam_mask_decoder)
        if not model.sam_mask_decoder.use_high_res_features:
            raise ValueError("fast SAM 2 decoder: the model does not use high-resolution features")
        self.side = int(self.encoder.image_embedding_size[0])
        self.register_buffer("image_pe", channels_last(self.encoder.get_dense_pe()[0]), persistent=False)

    @staticmethod
    def input_names() -> list[str]:
        return ["image_tokens", "high_res_0", "high_res_1", "point_coords", "point_labels", "mask_input", "has_mask_input"]

    def forward(self, image_tokens: Tensor, high_res_0: Tensor, high_res_1: Tensor, point_coords: Tensor,
                point_labels: Tensor, mask_input: Tensor, has_mask_input: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        sparse = self.encoder._embed_points(point_coords, point_labels, pad=False)[0]
        no_mask = self.encoder.no_mask_embed.weight  # (1, C)
        masked = channels_last(self.encoder._embed_masks(mask_input)[0])
        image = image_tokens + has_mask_input * masked + (1 - has_mask_input) * no_mask
        tokens = torch.cat([self.decoder.output_tokens(), sparse], dim=0)
        logits, iou, queries = self.decoder(image, self.image_pe, tokens, self.side, (high_res_0, high_res_1))
        score = self.decoder.decoder.pred_obj_score_head(queries[0]) if self.decoder.first_output else torch.full((1,), 10.0)
        return iou[None], logits[None], score[None]


def sam2_image_feeds(image_embed: np.ndarray, high_res_0: np.ndarray, high_res_1: np.ndarray) -> dict[str, np.ndarray]:
    """The decoder's image inputs from an ``Embedding`` payload, in the fast layout."""
    s0, s1 = high_res_sub_pixel(torch.as_tensor(high_res_0), torch.as_tensor(high_res_1))
    return {
        "image_tokens": np.ascontiguousarray(image_embed.reshape(image_embed.shape[0], -1).T, dtype=np.float32),
        "high_res_0": s0.numpy().astype(np.float32, copy=False),
        "high_res_1": s1.numpy().astype(np.float32, copy=False),
    }


def export_sam2_decoder(model: nn.Module, path: Path, *, opset: int = 17) -> Path:
    """Write SAM 2's fast prompt decoder to ``path`` (atomically)."""
    module = FastSam2PromptDecoder(model).eval()
    side = module.side
    c = module.encoder.embed_dim
    c0, c1 = module.decoder.up2.weight.shape[1], module.decoder.up1.weight.shape[1]
    dummy = (
        torch.randn(side * side, c), torch.randn(side * side, 2, 2, 2, 2, c0), torch.randn(side * side, 2, 2, c1),
        torch.randint(0, 1024, (1, 5, 2)).float(), torch.randint(0, 4, (1, 5)).float(),
        torch.randn(1, 1, 4 * side, 4 * side), torch.tensor([1.0]),
    )
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad():
        torch.onnx.export(
            module, dummy, str(tmp), export_params=True, opset_version=opset, do_constant_folding=True,
            input_names=module.input_names(), output_names=["iou_predictions", "low_res_masks", "object_score_logits"],
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, dynamo=False,
        )
    tmp.replace(path)
    return path
