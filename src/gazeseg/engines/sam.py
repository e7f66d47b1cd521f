"""The ``sam`` engine: the official Segment Anything package (ViT-B/L/H and SAM-format checkpoints).

The model is built from the official classes with the architecture read off the checkpoint (so
MedSAM and fine-tuned files load too); the image step runs the ViT encoder once and keeps the
(256, 64, 64) embedding as numpy, so embeddings go to the disk cache and back. The prompt step
is the official prompt encoder and mask decoder, or the same decoder exported to ONNX Runtime
when a ``.decoder.onnx`` file sits next to the checkpoint (``gazeseg models export-onnx``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError, MissingDependencyError
from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine, image_digest
from gazeseg.engines.onnx_decoder import FastDecoding
from gazeseg.engines.registry import register_engine


@dataclass(frozen=True)
class SamArch:
    embed_dim: int
    depth: int
    heads: int
    global_attn: tuple[int, ...]


ARCHS = {
    "vit_b": SamArch(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamArch(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamArch(1280, 32, 16, (7, 15, 23, 31)),
    "tiny": SamArch(32, 2, 2, (1,)),  # random-weight model for tests and plumbing, never for masks
}


def build_sam_model(arch: str):  # noqa: ANN201
    """An (untrained) ``segment_anything.modeling.Sam`` of the named architecture."""
    try:
        import torch
        from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
    except ImportError as error:
        raise MissingDependencyError("segment-anything", "sam", "the 'sam' engine") from error
    if arch not in ARCHS:
        raise InputError(f"sam architecture: unknown '{arch}'; choose one of {', '.join(ARCHS)}")
    a = ARCHS[arch]
    model = Sam(
        image_encoder=ImageEncoderViT(
            depth=a.depth, embed_dim=a.embed_dim, img_size=1024, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=a.heads, patch_size=16,
            qkv_bias=True, use_rel_pos=True, global_attn_indexes=a.global_attn, window_size=14, out_chans=256,
        ),
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return model.eval()


def infer_arch(state: dict) -> str:
    """Which ViT the weights are for, from the patch-embedding width and the number of blocks."""
    try:
        width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    except KeyError:
        raise InputError("sam checkpoint: no image encoder weights (image_encoder.patch_embed...); not a SAM checkpoint") from None
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks."))
    for name, a in ARCHS.items():
        if (a.embed_dim, a.depth) == (width, depth):
            return name
    raise InputError(f"sam checkpoint: a ViT with width {width} and {depth} blocks is not a known SAM architecture")


def load_sam(checkpoint: Path | str):  # noqa: ANN201
    """The loader users use: any SAM-format checkpoint file -> Sam in eval mode (CPU)."""
    from gazeseg.engines.torch_load import apply_state_dict, load_state_dict

    path = Path(checkpoint)
    state = load_state_dict(path, what="sam")
    model = build_sam_model(infer_arch(state))
    apply_state_dict(model, state, path=path, what="sam")
    return model


class SamEngine(FastDecoding, Engine):
    name = "sam"

    def __init__(self, model, *, model_id: str, threads: int | None = None, onnx_decoder: Path | None = None) -> None:  # noqa: ANN001
        import torch
        from segment_anything.utils.transforms import ResizeLongestSide

        if threads:
            torch.set_num_threads(threads)
        self.model = model
        self._model_id = model_id
        self.transform = ResizeLongestSide(model.image_encoder.img_size)
        from gazeseg.engines.sam_fast_decoder import FastSamPromptDecoder

        self._setup_decoding(FastSamPromptDecoder(model), onnx_decoder, threads, self._build_image_feeds)

    def _image_arrays(self, embedding: Embedding) -> tuple[np.ndarray, ...]:
        return (embedding.payload["features"],)

    @property
    def model_id(self) -> str:
        return self._model_id

    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        import torch

        h, w = image_rgb.shape[:2]
        resized = self.transform.apply_image(image_rgb)
        tensor = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None].float()
        with torch.inference_mode():
            features = self.model.image_encoder(self.model.preprocess(tensor))
        return Embedding(
            model_id=self.model_id, image_digest=image_digest(image_rgb), image_hw=(h, w),
            payload={"features": features[0].numpy().astype(np.float32), "input_hw": np.array(resized.shape[:2], np.int64)},
        )

    def _prompt_arrays(self, embedding: Embedding, prompts: PromptSet) -> tuple:
        return self._prompt_arrays_for(prompts, embedding.image_hw)

    def _prompt_arrays_for(self, prompts: PromptSet, hw: tuple[int, int]) -> tuple:
        """Points and box in the encoder's 1024 frame (ResizeLongestSide), as the decoder expects."""
        coords = self.transform.apply_coords(prompts.points_xy.astype(np.float64), hw) if len(prompts.points_xy) else None
        box = self.transform.apply_boxes(prompts.box_xyxy[None].astype(np.float64), hw) if prompts.box_xyxy is not None else None
        return coords, box

    def predict_logits(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool,
                       whole_frame: bool = False, preview: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores (K,), low-res logits (K, 256, 256)) without upsampling: the live preview path.

        Runs the re-associated decoder (``sam_fast_decoder``; ONNX Runtime when exported, else
        PyTorch), which equals the official ``MaskDecoder`` up to float rounding. Logits under
        SAM's padding are only computed with ``whole_frame`` (to feed them back as a mask prompt,
        which sees the whole frame); otherwise they are ``PADDING_LOGIT``. ``preview``: the int8
        decoder if exported (live previews; ``predict`` stays exact).
        """
        from gazeseg.engines.onnx_decoder import prompt_feeds
        from gazeseg.engines.sam_fast_decoder import pad_to_frame, valid_token_grid

        coords, box = self._prompt_arrays(embedding, prompts)
        features = embedding.payload["features"]
        side = features.shape[1]
        valid = np.array([side, side], np.int64) if whole_frame else valid_token_grid(tuple(embedding.payload["input_hw"]), side)
        feeds = {**self._image_side(embedding), **prompt_feeds(coords, prompts.labels, box, prompts.mask_logits), "valid_tokens": valid}
        iou, low_res = self._run_decoder(feeds, prompts.mask_logits, preview=preview)
        pick = slice(1, None) if multimask else slice(0, 1)
        return iou[pick].astype(np.float32), pad_to_frame(low_res[pick].astype(np.float32), 4 * side)

    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        import torch
        import torch.nn.functional as F  # noqa: N812

        scores, low_res = self.predict_logits(embedding, prompts, multimask=multimask, whole_frame=True)
        h, w = embedding.image_hw
        ih, iw = (int(v) for v in embedding.payload["input_hw"])
        size = self.model.image_encoder.img_size
        with torch.inference_mode():
            up = F.interpolate(torch.as_tensor(low_res)[None], (size, size), mode="bilinear", align_corners=False)
            up = up[..., :ih, :iw]
            full = F.interpolate(up, (h, w), mode="bilinear", align_corners=False)[0]
        return MaskPrediction(masks=(full > self.model.mask_threshold).numpy(), scores=scores, low_res_logits=low_res)

    def _build_image_feeds(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """The decoder's image inputs: the fast graph's image side without a mask prompt
        (``prompted_image_feeds``), and the embedding map for SAM's own ONNX graph."""
        tokens = np.ascontiguousarray(features.reshape(features.shape[0], -1).T, dtype=np.float32)
        return {
            "image_tokens": tokens, **self._fast.image_feeds(tokens, None),
            "image_embeddings": np.asarray(features, np.float32)[None],
            "orig_im_size": np.array([4 * features.shape[1], 4 * features.shape[2]], np.float32),
        }


def file_fingerprint(path: Path) -> str:
    """Size plus a hash of the first MiB: stable across machines, cheap for multi-GB files."""
    import hashlib

    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()[:12]
    return f"{path.stat().st_size}-{head}"


@register_engine("sam")
def _create_sam(checkpoint: Path | str | None = None, model: str = "sam-vit-b", threads: int | None = None, **_: object) -> SamEngine:
    from gazeseg.engines.weights import CHECKPOINTS, local_path

    if checkpoint is None:
        if model not in CHECKPOINTS or CHECKPOINTS[model].engine != "sam":
            raise InputError(f"sam: unknown model '{model}'; choose one of {', '.join(n for n, c in CHECKPOINTS.items() if c.engine == 'sam')}")
        checkpoint = local_path(model)
    path = Path(checkpoint)
    sam = load_sam(path)
    ident = f"sam-{path.stem}-{file_fingerprint(path)}"
    from gazeseg.engines.onnx_decoder import decoder_next_to

    return SamEngine(sam, model_id=ident, threads=threads, onnx_decoder=decoder_next_to(path))
