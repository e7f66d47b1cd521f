"""Gaze recordings on disk: our own CSV format, Tobii Pro Lab TSV exports, fixation lists and
pymovements-style raw sample files.

Our format (``.gaze.csv``): one comment line ``# gazeseg-gaze v1 frame=<frame>`` then a header
``t_s,x,y,valid[,left_x,left_y,right_x,right_y,pupil_mm]``; ``x``/``y`` empty or NaN when
invalid; ``valid`` 0/1. It round-trips ``GazeSamples`` exactly (floats as repr).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation, GazeSamples

MAGIC = "# gazeseg-gaze v1"
_OPTIONAL = ("left_x", "left_y", "right_x", "right_y", "pupil_mm")


def write_gaze_csv(samples: GazeSamples, path: str | Path) -> Path:
    """Write samples in our documented CSV format (atomic: a crash never leaves half a file)."""
    path = Path(path)
    columns = ["t_s", "x", "y", "valid"]
    extra: list[np.ndarray] = []
    if samples.left_xy is not None:
        columns += ["left_x", "left_y"]
        extra += [samples.left_xy[:, 0], samples.left_xy[:, 1]]
    if samples.right_xy is not None:
        columns += ["right_x", "right_y"]
        extra += [samples.right_xy[:, 0], samples.right_xy[:, 1]]
    if samples.pupil_mm is not None:
        columns.append("pupil_mm")
        extra.append(samples.pupil_mm)
    buffer = io.StringIO()
    buffer.write(f"{MAGIC} frame={samples.frame}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for i in range(len(samples)):
        row = [repr(float(samples.t_s[i])), repr(float(samples.xy[i, 0])), repr(float(samples.xy[i, 1])), int(bool(samples.valid[i]))]
        row += [repr(float(col[i])) for col in extra]
        writer.writerow(row)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue())
    tmp.replace(path)
    return path


def _float(text: str, where: str) -> float:
    text = text.strip()
    if text == "" or text.lower() in {"nan", "na", "null"}:
        return float("nan")
    try:
        return float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)
    except ValueError:
        raise InputError(f"{where}: expected a number, got {text!r}") from None


def read_gaze_csv(path: str | Path) -> GazeSamples:
    """Read our CSV format; a malformed line gives an error naming the file and line."""
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    if not lines or not lines[0].startswith(MAGIC):
        raise InputError(f"{path}: not a gazeseg gaze CSV (first line must start with '{MAGIC}')")
    frame = "display_norm"
    for token in lines[0].split():
        if token.startswith("frame="):
            frame = token.split("=", 1)[1]
    if frame not in ("display_norm", "screen_px", "image_px"):
        raise InputError(f"{path}: line 1: unknown frame '{frame}'; expected display_norm, screen_px or image_px")
    reader = csv.reader(lines[1:])
    header = next(reader, None)
    if header is None or header[:4] != ["t_s", "x", "y", "valid"]:
        raise InputError(f"{path}: line 2: expected the header t_s,x,y,valid[,...], got {header}")
    rows = []
    for number, row in enumerate(reader, start=3):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{path}: line {number}: expected {len(header)} fields, got {len(row)}")
        rows.append([_float(v, f"{path}: line {number}") for v in row])
    data = np.array(rows, float).reshape(-1, len(header))
    col = {name: data[:, i] for i, name in enumerate(header)}
    xy = np.stack([col["x"], col["y"]], 1)
    valid = (col["valid"] > 0) & np.all(np.isfinite(xy), axis=1)
    pair = lambda a, b: np.stack([col[a], col[b]], 1) if a in col and b in col else None  # noqa: E731
    return GazeSamples(
        t_s=col["t_s"], xy=xy, valid=valid, frame=frame,  # type: ignore[arg-type]
        left_xy=pair("left_x", "left_y"), right_xy=pair("right_x", "right_y"), pupil_mm=col.get("pupil_mm"),
    )


def _sniff_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    text = path.read_text(errors="replace")
    first = text.splitlines()[0] if text else ""
    delimiter = "\t" if "\t" in first else ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise InputError(f"{path}: the file is empty")
    return [h.strip() for h in rows[0]], rows[1:]


def read_tobii_tsv(path: str | Path, *, screen_w_px: int | None = None, screen_h_px: int | None = None) -> GazeSamples:
    """Tobii Pro Lab "Data export" TSV: 'Recording timestamp' (µs or ms) and 'Gaze point X/Y' (px).

    Returns screen_px samples; eye-movement rows without a gaze point are invalid.
    """
    path = Path(path)
    header, rows = _sniff_rows(path)
    index = {name.lower(): i for i, name in enumerate(header)}

    def find(*names: str) -> int:
        for name in names:
            if name.lower() in index:
                return index[name.lower()]
        raise InputError(f"{path}: not a Tobii Pro Lab export: missing column {names[0]!r} (have {header[:8]}...)")

    it = find("Recording timestamp", "Recording timestamp [μs]", "Recording timestamp [ms]")
    ix = find("Gaze point X", "Gaze point X [DACS px]")
    iy = find("Gaze point Y", "Gaze point Y [DACS px]")
    unit = 1e-6 if "ms" not in header[it] else 1e-3
    t, xy = [], []
    for number, row in enumerate(rows, start=2):
        if len(row) <= max(it, ix, iy) or not row[it].strip():
            continue
        t.append(_float(row[it], f"{path}: line {number}") * unit)
        xy.append((_float(row[ix], f"{path}: line {number}"), _float(row[iy], f"{path}: line {number}")))
    xy_a = np.array(xy, float).reshape(-1, 2)
    return GazeSamples(np.array(t), xy_a, np.all(np.isfinite(xy_a), axis=1), frame="screen_px")


def read_raw_pixels(
    path: str | Path,
    *,
    screen_w_px: int | None = None,
    screen_h_px: int | None = None,
    time_unit_s: float = 1e-3,
    origin: str = "upper left",
) -> GazeSamples:
    """Raw samples with columns timestamp, x, y in screen pixels (pymovements' toy data layout).

    ``origin='lower left'`` flips y (needs ``screen_h_px``) so the result is top-left like ours.
    With the screen size known, samples far off the screen (trackers write -32768 or similar
    for lost samples) are marked invalid.
    """
    path = Path(path)
    header, rows = _sniff_rows(path)
    lower = [h.lower() for h in header]
    try:
        it, ix, iy = lower.index("timestamp"), lower.index("x"), lower.index("y")
    except ValueError:
        raise InputError(f"{path}: expected columns timestamp, x, y; got {header}") from None
    data = np.array(
        [[_float(r[it], f"{path}: line {n}"), _float(r[ix], f"{path}: line {n}"), _float(r[iy], f"{path}: line {n}")]
         for n, r in enumerate(rows, start=2) if len(r) > max(it, ix, iy)],
        float,
    ).reshape(-1, 3)
    xy = data[:, 1:3].copy()
    if origin == "lower left":
        if screen_h_px is None:
            raise InputError("read_raw_pixels: origin 'lower left' needs screen_h_px to flip y")
        xy[:, 1] = screen_h_px - xy[:, 1]
    valid = np.all(np.isfinite(xy), axis=1)
    for axis, size in ((0, screen_w_px), (1, screen_h_px)):
        if size is not None:
            valid &= (xy[:, axis] >= -0.1 * size) & (xy[:, axis] <= 1.1 * size)
    xy[~valid] = np.nan
    return GazeSamples(data[:, 0] * time_unit_s, xy, valid, frame="screen_px")


_FIX_ALIASES = {
    "x": ("x", "fix_x", "fixation_x", "fpogx", "gaze_x", "mean_x"),
    "y": ("y", "fix_y", "fixation_y", "fpogy", "gaze_y", "mean_y"),
    "duration": ("duration", "fix_duration", "duration_ms", "fpogd", "dur"),
    "start": ("start", "start_s", "timestamp", "time", "onset", "fpogs"),
}


def read_fixation_csv(path: str | Path, *, frame: str = "image_px", duration_unit_s: float | None = None) -> list[Fixation]:
    """Fixation lists (x, y, duration[, start]) such as GazeMedSeg's CSVs; column names matched loosely.

    Durations above 20 are taken as milliseconds unless ``duration_unit_s`` says otherwise.
    """
    path = Path(path)
    header, rows = _sniff_rows(path)
    lower = [h.lower().strip() for h in header]
    col: dict[str, int] = {}
    for key, names in _FIX_ALIASES.items():
        for name in names:
            if name in lower:
                col[key] = lower.index(name)
                break
    if "x" not in col or "y" not in col:
        raise InputError(f"{path}: a fixation list needs x and y columns (e.g. x,y,duration); got {header}")
    values = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}: line {number}"
        x, y = _float(row[col["x"]], where), _float(row[col["y"]], where)
        d = _float(row[col["duration"]], where) if "duration" in col else 0.2
        s = _float(row[col["start"]], where) if "start" in col else float("nan")
        values.append((x, y, d, s))
    if not values:
        return []
    durations = np.array([v[2] for v in values])
    unit = duration_unit_s if duration_unit_s is not None else (1e-3 if np.nanmedian(durations) > 20 else 1.0)
    fixations, clock = [], 0.0
    for x, y, d, s in values:
        start = s if np.isfinite(s) else clock
        fixations.append(Fixation(start_s=start, end_s=start + d * unit, x=x, y=y, frame=frame))  # type: ignore[arg-type]
        clock = start + d * unit
    return fixations


def load_recording(path: str | Path) -> GazeSamples:
    """Samples from any supported raw-sample file, chosen by content."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"gaze recording: no file at {path}")
    head = path.read_text(errors="replace")[:4096]
    if head.startswith(MAGIC):
        return read_gaze_csv(path)
    first = head.splitlines()[0].lower() if head else ""
    if "gaze point x" in first:
        return read_tobii_tsv(path)
    if "timestamp" in first and "x" in first:
        return read_raw_pixels(path)
    raise InputError(
        f"{path}: unknown gaze recording format; expected a gazeseg CSV ('{MAGIC}' first line), "
        "a Tobii Pro Lab TSV export, or a timestamp/x/y sample file"
    )
