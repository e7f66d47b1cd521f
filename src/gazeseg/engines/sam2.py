"""The ``sam2`` engine: the official SAM 2 / 2.1 package, image mode (``SAM2ImagePredictor``).

The Hiera encoder runs once per image; its image embedding and the two high-resolution feature
maps are stored as numpy (disk-cacheable). Prompts are answered by the same decoder in its fast,
re-associated form (``sam2_fast_decoder``; ONNX Runtime when a ``*.decoder.onnx`` sits next to the
checkpoint, else PyTorch), with the predictor's own coordinate transforms, single-mask rule and
mask post-processing.
The architecture is read off the checkpoint; hydra configs shipped inside the package build it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError, MissingDependencyError
from gazeseg.core.types import MaskPrediction, PromptSet
from gazeseg.engines.base import Embedding, Engine, image_digest
from gazeseg.engines.onnx_decoder import FastDecoding
from gazeseg.engines.registry import register_engine


@dataclass(frozen=True)
class Sam2Arch:
    config: str
    trunk_width: int
    blocks: int
    overrides: tuple[str, ...] = ()


ARCHS = {
    "hiera_t": Sam2Arch("configs/sam2.1/sam2.1_hiera_t.yaml", 96, 12),
    "hiera_s": Sam2Arch("configs/sam2.1/sam2.1_hiera_s.yaml", 96, 16),
    "hiera_b+": Sam2Arch("configs/sam2.1/sam2.1_hiera_b+.yaml", 112, 24),
    "hiera_l": Sam2Arch("configs/sam2.1/sam2.1_hiera_l.yaml", 144, 48),
    # random-weight model for tests and plumbing only
    "tiny": Sam2Arch("configs/sam2.1/sam2.1_hiera_t.yaml", 16, 5, (
        "++model.image_encoder.trunk.embed_dim=16", "++model.image_encoder.trunk.stages=[1,1,2,1]",
        "++model.image_encoder.trunk.global_att_blocks=[3]", "++model.image_encoder.neck.backbone_channel_list=[128,64,32,16]",
        "++model.memory_attention.num_layers=1",
    )),
}


def build_sam2_model(arch: str):  # noqa: ANN201
    try:
        from sam2.build_sam import build_sam2
    except ImportError as error:
        raise MissingDependencyError("sam2", "sam2", "the 'sam2' engine") from error
    if arch not in ARCHS:
        raise InputError(f"sam2 architecture: unknown '{arch}'; choose one of {', '.join(ARCHS)}")
    a = ARCHS[arch]
    return build_sam2(a.config, None, device="cpu", hydra_overrides_extra=list(a.overrides))


def infer_arch(state: dict) -> str:
    try:
        width = int(state["image_encoder.trunk.patch_embed.proj.weight"].shape[0])
    except KeyError:
        raise InputError("sam2 checkpoint: no Hiera trunk weights; not a SAM 2 checkpoint") from None
    blocks = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("image_encoder.trunk.blocks."))
    for name, a in ARCHS.items():
        if (a.trunk_width, a.blocks) == (width, blocks):
            return name
    raise InputError(f"sam2 checkpoint: a Hiera with width {width} and {blocks} blocks is not a known SAM 2 architecture")


def load_sam2(checkpoint: Path | str):  # noqa: ANN201
    """The loader users use: a SAM 2 / 2.1 checkpoint file -> SAM2Base in eval mode (CPU)."""
    from gazeseg.engines.torch_load import apply_state_dict, load_state_dict

    path = Path(checkpoint)
    state = load_state_dict(path, what="sam2")
    model = build_sam2_model(infer_arch(state))
    apply_state_dict(model, state, path=path, what="sam2")
    return model.eval()


class Sam2Engine(FastDecoding, Engine):
    name = "sam2"

    def __init__(self, model, *, model_id: str, threads: int | None = None, arch: str | None = None,  # noqa: ANN001
                 onnx_decoder: Path | None = None) -> None:
        import torch
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        from gazeseg.engines.sam2_fast_decoder import FastSam2PromptDecoder, sam2_image_feeds

        if threads:
            torch.set_num_threads(threads)
        self.model = model
        self.predictor = SAM2ImagePredictor(model)
        self._model_id = model_id
        self._lock = threading.Lock()  # the official predictor keeps per-image state
        self.arch = arch
        self._video = None
        self._setup_decoding(FastSam2PromptDecoder(model), onnx_decoder, threads, lambda *maps: sam2_image_feeds(self._fast, *maps))

    def propagate(self, frames_rgb: list[np.ndarray], mask: np.ndarray) -> list[np.ndarray]:
        """Carry ``mask`` (on ``frames_rgb[0]``) through the following frames with SAM 2's video
        predictor (memory attention over the earlier frames): neighbouring slices of a volume."""
        import tempfile

        import cv2
        import torch
        from sam2.build_sam import build_sam2_video_predictor

        if self.arch is None:
            raise InputError("sam2 propagate: the engine was built without a known architecture")
        if self._video is None:
            a = ARCHS[self.arch]
            video = build_sam2_video_predictor(a.config, None, device="cpu", hydra_overrides_extra=list(a.overrides))
            video.load_state_dict(self.model.state_dict())
            self._video = video.eval()
        with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
            for i, frame in enumerate(frames_rgb):  # the official loader reads a folder of JPEG frames
                cv2.imwrite(f"{folder}/{i:05d}.jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            state = self._video.init_state(video_path=folder, offload_video_to_cpu=True)
            self._video.add_new_mask(state, frame_idx=0, obj_id=1, mask=np.asarray(mask, bool))
            out = [np.asarray(mask, bool)] + [np.zeros(frames_rgb[0].shape[:2], bool) for _ in frames_rgb[1:]]
            for index, _ids, logits in self._video.propagate_in_video(state, start_frame_idx=0):
                if index > 0:
                    out[index] = (logits[0, 0] > 0).numpy()
        return out

    def _image_arrays(self, embedding: Embedding) -> tuple[np.ndarray, ...]:
        p = embedding.payload
        return p["image_embed"], p["high_res_0"], p["high_res_1"]

    @property
    def model_id(self) -> str:
        return self._model_id

    def _embed(self, image_rgb: np.ndarray) -> Embedding:
        import torch

        with self._lock, torch.inference_mode():
            self.predictor.set_image(image_rgb)
            f = self.predictor._features
            payload = {
                "image_embed": f["image_embed"][0].numpy().astype(np.float32),
                "high_res_0": f["high_res_feats"][0][0].numpy().astype(np.float32),
                "high_res_1": f["high_res_feats"][1][0].numpy().astype(np.float32),
            }
        h, w = image_rgb.shape[:2]
        return Embedding(model_id=self.model_id, image_digest=image_digest(image_rgb), image_hw=(h, w), payload=payload)

    def predict_logits(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool,
                       preview: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores (K,), low-res logits (K, 256, 256)) without upsampling: the live preview path
        (``preview``: the int8 decoder if exported; ``predict`` stays exact)."""
        import torch

        from gazeseg.engines.onnx_decoder import prompt_feeds

        hw = tuple(embedding.image_hw)
        transforms = self.predictor._transforms
        coords = box = None
        with torch.inference_mode():
            if len(prompts.points_xy):
                coords = transforms.transform_coords(torch.as_tensor(prompts.points_xy, dtype=torch.float), normalize=True, orig_hw=hw).numpy()
            if prompts.box_xyxy is not None:
                box = transforms.transform_boxes(torch.as_tensor(prompts.box_xyxy, dtype=torch.float), normalize=True, orig_hw=hw).numpy()
        feeds = {**self._image_side(embedding),
                 **prompt_feeds(coords, prompts.labels, box, prompts.mask_logits, family="sam2")}
        iou, low_res = self._run_decoder(feeds, prompts.mask_logits, preview=preview)
        if multimask:
            return iou[1:].astype(np.float32), low_res[1:].astype(np.float32)
        decoder = self.model.sam_mask_decoder
        if not decoder.dynamic_multimask_via_stability:
            return iou[:1].astype(np.float32), low_res[:1].astype(np.float32)
        with torch.inference_mode():  # the official single-mask rule: token 0 unless unstable
            masks, scores = decoder._dynamic_multimask_via_stability(torch.as_tensor(low_res)[None], torch.as_tensor(iou)[None])
        return scores[0].numpy().astype(np.float32), masks[0].numpy().astype(np.float32)

    def _predict(self, embedding: Embedding, prompts: PromptSet, *, multimask: bool) -> MaskPrediction:
        import torch

        scores, low_res = self.predict_logits(embedding, prompts, multimask=multimask)
        with torch.inference_mode():
            logits = self.predictor._transforms.postprocess_masks(torch.as_tensor(low_res)[None], tuple(embedding.image_hw))[0]
            masks = (logits > self.predictor.mask_threshold).numpy()
        return MaskPrediction(masks=masks, scores=scores, low_res_logits=np.clip(low_res, -32.0, 32.0))


@register_engine("sam2")
def _create_sam2(checkpoint: Path | str | None = None, model: str = "sam2.1-hiera-tiny", threads: int | None = None, **_: object) -> Sam2Engine:
    from gazeseg.engines.sam import file_fingerprint
    from gazeseg.engines.weights import CHECKPOINTS, local_path

    if checkpoint is None:
        if model not in CHECKPOINTS or CHECKPOINTS[model].engine != "sam2":
            raise InputError(f"sam2: unknown model '{model}'; choose one of {', '.join(n for n, c in CHECKPOINTS.items() if c.engine == 'sam2')}")
        checkpoint = local_path(model)
    path = Path(checkpoint)
    from gazeseg.engines.torch_load import load_state_dict

    arch = infer_arch(load_state_dict(path, what="sam2"))
    from gazeseg.engines.onnx_decoder import decoder_next_to

    return Sam2Engine(load_sam2(path), model_id=f"sam2-{path.stem}-{file_fingerprint(path)}", threads=threads, arch=arch,
                      onnx_decoder=decoder_next_to(path))
