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

from gazeseg.engines.sam_fast_decoder import FIRST_LAYER_INPUTS, FastMaskDecoder, channels_last, high_res_sub_pixel, prompted_image_feeds


class FastSam2PromptDecoder(nn.Module):
    """Inputs: the image side from ``image_feeds`` (``prompted_tokens`` and ``FIRST_LAYER_INPUTS``),
    ``high_res_0``/``high_res_1`` in sub-pixel layout (``sam2_image_feeds``),
    ``point_coords``/``point_labels`` (1, N, ...) in the 1024 frame with the padding point included
    (``prompt_feeds(family="sam2")``). Outputs ``iou_predictions`` (1, M), ``low_res_masks``
    (1, M, 4S, 4S), ``object_score_logits`` (1, 1). SAM 2 resizes every image to the full square,
    so there is no padding to leave out."""

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
        return ["prompted_tokens", *FIRST_LAYER_INPUTS, "high_res_0", "high_res_1", "point_coords", "point_labels"]

    def image_feeds(self, image_tokens: np.ndarray, mask_logits: np.ndarray | None) -> dict[str, np.ndarray]:
        return prompted_image_feeds(self.decoder, self.encoder, self.image_pe, image_tokens, mask_logits)

    def forward(self, prompted_tokens: Tensor, layer0_keys: Tensor, layer0_values: Tensor, layer0_queries: Tensor,
                high_res_0: Tensor, high_res_1: Tensor, point_coords: Tensor, point_labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        sparse = self.encoder._embed_points(point_coords, point_labels, pad=False)[0]
        tokens = torch.cat([self.decoder.output_tokens(), sparse], dim=0)
        logits, iou, queries = self.decoder(prompted_tokens, self.image_pe, tokens, self.side, (layer0_keys, layer0_values, layer0_queries),
                                            high_res=(high_res_0, high_res_1))
        score = self.decoder.decoder.pred_obj_score_head(queries[0]) if self.decoder.first_output else torch.full((1,), 10.0)
        return iou[None], logits[None], score[None]


def sam2_image_feeds(decoder: FastSam2PromptDecoder, image_embed: np.ndarray, high_res_0: np.ndarray,
                     high_res_1: np.ndarray) -> dict[str, np.ndarray]:
    """The decoder's image inputs from an ``Embedding`` payload, in the fast layout, without a mask prompt."""
    s0, s1 = high_res_sub_pixel(torch.as_tensor(high_res_0), torch.as_tensor(high_res_1))
    tokens = np.ascontiguousarray(image_embed.reshape(image_embed.shape[0], -1).T, dtype=np.float32)
    return {
        "image_tokens": tokens, **decoder.image_feeds(tokens, None),
        "high_res_0": s0.numpy().astype(np.float32, copy=False),
        "high_res_1": s1.numpy().astype(np.float32, copy=False),
    }


def export_sam2_decoder(model: nn.Module, path: Path, *, opset: int = 17, int8: bool = False) -> Path:
    """Write SAM 2's fast prompt decoder to ``path`` (atomically); with ``int8``, also its int8
    preview copy next to it (``onnx_int8``)."""
    module = FastSam2PromptDecoder(model).eval()
    side = module.side
    c = module.encoder.embed_dim
    c0, c1 = module.decoder.up2.weight.shape[1], module.decoder.up1.weight.shape[1]
    image_side = module.image_feeds(np.random.default_rng(0).normal(size=(side * side, c)).astype(np.float32), None)
    dummy = (
        *(torch.as_tensor(image_side[k]) for k in ("prompted_tokens", *FIRST_LAYER_INPUTS)),
        torch.randn(side * side, 2, 2, 2, 2, c0), torch.randn(side * side, 2, 2, c1),
        torch.randint(0, 1024, (1, 5, 2)).float(), torch.randint(0, 4, (1, 5)).float(),
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
    if int8:
        from gazeseg.engines.onnx_int8 import int8_path_for, quantize_decoder

        quantize_decoder(path, int8_path_for(path), {k: v.numpy() for k, v in zip(module.input_names(), dummy)})
    return path
