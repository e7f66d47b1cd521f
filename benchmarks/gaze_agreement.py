"""Our online I-DT / I-VT against pymovements' offline detectors on REAL 1000 Hz gaze.

    python benchmarks/gaze_agreement.py [--data ../shared/data/gaze_raw/data]

Both get the same input: positions in degrees of visual angle (pymovements' toy-dataset geometry:
1280x1024 px, 38x30.2 cm, 68 cm); same thresholds (I-DT 1.0 deg / 100 ms, I-VT 20 deg/s / 100 ms).
Agreement: fixation counts, sample-level Cohen's kappa, onset/offset differences of matched fixations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gazeseg.core.geometry import ViewingGeometry
from gazeseg.core.types import GazeSamples
from gazeseg.gaze.fixations import fixation_labels, idt, ivt
from gazeseg.gaze.recording import read_raw_pixels

GEOMETRY = ViewingGeometry(screen_w_px=1280, screen_h_px=1024, screen_w_mm=380, screen_h_mm=302, distance_mm=680)


def _pm_intervals(events) -> list[tuple[float, float]]:  # noqa: ANN001
    frame = events.frame
    return [(float(a), float(b)) for a, b in zip(frame["onset"].to_list(), frame["offset"].to_list())]


def _labels(t_ms: np.ndarray, intervals: list[tuple[float, float]]) -> np.ndarray:
    out = np.zeros(len(t_ms), bool)
    for a, b in intervals:
        out |= (t_ms >= a) & (t_ms <= b)
    return out


def _matched_differences(ours: list[tuple[float, float]], theirs: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    onset, offset = [], []
    for a, b in ours:
        best, overlap = None, 0.0
        for c, d in theirs:
            o = min(b, d) - max(a, c)
            if o > overlap:
                best, overlap = (c, d), o
        if best is not None:
            onset.append(a - best[0])
            offset.append(b - best[1])
    return onset, offset


def compare(path: Path) -> dict:
    import pymovements as pm
    from sklearn.metrics import cohen_kappa_score

    raw = read_raw_pixels(path, screen_w_px=1280, screen_h_px=1024, origin="lower left")
    deg = np.full(raw.xy.shape, np.nan)
    deg[raw.valid] = GEOMETRY.screen_px_to_deg(raw.xy[raw.valid])
    t_ms = np.round(raw.t_s * 1000).astype(np.int64)
    samples = GazeSamples(raw.t_s, deg, raw.valid, frame="screen_px")
    out = {"file": path.name, "samples": len(raw), "valid_fraction": float(raw.valid.mean())}
    # Velocities for pymovements' I-VT: central differences in deg/s (NaN across gaps).
    vel = np.gradient(deg, raw.t_s, axis=0)
    for name, ours_fn, theirs_fn in (
        ("idt", lambda: idt(samples, px_per_deg=1.0, dispersion_deg=1.0, min_duration_s=0.1),
         lambda: pm.events.idt(deg, t_ms, minimum_duration=100, dispersion_threshold=1.0)),
        ("ivt", lambda: ivt(samples, px_per_deg=1.0, velocity_deg_s=20.0, min_duration_s=0.1),
         lambda: pm.events.ivt(vel, t_ms, minimum_duration=100, velocity_threshold=20.0)),
    ):
        ours = [(f.start_s * 1000, f.end_s * 1000) for f in ours_fn()]
        theirs = _pm_intervals(theirs_fn())
        a = fixation_labels(samples, ours_fn())
        b = _labels(t_ms, theirs) & raw.valid
        onset, offset = _matched_differences(ours, theirs)
        out[name] = {
            "ours": len(ours), "pymovements": len(theirs),
            "sample_agreement": float(np.mean(a[raw.valid] == b[raw.valid])),
            "cohen_kappa": float(cohen_kappa_score(a[raw.valid], b[raw.valid])),
            "onset_diff_ms_median_abs": float(np.median(np.abs(onset))) if onset else None,
            "offset_diff_ms_median_abs": float(np.median(np.abs(offset))) if offset else None,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/gaze_raw/data"))
    parser.add_argument("--out", type=Path, default=Path("results/gaze_agreement"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [compare(p) for p in sorted(args.data.glob("*.csv"))]
    (args.out / "report.json").write_text(json.dumps(results, indent=2))
    lines = ["# Online fixation detection vs pymovements (real 1000 Hz gaze)", "",
             "| file | detector | ours | pymovements | sample agreement | Cohen's kappa | median abs onset / offset diff (ms) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for name in ("idt", "ivt"):
            d = r[name]
            lines.append(f"| {r['file']} | {name.upper()} | {d['ours']} | {d['pymovements']} | {d['sample_agreement']:.3f} | {d['cohen_kappa']:.3f} | "
                         f"{d['onset_diff_ms_median_abs'] or 0:.1f} / {d['offset_diff_ms_median_abs'] or 0:.1f} |")
    md = "\n".join(lines)
    (args.out / "report.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
