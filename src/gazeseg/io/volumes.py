"""3D volumes (NIfTI, DICOM series): loading with geometry, window/level, slices for display.

Volumes are kept in the source's voxel order; slice ``z`` is ``data[:, :, z]`` displayed with
rows = the second voxel axis (so axial slices of RAS-oriented scans look like radiology viewers
after a transpose). Masks are stored per slice in that same display frame and written back
with the source's affine, so exported NIfTI overlays the original in any viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError

MAX_VOXELS = 1_500_000_000
"""Refuse volumes above 1.5 billion voxels (6 GB of float32): a bomb, or a mistake."""

WINDOWS: dict[str, tuple[float, float]] = {
    "soft-tissue": (400.0, 40.0),
    "lung": (1500.0, -600.0),
    "bone": (1800.0, 400.0),
    "brain": (80.0, 40.0),
}
"""CT presets as (width, level) in Hounsfield units."""


@dataclass
class Volume:
    data: np.ndarray
    """(X, Y, Z) voxels as stored (float32)."""
    affine: np.ndarray
    modality: str = "unknown"
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return int(self.data.shape[2])

    @property
    def slice_hw(self) -> tuple[int, int]:
        return int(self.data.shape[1]), int(self.data.shape[0])

    def slice(self, z: int) -> np.ndarray:
        """(rows, cols) float slice ``z`` in the display frame."""
        if not 0 <= z < self.depth:
            raise InputError(f"slice: expected 0 <= z < {self.depth}, got {z}")
        return np.ascontiguousarray(self.data[:, :, z].T)

    def slice_rgb(self, z: int, window: str | None = None) -> np.ndarray:
        """Slice ``z`` windowed for display, as the RGB uint8 picture engines and the page see."""
        gray = window_to_uint8(self.slice(z), modality=self.modality, preset=window)
        return np.repeat(gray[..., None], 3, axis=2)


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith((".nii", ".nii.gz"))


def load_volume(path: str | Path) -> Volume:
    """A NIfTI file or a DICOM series (a folder of slices, or one file of it)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"volume: no file or folder at {path}")
    if path.is_file() and _is_nifti(path):
        return _load_nifti(path)
    if path.is_dir() or path.suffix.lower() in (".dcm", ""):
        return _load_dicom_series(path if path.is_dir() else path.parent)
    raise InputError(f"volume: unsupported file {path.name}; expected .nii, .nii.gz or a DICOM series folder")


def _load_nifti(path: Path) -> Volume:
    import nibabel as nib

    try:
        img = nib.load(str(path))
        shape = img.shape
    except Exception as error:  # nibabel raises many types for broken headers
        raise InputError(f"{path.name}: not a readable NIfTI file ({error}); re-export it from the scanner or viewer") from error
    if len(shape) < 3:
        raise InputError(f"{path.name}: expected a 3D volume, got shape {shape}")
    if int(np.prod(shape[:3])) > MAX_VOXELS:
        raise InputError(f"{path.name}: {np.prod(shape[:3]):,} voxels is more than the limit of {MAX_VOXELS:,}; crop or downsample it")
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as error:
        raise InputError(f"{path.name}: the voxel data is truncated or corrupt ({error})") from error
    if data.ndim > 3:
        data = data[..., 0] if data.shape[3] >= 1 else data
        data = data.reshape(data.shape[:3])
    name = path.name.lower()
    modality = "CT" if "ct" in name and "oct" not in name else "MR"
    finite = np.asarray(data, np.float32)
    if np.nanmin(finite) < -500:  # Hounsfield units: air is -1000
        modality = "CT"
    return Volume(np.nan_to_num(finite), np.asarray(img.affine, float), modality, str(path))


def _load_dicom_series(folder: Path) -> Volume:
    import pydicom

    files = sorted(p for p in folder.iterdir() if p.is_file())
    slices = []
    for p in files:
        try:
            ds = pydicom.dcmread(str(p), stop_before_pixels=False, force=True)
            if not hasattr(ds, "PixelData"):
                continue
            slices.append(ds)
        except Exception:  # noqa: BLE001 - not a DICOM file: skip it, report if none are left
            continue
    if not slices:
        raise InputError(f"{folder}: no readable DICOM slices found; expected a folder of .dcm files of one series")
    def position(ds):  # noqa: ANN001, ANN202
        return float(getattr(ds, "ImagePositionPatient", [0, 0, getattr(ds, "InstanceNumber", 0)])[2])

    slices.sort(key=position)
    try:
        arrays = [s.pixel_array.astype(np.float32) * float(getattr(s, "RescaleSlope", 1)) + float(getattr(s, "RescaleIntercept", 0)) for s in slices]
    except Exception as error:
        raise InputError(f"{folder}: a DICOM slice has unreadable pixel data ({error})") from error
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise InputError(f"{folder}: slices differ in size {sorted(shapes)}; is this more than one series?")
    data = np.stack([a.T for a in arrays], axis=2)  # (cols=X, rows=Y, Z)
    first = slices[0]
    spacing = [float(v) for v in getattr(first, "PixelSpacing", [1, 1])]
    dz = abs(position(slices[1]) - position(first)) if len(slices) > 1 else float(getattr(first, "SliceThickness", 1))
    affine = np.diag([spacing[1], spacing[0], dz or 1.0, 1.0])
    origin = getattr(first, "ImagePositionPatient", None)
    if origin is not None:
        affine[:3, 3] = [float(v) for v in origin]
    return Volume(data, affine, str(getattr(first, "Modality", "unknown")), str(folder))


def window_to_uint8(values: np.ndarray, *, modality: str = "MR", preset: str | None = None) -> np.ndarray:
    """Display values: a CT preset (width/level), or for MR (and 'auto') the 0.5-99.5 percentiles."""
    values = np.asarray(values, np.float32)
    if preset and preset != "auto":
        if preset not in WINDOWS:
            raise InputError(f"window: unknown preset '{preset}'; choose auto or one of {', '.join(WINDOWS)}")
        width, level = WINDOWS[preset]
        lo, hi = level - width / 2, level + width / 2
    elif modality == "CT" and preset is None:
        width, level = WINDOWS["soft-tissue"]
        lo, hi = level - width / 2, level + width / 2
    else:
        nonzero = values[values != 0]
        sample = nonzero if nonzero.size > 100 else values
        lo, hi = (np.percentile(sample, [0.5, 99.5]) if sample.size else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1
    return (np.clip((values - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def save_label_volume(labels_xyz: np.ndarray, like: Volume, path: str | Path) -> Path:
    """Write a label volume (X, Y, Z) as NIfTI with the source's affine (and shape)."""
    import nibabel as nib

    if labels_xyz.shape != like.data.shape[:3]:
        raise InputError(f"labels: expected shape {like.data.shape[:3]} like the source, got {labels_xyz.shape}")
    path = Path(path)
    img = nib.Nifti1Image(labels_xyz.astype(np.uint8), like.affine)
    img.set_qform(like.affine, code=1)
    img.set_sform(like.affine, code=1)
    nib.save(img, str(path))
    return path
