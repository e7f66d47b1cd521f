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
OpenCV resize on accept, outside the graph. Two more savings, both exact where it matters:
- the upscaling runs only on the image tokens that cover the image (``valid_tokens``); SAM pads
  a 3:2 photo to a square, so a third of the upscaling was spent on padding nobody sees. Logits
  under the padding come back as ``PADDING_LOGIT``;
- everything that depends on the image and the mask prompt only (the dense prompt, and the first
  layer's projections of the image tokens) is an input computed once per image
  (``prompted_image_feeds``), so a gaze prompt pays for neither.
"""

from __future__ import annotations

import math

import numpy as np
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

    def project_image(self, k_image: Tensor, v_image: Tensor) -> tuple[Tensor, Tensor]:
        """The image's keys (h, d, N) and values (h, N, d), official projections: for image
        tokens that do not depend on the prompt (the first layer's), computed once per image."""
        a, h, d = self.a, self.heads, self.d
        n = k_image.shape[0]
        return a.k_proj(k_image).reshape(n, h, d).permute(1, 2, 0), a.v_proj(v_image).reshape(n, h, d).transpose(0, 1)

    def forward_projected(self, q_tokens: Tensor, keys: Tensor, values: Tensor) -> Tensor:
        """The attention on ``project_image``'s output: only the few tokens are projected."""
        a, h, d = self.a, self.heads, self.d
        t = q_tokens.shape[0]
        q = a.q_proj(q_tokens).reshape(t, h, d).transpose(0, 1)  # (h, t, d)
        weights = torch.softmax(torch.matmul(q, keys) / math.sqrt(d), dim=-1)  # (h, t, N)
        out = torch.matmul(weights, values)  # (h, t, d)
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
        return self._weighted_values(weights, v)

    def _weighted_values(self, weights: Tensor, v: Tensor) -> Tensor:
        """(N, h*t) attention weights, (h, t, d) token values -> (N, C), the output projection moved onto the tokens."""
        a, h, d = self.a, self.heads, self.d
        wo = a.out_proj.weight.reshape(-1, h, d).permute(1, 2, 0)  # (h, d, C)
        values_out = torch.matmul(v, wo).reshape(h * v.shape[1], -1)  # (h*t, C)
        return torch.addmm(a.out_proj.bias, weights, values_out)

    def project_image(self, q_image: Tensor) -> Tensor:
        """The image's queries (h, N, d), official projection, once per image (see ``_FewToManyAttention``)."""
        a, h, d = self.a, self.heads, self.d
        return a.q_proj(q_image).reshape(q_image.shape[0], h, d).transpose(0, 1)

    def forward_projected(self, queries: Tensor, k_tokens: Tensor, v_tokens: Tensor) -> Tensor:
        a, h, d = self.a, self.heads, self.d
        t, n = k_tokens.shape[0], queries.shape[1]
        k = a.k_proj(k_tokens).reshape(t, h, d).permute(1, 2, 0)  # (h, d, t)
        v = a.v_proj(v_tokens).reshape(t, h, d).transpose(0, 1)  # (h, t, d)
        weights = torch.softmax(torch.matmul(queries, k) / math.sqrt(d), dim=-1)  # (h, N, t)
        return self._weighted_values(weights.transpose(0, 1).reshape(n, h * t), v)


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

    def project_first_layer(self, image: Tensor, image_pe: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The first layer's image-side projections (keys, values, queries), which depend on the
        image and the dense prompt only: computed once per image, they take the first layer's
        attention cost from ~100M to ~6M multiply-adds per prompt (with six points)."""
        keys_pe = image + image_pe
        keys, values = self.to_image[0].project_image(keys_pe, image)
        return keys, values, self.to_tokens[0].project_image(keys_pe)

    def forward(self, image: Tensor, image_pe: Tensor, tokens: Tensor, side: int, first_layer: tuple[Tensor, Tensor, Tensor],
                high_res: tuple[Tensor, Tensor] | None = None, valid: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """image, image_pe: (side*side, C) channels-last; tokens: (T, C) output + prompt tokens;
        ``high_res`` (SAM 2): its two feature maps in the upscaling's sub-pixel layout
        (``high_res_sub_pixel``); ``valid``: (rows, cols) of the token grid to upscale (all if None);
        ``first_layer``: ``project_first_layer(image, image_pe)``, computed once per image.

        Returns (mask logits (M, 4 rows, 4 cols), IoU predictions (M,), the output tokens after the last attention).
        """
        queries, keys, query_pe = tokens, image, tokens
        for i, layer in enumerate(self.layers):
            if layer.skip_first_layer_pe:
                queries = layer.self_attn(q=queries[None], k=queries[None], v=queries[None])[0]
            else:
                q = queries + query_pe
                queries = queries + layer.self_attn(q=q[None], k=q[None], v=queries[None])[0]
            queries = layer.norm1(queries)
            if i == 0:  # its image side is projected already
                k0, v0, q0 = first_layer
                queries = layer.norm2(queries + self.to_image[0].forward_projected(queries + query_pe, k0, v0))
                queries = layer.norm3(queries + layer.mlp(queries))
                keys = layer.norm4(keys + self.to_tokens[0].forward_projected(q0, queries + query_pe, queries))
                continue
            keys_pe = keys + image_pe  # both cross attentions of a layer see the same keys
            queries = layer.norm2(queries + self.to_image[i](queries + query_pe, keys_pe, keys))
            queries = layer.norm3(queries + layer.mlp(queries))
            keys = layer.norm4(keys + self.to_tokens[i](keys_pe, queries + query_pe, queries))
        transformer = self.decoder.transformer
        n_masks = self.decoder.num_mask_tokens
        first = self.first_output
        # The last attention treats each token on its own, and only the output tokens are read
        # after it (object score, IoU, masks): the prompt tokens are left out of it.
        outputs = first + 1 + n_masks
        queries, query_pe = queries[:outputs], query_pe[:outputs]
        queries = transformer.norm_final_attn(queries + self.final_to_image(queries + query_pe, keys + image_pe, keys))

        hyper = torch.stack([mlp(queries[first + 1 + k]) for k, mlp in enumerate(self.decoder.output_hypernetworks_mlps)])
        rows = cols = side
        if valid is not None:  # attention saw every token; only the image's own are upscaled
            grid = keys.reshape(side, side, -1)[: valid[0], : valid[1]]
            rows, cols = grid.shape[0], grid.shape[1]
            keys = grid.reshape(rows * cols, -1)
            if high_res is not None:
                high_res = tuple(f.reshape(side, side, *f.shape[1:])[: valid[0], : valid[1]].reshape(rows * cols, *f.shape[1:])
                                 for f in high_res)
        up = self._conv_transpose_as_matmul(keys, self.up1)  # (HW, 2, 2, C/4)
        if high_res is not None:
            up = up + high_res[1]
        up = self.act1(F.layer_norm(up, (self.norm1_width,), self.norm1.weight, self.norm1.bias, self.norm1.eps))
        up = self._conv_transpose_as_matmul(up, self.up2)  # (HW, 2, 2, 2, 2, C/8)
        if high_res is not None:
            up = up + high_res[0]
        up = self.act2(up)
        # masks first: the pixel reorder then moves runs of a mask's pixels, not one value per mask
        logits = torch.matmul(hyper, up.reshape(-1, up.shape[-1]).transpose(0, 1))  # (M, HW * (kh, kw, kh2, kw2))
        logits = logits.reshape(n_masks, rows, cols, 2, 2, 2, 2).permute(0, 1, 3, 5, 2, 4, 6)
        logits = logits.reshape(n_masks, 4 * rows, 4 * cols)
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

    Inputs: the image side from ``image_feeds`` (``prompted_tokens`` and ``FIRST_LAYER_INPUTS``),
    ``point_coords`` (1, N, 2) in the 1024 frame and ``point_labels`` (1, N) as in SAM's ONNX
    example (a padding point labelled -1 when there is no box), ``valid_tokens`` (2,) int64, the
    rows and columns of the token grid to upscale (``valid_token_grid``).
    Outputs ``iou_predictions`` (1, M) and ``low_res_masks`` (1, M, 4 rows, 4 cols).
    """

    def __init__(self, sam: nn.Module) -> None:
        super().__init__()
        from segment_anything.utils.onnx import SamOnnxModel

        self.prompts = SamOnnxModel(sam, return_single_mask=False)
        self.decoder = FastMaskDecoder(sam.mask_decoder)
        self.side = int(sam.prompt_encoder.image_embedding_size[0])
        pe = sam.prompt_encoder.get_dense_pe()[0]  # (C, H, W)
        self.register_buffer("image_pe", channels_last(pe), persistent=False)

    @staticmethod
    def input_names() -> list[str]:
        return ["prompted_tokens", *FIRST_LAYER_INPUTS, "point_coords", "point_labels", "valid_tokens"]

    def image_feeds(self, image_tokens: np.ndarray, mask_logits: np.ndarray | None) -> dict[str, np.ndarray]:
        return prompted_image_feeds(self.decoder, self.prompts.model.prompt_encoder, self.image_pe, image_tokens, mask_logits)

    def forward(self, prompted_tokens: Tensor, layer0_keys: Tensor, layer0_values: Tensor, layer0_queries: Tensor,
                point_coords: Tensor, point_labels: Tensor, valid_tokens: Tensor) -> tuple[Tensor, Tensor]:
        sparse = self.prompts._embed_points(point_coords, point_labels)[0]
        tokens = torch.cat([self.decoder.output_tokens(), sparse], dim=0)
        logits, iou, _ = self.decoder(prompted_tokens, self.image_pe, tokens, self.side, (layer0_keys, layer0_values, layer0_queries),
                                      valid=valid_tokens)
        return iou[None], logits[None]


FIRST_LAYER_INPUTS = ("layer0_keys", "layer0_values", "layer0_queries")


def prompted_image_feeds(decoder: FastMaskDecoder, encoder: nn.Module, image_pe: Tensor, image_tokens: np.ndarray,
                         mask_logits: np.ndarray | None) -> dict[str, np.ndarray]:
    """The decoder's image side: the image tokens plus the dense prompt (SAM's "no mask" embedding,
    or a mask prompt's downscaling), and the first layer's projections of them. Everything here
    depends on the image and the mask prompt only, so a live session computes it once per image
    (about the cost of one decode) and every gaze prompt on that image skips it."""
    with torch.inference_mode():
        image = torch.as_tensor(image_tokens)
        if mask_logits is None:
            image = image + encoder.no_mask_embed.weight
        else:
            mask = torch.as_tensor(np.asarray(mask_logits, np.float32))[None, None]
            image = image + channels_last(encoder._embed_masks(mask)[0])
        first_layer = decoder.project_first_layer(image, image_pe)
        return {"prompted_tokens": image.contiguous().numpy(),
                **{name: t.contiguous().numpy() for name, t in zip(FIRST_LAYER_INPUTS, first_layer)}}


PADDING_LOGIT = -20.0
"""What the fast decoders return under SAM's padding (not computed): sure background."""


def valid_token_grid(input_hw: tuple[int, int], side: int, *, frame: int = 1024) -> np.ndarray:
    """(rows, cols) of the ``side`` x ``side`` token grid to upscale for an image resized to
    ``input_hw`` in SAM's ``frame``: the tokens under it plus one, so that SAM's bilinear
    upsampling of the logits never reads a value that was not computed."""
    patch = frame / side
    return np.array([min(side, math.ceil(n / patch) + 1) for n in input_hw], np.int64)


def pad_to_frame(logits: np.ndarray, size: int) -> np.ndarray:
    """(M, h, w) logits of the upscaled tokens -> (M, size, size), ``PADDING_LOGIT`` where not computed."""
    if logits.shape[-2:] == (size, size):
        return logits
    out = np.full((logits.shape[0], size, size), PADDING_LOGIT, np.float32)
    out[:, : logits.shape[1], : logits.shape[2]] = logits
    return out


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
