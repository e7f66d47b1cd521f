"""Fit the gaze simulator's fixation durations to REAL human fixations (OSIE, Xu et al. 2014).

    python benchmarks/fit_simulator.py [--osie ../shared/data/osie/fixations.mat]

Prints the empirical figures, the log-normal fit used by ``gazeseg.gaze.simulator`` and writes a
histogram comparison. Saccade amplitudes are in stimulus pixels (OSIE's viewing geometry is not
in the data; the simulator draws saccades from its targets, not from this distribution).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.io as sio
from scipy import stats

from gazeseg.gaze.simulator import OSIE_DURATION_MEDIAN_S, OSIE_DURATION_SIGMA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osie", type=Path, default=Path("../shared/data/osie/fixations.mat"))
    parser.add_argument("--out", type=Path, default=Path("results/fit_simulator"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = sio.loadmat(str(args.osie), squeeze_me=True, struct_as_record=False)["fixations"]
    durations, amplitudes = [], []
    for entry in data:
        for subject in np.atleast_1d(entry.subjects):
            x, y, d = (np.atleast_1d(getattr(subject, f)).astype(float) for f in ("fix_x", "fix_y", "fix_duration"))
            durations += list(d / 1000.0)
            amplitudes += list(np.hypot(np.diff(x), np.diff(y)))
    d = np.array(durations)
    d = d[(d > 0.04) & (d < 2.0)]
    sigma, _, scale = stats.lognorm.fit(d, floc=0)
    report = {
        "fixations": int(len(d)),
        "duration_quantiles_s": dict(zip(["10", "25", "50", "75", "90"], np.percentile(d, [10, 25, 50, 75, 90]).round(3).tolist())),
        "lognormal_fit": {"median_s": float(scale), "sigma": float(sigma)},
        "simulator_uses": {"median_s": OSIE_DURATION_MEDIAN_S, "sigma": OSIE_DURATION_SIGMA},
        "saccade_amplitude_px_quantiles": dict(zip(["10", "50", "90"], np.percentile(amplitudes, [10, 50, 90]).round(1).tolist())),
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    bins = np.linspace(0, 1.0, 60)
    ax.hist(d, bins=bins, density=True, alpha=0.5, label="OSIE (real)")
    sim = OSIE_DURATION_MEDIAN_S * np.exp(OSIE_DURATION_SIGMA * np.random.default_rng(0).standard_normal(50_000))
    ax.hist(sim, bins=bins, density=True, histtype="step", lw=2, label="simulator")
    ax.set_xlabel("fixation duration (s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "durations.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
