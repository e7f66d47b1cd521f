"""SAM's prompt decoder on ONNX Runtime: the cheap step without PyTorch's per-call overhead.

Two graphs can sit next to a checkpoint as ``*.decoder.onnx``:
- ``fast`` (what ``gazeseg models export-onnx`` writes): ``FastSamPromptDecoder``, the decoder
  re-associated for CPU latency, low-resolution logits of the image's own tokens only, its image
  side (``prompted_image_feeds``) computed once per image;
- ``official``: ``segment_anything.utils.onnx.SamOnnxModel``, for files exported elsewhere.
Both take the prompt arrays of SAM's ONNX example (``prompt_feeds``); what a graph does not take
is left out of its feeds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError, MissingDependencyError
from gazeseg.engines.base import Embedding

GRAPHS = ("fast", "official")


def prompt_feeds(coords: np.ndarray | None, labels: np.ndarray, box: np.ndarray | None,
                 mask_logits: np.ndarray | None, *, family: str = "sam") -> dict[str, np.ndarray]:
    """Points/box (1024 frame) as the official predictors hand them to the prompt encoder.

    SAM (its ONNX example): points, then the box as two corners labelled 2 and 3, or a padding
    point labelled -1 when there is no box. SAM 2 (``SAM2ImagePredictor``): the box corners
    first, then the points, then always the padding point.
    """
    pts = np.zeros((0, 2)) if coords is None else np.asarray(coords, float).reshape(-1, 2)
    lab = np.zeros(0) if coords is None else np.asarray(labels, float).reshape(-1)
    corners = None if box is None else np.asarray(box, float).reshape(2, 2)
    pad, pad_label = np.zeros((1, 2)), np.array([-1.0])
    if family == "sam2":
        parts = ([(corners, np.array([2.0, 3.0]))] if corners is not None else []) + [(pts, lab), (pad, pad_label)]
    else:
        parts = [(pts, lab), (corners, np.array([2.0, 3.0])) if corners is not None else (pad, pad_label)]
    has_mask = mask_logits is not None
    return {
        "point_coords": np.concatenate([p for p, _ in parts])[None].astype(np.float32),
        "point_labels": np.concatenate([q for _, q in parts])[None].astype(np.float32),
        "mask_input": (np.asarray(mask_logits, np.float32)[None, None] if has_mask else np.zeros((1, 1, 256, 256), np.float32)),
        "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32),
    }


def export_sam_decoder(model, path: Path, *, graph: str = "fast", opset: int = 17, int8: bool = False) -> Path:  # noqa: ANN001
    """Write the prompt decoder of a SAM model to ``path`` (atomically); with ``int8``, also the
    int8 preview copy of the fast graph next to it (``onnx_int8``)."""
    import torch

    if graph not in GRAPHS:
        raise InputError(f"export-onnx: unknown graph '{graph}'; choose one of {', '.join(GRAPHS)}")
    embed_dim = model.prompt_encoder.embed_dim
    side = model.prompt_encoder.image_embedding_size
    prompts = {
        "point_coords": torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * side[0], 4 * side[1], dtype=torch.float),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
    }
    if graph == "fast":
        from gazeseg.engines.sam_fast_decoder import FastSamPromptDecoder

        module = FastSamPromptDecoder(model)
        image_side = module.image_feeds(np.random.default_rng(0).normal(size=(side[0] * side[1], embed_dim)).astype(np.float32), None)
        dummy = {**{k: torch.as_tensor(v) for k, v in image_side.items()},
                 "point_coords": prompts["point_coords"], "point_labels": prompts["point_labels"],
                 "valid_tokens": torch.tensor([side[0] - 3, side[1]], dtype=torch.int64)}
        outputs = ["iou_predictions", "low_res_masks"]
    else:
        from segment_anything.utils.onnx import SamOnnxModel

        module = SamOnnxModel(model, return_single_mask=False)
        dummy = {"image_embeddings": torch.randn(1, embed_dim, *side), **prompts, "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float)}
        outputs = ["masks", "iou_predictions", "low_res_masks"]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad():
        torch.onnx.export(
            module, tuple(dummy.values()), str(tmp), export_params=True, verbose=False, opset_version=opset,
            do_constant_folding=True, input_names=list(dummy), output_names=outputs,
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, dynamo=False,
        )
    tmp.replace(path)
    if int8 and graph == "fast":
        from gazeseg.engines.onnx_int8 import int8_path_for, quantize_decoder

        quantize_decoder(path, int8_path_for(path), {k: v.numpy() for k, v in dummy.items()})
    return path


class OnnxSamDecoder:
    """Runs either graph; ``run`` returns every mask token's (IoU (M,), logits (M, 256, 256))."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise MissingDependencyError("onnxruntime", "onnx", "the ONNX decoder") from error
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            affinity = pool_thread_affinity(threads)
            if affinity:
                options.add_session_config_entry("session.intra_op_thread_affinities", affinity)
        options.inter_op_num_threads = 1
        # Prompts come a few times a second, after idle gaps. Spinning within a run keeps the worker
        # threads awake between the graph's many small parallel sections (without it, a decode after
        # an idle gap took 1.5x longer on a 2-core VM); stopping the spin at the end of each run keeps
        # idle CPU at zero (measured: same CPU per decode as no spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise InputError(f"onnx decoder: {path} is not a readable ONNX model ({error}); export it again with `gazeseg models export-onnx`") from None
        self.path = Path(path)
        self.inputs = {i.name for i in self.session.get_inputs()}
        if "prompted_tokens" in self.inputs:
            self.graph = "fast"
        elif "image_tokens" in self.inputs:  # the fast graph of gazeseg 0.x before the image side moved out
            raise InputError(f"onnx decoder: {path} is an older gazeseg export; export it again with `gazeseg models export-onnx`")
        elif "image_embeddings" in self.inputs:
            self.graph = "official"
        else:
            raise InputError(f"onnx decoder: {path} has inputs {sorted(self.inputs)}, not a SAM prompt decoder; export it again with `gazeseg models export-onnx`")

    def run(self, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``feeds``: the engine's image arrays plus ``prompt_feeds``; what the graph does not take is left out."""
        missing = self.inputs - set(feeds)
        if missing:
            raise InputError(f"onnx decoder: {self.path} needs {sorted(missing)}, which this engine does not provide; export it again with `gazeseg models export-onnx`")
        iou, low_res = self.session.run(["iou_predictions", "low_res_masks"], {k: feeds[k] for k in self.inputs})
        return iou[0].astype(np.float32), low_res[0].astype(np.float32)


def pool_thread_affinity(threads: int, *, allowed: set[int] | None = None, topology: Path = Path("/sys/devices/system/cpu")) -> str | None:
    """ONNX Runtime's ``intra_op_thread_affinities`` for ``threads``: each pool thread (the caller
    is the first thread and stays free) on its own physical core, not the first one.

    Why: decodes come a few times a second after idle gaps. Unpinned, the woken pool thread was
    often placed on the caller's core (Linux wakes a thread near its waker) and a decode ran
    nearly serial: ViT-B int8 previews with six points after 250 ms gaps, interleaved, p50
    19.0 -> 13.1 ms pinned, same CPU time. ONNX Runtime pins its threads itself only when it
    picks their number. None (no pinning) off Linux, with too few cores, or if
    ``GAZESEG_ORT_PIN=0``.
    """
    import os
    import sys

    if threads < 2 or os.environ.get("GAZESEG_ORT_PIN", "1") == "0" or not sys.platform.startswith("linux"):
        return None
    cpus = sorted(allowed if allowed is not None else os.sched_getaffinity(0))
    cores: dict[tuple[str, str], list[int]] = {}
    try:
        for cpu in cpus:
            folder = topology / f"cpu{cpu}" / "topology"
            key = ((folder / "physical_package_id").read_text().strip(), (folder / "core_id").read_text().strip())
            cores.setdefault(key, []).append(cpu)
    except OSError:
        return None
    groups = list(cores.values())
    if len(groups) < threads:
        return None
    return ";".join(",".join(str(cpu + 1) for cpu in group) for group in groups[1:threads])  # 1-based ids


def decoder_next_to(checkpoint: Path) -> Path | None:
    """The exported decoder ``gazeseg models export-onnx`` writes next to ``checkpoint``, if there."""
    path = Path(checkpoint).with_suffix(".decoder.onnx")
    return path if path.is_file() else None


def open_onnx_decoder(path: Path | None, *, threads: int | None) -> OnnxSamDecoder | None:
    """The ONNX decoder at ``path``, or None when there is none (the engine decodes in PyTorch)."""
    if path is None or not Path(path).is_file():
        return None
    return OnnxSamDecoder(path, threads=threads)


class ImageFeedsMemo:
    """The decoder's image inputs of the latest embedding, built once and reused for every prompt
    on it (a live session decodes many prompts on one image)."""

    def __init__(self, build: Callable[..., dict[str, np.ndarray]]) -> None:
        self._build = build
        self._memo: tuple[object, dict[str, np.ndarray]] = (None, {})
        self._lock = threading.Lock()  # the app's threads and the live decoder share one engine

    def get(self, *arrays: np.ndarray) -> dict[str, np.ndarray]:
        """Feeds for ``arrays`` (the embedding's payload arrays); rebuilt when the first one changes."""
        with self._lock:
            key, feeds = self._memo
            if arrays[0] is not key:
                feeds = self._build(*arrays)
                self._memo = (arrays[0], feeds)
            return feeds

    def clear(self) -> None:
        """Forget the memoised feeds (the weights they were computed with changed)."""
        with self._lock:
            self._memo = (None, {})


class FastDecoding:
    """What the SAM and SAM 2 engines share to decode prompts: their fast decoder module, run by
    the exported ONNX decoder next to the checkpoint when there is one, else by PyTorch, and the
    decoder's image side memoised per image (``ImageFeedsMemo``)."""

    onnx: OnnxSamDecoder | None
    prompt_decoder: object

    def _setup_decoding(self, fast: object, onnx_decoder: Path | None, threads: int | None,
                        build_image_feeds: Callable[..., dict[str, np.ndarray]]) -> None:
        from gazeseg.engines.sam_fast_decoder import TorchFastDecoder

        from gazeseg.engines.onnx_int8 import int8_path_for

        self._fast = fast.eval()  # type: ignore[attr-defined]
        self.onnx = open_onnx_decoder(onnx_decoder, threads=threads)
        self.prompt_decoder = self.onnx or TorchFastDecoder(self._fast)
        # previews only (``predict_logits(preview=True)``); accepted masks use the exact graph
        self.preview_onnx = open_onnx_decoder(int8_path_for(onnx_decoder), threads=threads) if self.onnx else None
        self._image_feeds = ImageFeedsMemo(build_image_feeds)

    def _image_arrays(self, embedding: Embedding) -> tuple[np.ndarray, ...]:
        """The embedding's payload arrays the decoder's image side is built from (per engine)."""
        raise NotImplementedError

    def _image_side(self, embedding: Embedding) -> dict[str, np.ndarray]:
        """The decoder's image inputs for ``embedding``, memoised per image."""
        return self._image_feeds.get(*self._image_arrays(embedding))

    def prepare(self, embedding: Embedding) -> None:
        """Compute the decoder's image side now (``prompted_image_feeds``: about one decode's work)."""
        self._image_side(embedding)

    def _run_decoder(self, feeds: dict[str, np.ndarray], mask_logits: np.ndarray | None, *,
                     preview: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(IoU, low-res logits) of every mask token; a mask prompt changes the image side, which is
        then computed for this call instead of taken from the memo. ``preview``: the int8 graph
        when one was exported (faster, within ``onnx_int8.PREVIEW_TOLERANCE`` of the exact one)."""
        if mask_logits is not None:
            feeds = {**feeds, **self._fast.image_feeds(feeds["image_tokens"], mask_logits)}  # type: ignore[attr-defined]
        decoder = self.preview_onnx if preview and self.preview_onnx is not None else self.prompt_decoder
        return decoder.run(feeds)  # type: ignore[attr-defined]

    def weights_changed(self) -> None:
        """The prompt side was trained in place: drop what was computed with the old weights (the
        memoised image side) and an exported ONNX decoder, which holds the old weights."""
        from gazeseg.engines.sam_fast_decoder import TorchFastDecoder

        self._image_feeds.clear()
        self.onnx = self.preview_onnx = None
        self.prompt_decoder = TorchFastDecoder(self._fast)
