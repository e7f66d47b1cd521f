"""SAM's prompt decoder, rewritten for CPU latency and exact in its maths.

Why it exists: the official decoder spends most of a prompt step projecting all 4,096 image
tokens into every attention layer, although only a handful of prompt tokens attend to them (or
are attended to). Attention between few tokens and many is linear in the many, so the
projections can be moved onto the few (matrix products re-associated):

- tokens -> image:  softmax(Q (Wk Y + bk)^T) (Wv X + bv) = softmax((Q Wk) Y^T + Q bk) X Wv^T + bv
- image -> tokens:  Wo softmax((Wq Y + bq) K^T) V + bo = softmax(Y (Wq^T K^T) + bq K^T) (V Wo^T) + bo

with X the image tokens and Y = X + positional encoding. Per attention this replaces two
4096x256x128 products by two 4096x256x(heads x tokens) ones (about 56 columns instead of 128+128).
The transposed convolutions of the upscaling (kernel 2, stride 2, so each output pixel depends on
one input pixel) become plain matrix products in channels-last layout, and the hypernetwork dot
product runs before the pixels are reordered. Weights are the official modules' own; the result
equals ``MaskDecoder.predict_masks`` up to float rounding (checked in tests). Nothing in
segment-anything or ONNX Runtime does this re-association for us, hence this module.

Only the low-resolution (256 x 256) logits come out: previews use them, full resolution is an
OpenCV resize on accept, outside the graph.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class _ReassociatedAttention(nn.Module):
    """An official ``Attention`` module (its weights), evaluated in a re-associated order."""

    def __init__(self, attention: nn.Module) -> None:
        super().__init__()
        self.a = attention
        self.heads = attention.num_heads
        self.d = attention.internal_dim // attention.num_heads


class _FewToManyAttention(_ReassociatedAttention):
    """``Attention(q=tokens, k=image+pe, v=image)`` with the image projections moved onto tokens."""

    def forward(self, q_tokens: Tensor, k_image: Tensor, v_image: Tensor) -> Tensor:
        a, h, d = self.a, self.heads, self.d
        t = q_tokens.shape[0]
        q = a.q_proj(q_tokens).reshape(t, h, d).transpose(0, 1)  # (h, t, d)
        wk = a.k_proj.weight.reshape(h, d, -1)  # (h, d, C)
        query_in_image_space = torch.matmul(q, wk).reshape(h * t, -1)  # (h*t, C)
        bias = torch.matmul(q, a.k_proj.bias.reshape(h, d, 1)).reshape(h * t, 1)
        scores = (torch.matmul(query_in_image_space, k_image.transpose(0, 1)) + bias) / math.sqrt(d)
        weights = torch.softmax(scores, dim=-1)  # (h*t, N)
        pooled = torch.matmul(weights, v_image).reshape(h, t, -1)  # (h, t, C)
        wv = a.v_proj.weight.reshape(h, d, -1)  # (h, d, C)
        out = torch.matmul(pooled, wv.transpose(1, 2)) + a.v_proj.bias.reshape(h, 1, d)  # (h, t, d)
        return a.out_proj(out.transpose(0, 1).reshape(t, h * d))


class _ManyToFewAttention(_ReassociatedAttention):
    """``Attention(q=image+pe, k=tokens+pe, v=tokens)`` with the image projections moved onto tokens."""

    def forward(self, q_image: Tensor, k_tokens: Tensor, v_tokens: Tensor) -> Tensor:
        a, h, d = self.a, self.heads, self.d
        t = k_tokens.shape[0]
        k = a.k_proj(k_tokens).reshape(t, h, d).transpose(0, 1)  # (h, t, d)
        v = a.v_proj(v_tokens).reshape(t, h, d).transpose(0, 1)  # (h, t, d)
        wq = a.q_proj.weight.reshape(h, d, -1)  # (h, d, C)
        keys_in_image_space = torch.matmul(k, wq).reshape(h * t, -1)  # (h*t, C)
        bias = torch.matmul(k, a.q_proj.bias.reshape(h, d, 1)).reshape(1, h * t)
        scores = (torch.matmul(q_image, keys_in_image_space.transpose(0, 1)) + bias) / math.sqrt(d)
        n = q_image.shape[0]
        weights = torch.softmax(scores.reshape(n, h, t), dim=-1).reshape(n, h * t)
        wo = a.out_proj.weight.reshape(-1, h, d).permute(1, 2, 0)  # (h, d, C)
        values_out = torch.matmul(v, wo).reshape(h * t, -1)  # (h*t, C)
        return torch.addmm(a.out_proj.bias, weights, values_out)


class FastMaskDecoder(nn.Module):
    """``MaskDecoder.predict_masks`` for one prompt set, channels-last, re-associated."""

    def __init__(self, mask_decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = mask_decoder
        transformer = mask_decoder.transformer
        self.layers = transformer.layers
        self.to_image = nn.ModuleList(_FewToManyAttention(layer.cross_attn_token_to_image) for layer in self.layers)
        self.to_tokens = nn.ModuleList(_ManyToFewAttention(layer.cross_attn_image_to_token) for layer in self.layers)
        self.final_to_image = _FewToManyAttention(transformer.final_attn_token_to_image)
        self.up1, self.norm1, self.act1, self.up2, self.act2 = mask_decoder.output_upscaling
        self.norm1_width = int(self.norm1.weight.shape[0])
        # SAM 2 puts an object-score token before the IoU token
        self.first_output = 1 if getattr(mask_decoder, "pred_obj_scores", False) else 0

    def output_tokens(self) -> Tensor:
        """The learnt output tokens, in the order the official decoder puts them before the prompts."""
        d = self.decoder
        parts = ([d.obj_score_token.weight] if self.first_output else []) + [d.iou_token.weight, d.mask_tokens.weight]
        return torch.cat(parts, dim=0)

    @staticmethod
    def _conv_transpose_as_matmul(x: Tensor, conv: nn.ConvTranspose2d) -> Tensor:
        """(..., C_in) -> (..., 2, 2, C_out): a kernel-2 stride-2 transposed conv is per pixel."""
        c_in, c_out = conv.weight.shape[:2]
        weight = conv.weight.permute(0, 2, 3, 1).reshape(c_in, 4 * c_out)
        bias = conv.bias.repeat(4)  # one GEMM with its bias (a fused Gemm in ONNX), on 2-D rows
        y = torch.addmm(bias, x.reshape(-1, c_in), weight)
        return y.reshape(*x.shape[:-1], 2, 2, c_out)

    def forward(self, image: Tensor, image_pe: Tensor, tokens: Tensor, side: int,
                high_res: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """image, image_pe: (side*side, C) channels-last; tokens: (T, C) output + prompt tokens;
        ``high_res`` (SAM 2): its two feature maps in the upscaling's sub-pixel layout
        (``high_res_sub_pixel``).

        Returns (all mask logits (M, 4 side, 4 side), IoU predictions (M,), final tokens (T, C)).
        """
        queries, keys, query_pe = tokens, image, tokens
        for i, layer in enumerate(self.layers):
            if layer.skip_first_layer_pe:
                queries = layer.self_attn(q=queries[None], k=queries[None], v=queries[None])[0]
            else:
                q = queries + query_pe
                queries = queries + layer.self_attn(q=q[None], k=q[None], v=queries[None])[0]
            queries = layer.norm1(queries)
            keys_pe = keys + image_pe  # both cross attentions of a layer see the same keys
            queries = layer.norm2(queries + self.to_image[i](queries + query_pe, keys_pe, keys))
            queries = layer.norm3(queries + layer.mlp(queries))
            keys = layer.norm4(keys + self.to_tokens[i](keys_pe, queries + query_pe, queries))
        transformer = self.decoder.transformer
        queries = transformer.norm_final_attn(queries + self.final_to_image(queries + query_pe, keys + image_pe, keys))

        n_masks = self.decoder.num_mask_tokens
        first = self.first_output
        hyper = torch.stack([mlp(queries[first + 1 + k]) for k, mlp in enumerate(self.decoder.output_hypernetworks_mlps)])
        up = self._conv_transpose_as_matmul(keys, self.up1)  # (HW, 2, 2, C/4)
        if high_res is not None:
            up = up + high_res[1]
        up = self.act1(F.layer_norm(up, (self.norm1_width,), self.norm1.weight, self.norm1.bias, self.norm1.eps))
        up = self._conv_transpose_as_matmul(up, self.up2)  # (HW, 2, 2, 2, 2, C/8)
        if high_res is not None:
            up = up + high_res[0]
        up = self.act2(up)
        logits = torch.matmul(up, hyper.transpose(0, 1))  # (HW, 2, 2, 2, 2, M): (kh, kw, kh2, kw2)
        logits = logits.reshape(side, side, 2, 2, 2, 2, n_masks).permute(6, 0, 2, 4, 1, 3, 5)
        logits = logits.reshape(n_masks, 4 * side, 4 * side)
        iou = self.decoder.iou_prediction_head(queries[first])
        return logits, iou, queries


def high_res_sub_pixel(feat_s0: Tensor, feat_s1: Tensor) -> tuple[Tensor, Tensor]:
    """SAM 2's (C0, 4S, 4S) and (C1, 2S, 2S) feature maps in the fast decoder's layout:
    (S*S, 2, 2, 2, 2, C0) and (S*S, 2, 2, C1), pixel (4h + 2kh + kh2, 4w + 2kw + kw2)."""
    c1, side2 = feat_s1.shape[0], feat_s1.shape[1]
    s = side2 // 2
    s1 = feat_s1.permute(1, 2, 0).reshape(s, 2, s, 2, c1).permute(0, 2, 1, 3, 4).reshape(s * s, 2, 2, c1)
    c0 = feat_s0.shape[0]
    s0 = feat_s0.permute(1, 2, 0).reshape(s, 2, 2, s, 2, 2, c0).permute(0, 3, 1, 4, 2, 5, 6).reshape(s * s, 2, 2, 2, 2, c0)
    return s0.contiguous(), s1.contiguous()


class FastSamPromptDecoder(nn.Module):
    """Prompt encoder + fast mask decoder, low-res outputs only, for ONNX export.

    Inputs: ``image_tokens`` (H*W, C), the image embedding channels-last (``Embedding`` keeps it
    so, see ``channels_last``); ``point_coords`` (1, N, 2) in the 1024 frame and ``point_labels``
    (1, N) as in SAM's ONNX example (a padding point labelled -1 when there is no box); with
    ``mask_input=True`` also ``mask_input`` (1, 1, 256, 256) and ``has_mask_input`` (1,).
    Outputs ``iou_predictions`` (1, M) and ``low_res_masks`` (1, M, 256, 256). Without mask input
    the dense prompt is the constant "no mask" embedding and its convolutions are left out.
    """

    def __init__(self, sam: nn.Module, *, mask_input: bool = True) -> None:
        super().__init__()
        from segment_anything.utils.onnx import SamOnnxModel

        self.prompts = SamOnnxModel(sam, return_single_mask=False)
        self.decoder = FastMaskDecoder(sam.mask_decoder)
        self.mask_input = mask_input
        self.side = int(sam.prompt_encoder.image_embedding_size[0])
        pe = sam.prompt_encoder.get_dense_pe()[0]  # (C, H, W)
        self.register_buffer("image_pe", channels_last(pe), persistent=False)

    def input_names(self) -> list[str]:
        names = ["image_tokens", "point_coords", "point_labels"]
        return names + (["mask_input", "has_mask_input"] if self.mask_input else [])

    def forward(self, image_tokens: Tensor, point_coords: Tensor, point_labels: Tensor,
                mask_input: Tensor | None = None, has_mask_input: Tensor | None = None) -> tuple[Tensor, Tensor]:
        sparse = self.prompts._embed_points(point_coords, point_labels)[0]
        encoder = self.prompts.model.prompt_encoder
        if self.mask_input:
            image = image_tokens + channels_last(self.prompts._embed_masks(mask_input, has_mask_input)[0])
        else:
            image = image_tokens + encoder.no_mask_embed.weight
        tokens = torch.cat([self.decoder.output_tokens(), sparse], dim=0)
        logits, iou, _ = self.decoder(image, self.image_pe, tokens, self.side)
        return iou[None], logits[None]


def channels_last(features: Tensor) -> Tensor:
    """(C, H, W) -> (H*W, C), the layout the fast decoder works in."""
    return features.flatten(1).transpose(0, 1).contiguous()


class TorchFastDecoder:
    """A fast prompt decoder module run by PyTorch, for when no ONNX file is exported; same
    ``run(feeds)`` as ``OnnxSamDecoder``."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module.eval()

    def run(self, feeds: dict) -> tuple:
        with torch.inference_mode():
            iou, low_res = self.module(*(torch.as_tensor(feeds[k]) for k in self.module.input_names()))[:2]
        return iou[0].numpy(), low_res[0].numpy()
