"""Embedding cache: in-memory LRU in front of an on-disk store keyed by image content and model.

Payload values must be numpy arrays (engines convert to tensors at predict time, which is free
with ``torch.from_numpy``), so embeddings round-trip through ``.npz`` files without pickle.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from gazeseg.engines.base import Embedding, Engine, image_digest

CACHE_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """``$GAZESEG_CACHE_DIR`` or the platform's user cache directory (XDG on Linux)."""
    override = os.environ.get("GAZESEG_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gazeseg"))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


class EmbeddingCache:
    """Thread-safe LRU (by bytes) plus optional disk store. ``get_or_embed`` is the one entry point."""

    def __init__(self, *, max_bytes: int = 2 << 30, disk_dir: Path | str | None = None) -> None:
        self.max_bytes = max_bytes
        self.disk_dir = Path(disk_dir) if disk_dir is not None else None
        self._memory: OrderedDict[tuple[str, str], Embedding] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    def _disk_path(self, model_id: str, digest: str) -> Path | None:
        if self.disk_dir is None:
            return None
        return self.disk_dir / "embeddings" / f"v{CACHE_FORMAT_VERSION}" / _safe(model_id) / f"{digest}.npz"

    def get(self, model_id: str, digest: str) -> Embedding | None:
        key = (model_id, digest)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.hits += 1
                return self._memory[key]
        path = self._disk_path(model_id, digest)
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    hw = tuple(int(v) for v in data["__image_hw__"])
                    stored_id = str(data["__model_id__"])
                    payload = {k: data[k] for k in data.files if not k.startswith("__")}
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # corrupt entry (e.g. killed mid-write): recompute
                return None
            if stored_id != model_id:
                return None
            embedding = Embedding(model_id, digest, (hw[0], hw[1]), payload)
            self._remember(embedding)
            self.disk_hits += 1
            return embedding
        return None

    def put(self, embedding: Embedding) -> None:
        self._remember(embedding)
        path = self._disk_path(embedding.model_id, embedding.image_digest)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npz")
        arrays = {k: np.asarray(v) for k, v in embedding.payload.items()}
        np.savez(tmp, __image_hw__=np.array(embedding.image_hw), __model_id__=np.array(embedding.model_id), **arrays)
        os.replace(tmp, path)  # atomic: readers never see half a file

    def _remember(self, embedding: Embedding) -> None:
        key = (embedding.model_id, embedding.image_digest)
        size = embedding.nbytes()
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return
            self._memory[key] = embedding
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._memory) > 1:
                _, old = self._memory.popitem(last=False)
                self._bytes -= old.nbytes()

    def get_or_embed(self, engine: Engine, image: np.ndarray) -> Embedding:
        """The cached embedding of ``image`` for ``engine``, computing and storing it on a miss."""
        digest = image_digest(image)
        found = self.get(engine.model_id, digest)
        if found is not None:
            return found
        with self._lock:
            self.misses += 1
        embedding = engine.embed(image)
        embedding.image_digest = digest
        self.put(embedding)
        return embedding

    def __contains__(self, key: tuple[str, str]) -> bool:
        model_id, digest = key
        if key in self._memory:
            return True
        path = self._disk_path(model_id, digest)
        return path is not None and path.exists()
