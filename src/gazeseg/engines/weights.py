"""Official SAM / SAM 2.1 checkpoints: where they come from, where they live, whether they are intact.

SHA-256 values are the published ones for SAM (checked against several independent users of the
official files); for SAM 2.1 we know no published hash, so ``verify`` prints the hash it computes
and says it could not be checked. Nothing here guesses a hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gazeseg.core.errors import InputError


@dataclass(frozen=True)
class Checkpoint:
    name: str
    engine: str  # sam | sam2
    arch: str  # sam: vit_b/vit_l/vit_h; sam2: hydra config name
    filename: str
    url: str | None
    sha256: str | None = None
    size_bytes: int | None = None
    note: str = ""


CHECKPOINTS: dict[str, Checkpoint] = {c.name: c for c in (
    Checkpoint("sam-vit-b", "sam", "vit_b", "sam_vit_b_01ec64.pth",
               "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
               "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383),
    Checkpoint("sam-vit-l", "sam", "vit_l", "sam_vit_l_0b3195.pth",
               "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
               "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622"),
    Checkpoint("sam-vit-h", "sam", "vit_h", "sam_vit_h_4b8939.pth",
               "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
               "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879),
    Checkpoint("medsam-vit-b", "sam", "vit_b", "medsam_vit_b.pth", None,
               note="MedSAM (Ma et al. 2024) is distributed via Google Drive from the MedSAM README; place the file by hand. Use box prompts."),
    Checkpoint("sam2.1-hiera-tiny", "sam2", "configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt",
               "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"),
    Checkpoint("sam2.1-hiera-small", "sam2", "configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt",
               "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_small.pt"),
    Checkpoint("sam2.1-hiera-base-plus", "sam2", "configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt",
               "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_base_plus.pt"),
    Checkpoint("sam2.1-hiera-large", "sam2", "configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt",
               "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_large.pt"),
)}


def weights_dir() -> Path:
    """``$GAZESEG_WEIGHTS_DIR``, else the platform's user cache folder (platformdirs) /weights."""
    override = os.environ.get("GAZESEG_WEIGHTS_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gazeseg")) / "weights"


def get_checkpoint(name: str) -> Checkpoint:
    if name not in CHECKPOINTS:
        raise InputError(f"model: unknown name '{name}'; choose one of {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]


def local_path(name: str) -> Path:
    return weights_dir() / get_checkpoint(name).filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, checkpoint: Checkpoint) -> tuple[bool | None, str]:
    """(True/False, or None when no published hash exists; the computed SHA-256)."""
    if not path.is_file():
        raise InputError(f"{checkpoint.name}: no file at {path}; run `gazeseg models download {checkpoint.name}`")
    if checkpoint.size_bytes is not None and path.stat().st_size != checkpoint.size_bytes:
        return False, f"size {path.stat().st_size:,} bytes, expected {checkpoint.size_bytes:,} (truncated download?)"
    digest = sha256_of(path)
    if checkpoint.sha256 is None:
        return None, digest
    return digest == checkpoint.sha256, digest


def download(name: str, *, timeout_s: float = 30.0) -> Path:
    """Download to the weights folder (atomic rename after the hash matches), with a progress bar."""
    from tqdm import tqdm

    checkpoint = get_checkpoint(name)
    target = local_path(name)
    if checkpoint.url is None:
        raise InputError(f"{name}: no official direct download URL; {checkpoint.note} Put it at {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(checkpoint.url, timeout=timeout_s) as response, partial.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        raise InputError(
            f"{name}: download from {checkpoint.url} failed ({error}). Offline? Download it on a machine that is "
            f"online and copy it to {target} (or pass --checkpoint FILE)"
        ) from error
    ok, digest = verify(partial, checkpoint)
    if ok is False:
        partial.unlink(missing_ok=True)
        raise InputError(f"{name}: the downloaded file does not match the published SHA-256 ({digest}); try again")
    shutil.move(str(partial), target)
    return target


def first_available() -> tuple[str, Path] | None:
    """(engine, path) of the first official checkpoint already on disk, SAM 2.1 first (faster)."""
    order = ["sam2.1-hiera-tiny", "sam2.1-hiera-small", "sam-vit-b", "sam2.1-hiera-base-plus", "sam-vit-l", "sam2.1-hiera-large", "sam-vit-h"]
    for name in order:
        path = local_path(name)
        if path.is_file():
            return CHECKPOINTS[name].engine, path
    return None


def find_by_file(path: Path) -> Checkpoint | None:
    for checkpoint in CHECKPOINTS.values():
        if checkpoint.filename == path.name:
            return checkpoint
    return None
