"""Fit the gaze simulator to REAL human fixations (OSIE, Xu et al. 2014) and check it in closed loop.

    python benchmarks/fit_simulator.py [--osie ../shared/data/osie/fixations.mat] [--trials 300]

1. OSIE's figures: fixation durations (log-normal fit), saccade amplitudes in image widths
   (gamma / log-normal / Weibull fits with KS and quantiles), landing positions (centre bias);
2. the free-viewing model's parameters by simulated moments (``osie_fit.calibrate_free_viewing``),
   next to the constants the simulator ships (``OSIE_FREE_VIEWING``);
3. closed loop: simulated 3 s trials (tobii-pro-spectrum, the default laptop geometry, the image
   fitted to the screen) -> gap filling -> I-DT (1 deg, 100 ms) -> the same statistics as OSIE's;
4. a PROXY for where the eye lands on an object (OSIE's masks are not in the data): places that
   several viewers fixated, segmented by the weight-free classic engine from the group's medoid.

Writes ``results/fit_simulator/report.json`` and figures ``docs/results/simulator_*.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gazeseg.core.geometry import ViewingGeometry, Viewport
from gazeseg.gaze import osie_fit as of
from gazeseg.gaze.filters import fill_gaps
from gazeseg.gaze.fixations import idt
from gazeseg.gaze.simulator import (
    LANDING_SPREAD,
    OSIE_DURATION_MEDIAN_S,
    OSIE_DURATION_SIGMA,
    OSIE_FREE_VIEWING,
    FreeViewingParams,
    GazeSimulator,
)
from gazeseg.gaze.transforms import to_image_px

DETECTOR = {"dispersion_deg": 1.0, "min_duration_s": 0.1}


def closed_loop(n_trials: int, seed: int) -> tuple[list[of.Scanpath], list[of.Scanpath], float]:
    """Simulated OSIE trials: (intended, detected) scanpaths in image px and image px per degree."""
    geometry = ViewingGeometry()
    viewport = Viewport.fit(*of.OSIE_IMAGE_WH, geometry)
    ppd = viewport.image_px_per_deg(geometry)
    sim = GazeSimulator("tobii-pro-spectrum", geometry, viewport, rng=seed)
    intended, detected = [], []
    for i in range(n_trials):
        samples, fixations = sim.free_viewing(3.0)
        image = fill_gaps(to_image_px(samples, geometry, viewport))
        intended.append(of.Scanpath.from_fixations(fixations))
        detected.append(of.Scanpath.from_fixations(idt(image, px_per_deg=ppd, **DETECTOR)))
        if (i + 1) % 50 == 0 or i + 1 == n_trials:
            print(f"  closed loop: {i + 1}/{n_trials} trials", flush=True)
    return intended, detected, ppd


def landing_proxy(scanpaths: list[of.Scanpath], stimuli: Path, n_images: int, *, radius_px: float, min_viewers: int) -> dict:
    """Where fixations land on proxy objects: classic-engine masks grown from cross-viewer groups.

    Every fixation on a proxy mask counts (not only the group's, whose spread the clustering
    radius would bound); "first entries" are those whose previous fixation was off the mask (a
    first look, what ``landing_point`` simulates). The uniform baseline is the SD of the mask's
    own pixels: what landing anywhere on the object would give.
    """
    from PIL import Image

    from gazeseg.core.types import PromptSet
    from gazeseg.engines.registry import create_engine

    engine = create_engine("classic", work_size=256)
    by_image: dict[str, list[of.Scanpath]] = {}
    for s in scanpaths:
        by_image.setdefault(s.image, []).append(s)
    names = sorted(n for n in by_image if (stimuli / n).is_file())[:n_images]
    all_rel, first_rel, uniform_sd, extents = [], [], [], []
    n_groups = n_objects = 0
    t0 = time.perf_counter()
    for k, name in enumerate(names):
        image = np.asarray(Image.open(stimuli / name).convert("RGB"))
        embedding = engine.embed(image)
        paths = by_image[name]
        pooled = np.concatenate([s.xy for s in paths])
        masks: list[np.ndarray] = []
        for group in of.cross_viewer_clusters(paths, radius_px=radius_px, min_viewers=min_viewers):
            n_groups += 1
            pts = pooled[group]
            medoid = pts[np.argmin(np.linalg.norm(pts[:, None] - pts[None], axis=-1).sum(1))]
            mask = engine.predict(embedding, PromptSet(medoid[None], np.array([1]))).best_mask
            if not 0.002 <= mask.mean() <= 0.25:  # nothing, or background / the whole scene: not an object
                continue
            if any((mask & m).sum() > 0.5 * (mask | m).sum() for m in masks):  # the same object again
                continue
            masks.append(mask)
        for mask in masks:
            n_objects += 1
            rows, cols = np.nonzero(mask)
            extent = np.array([np.ptp(cols) + 1, np.ptp(rows) + 1], float)
            extents.append(extent)
            uniform_sd.append([cols.std() / extent[0], rows.std() / extent[1]])
            for s in paths:
                rel, on = of.landing_offsets(s.xy, mask)
                entry = on & ~np.r_[False, on[:-1]]
                all_rel.append(rel[on])
                first_rel.append(rel[entry])
        print(f"  landing proxy: {k + 1}/{len(names)} images, {n_objects} objects from {n_groups} groups, {time.perf_counter() - t0:.0f} s", flush=True)

    def summary(parts: list[np.ndarray]) -> dict:
        rel = np.concatenate(parts) if parts else np.zeros((0, 2))
        if not len(rel):
            return {"fixations": 0}
        mad = [float(1.4826 * np.median(np.abs(v - np.median(v)))) for v in rel.T]
        return {"fixations": int(len(rel)), "mean": rel.mean(0).round(3).tolist(), "sd": rel.std(0).round(3).tolist(), "robust_sd": np.round(mad, 3).tolist()}

    return {
        "images": len(names), "groups": n_groups, "objects": n_objects,
        "radius_px": radius_px, "min_viewers": min_viewers, "engine": "classic (work_size 256), prompt: the group's medoid",
        "object_extent_px_median": np.median(extents, axis=0).round(1).tolist() if extents else None,
        "all_on_object": summary(all_rel),
        "first_entries": summary(first_rel),
        "uniform_on_object_sd": np.mean(uniform_sd, axis=0).round(3).tolist() if uniform_sd else None,
        "simulator_uses": LANDING_SPREAD,
        "_offsets": np.concatenate(first_rel) if first_rel else np.zeros((0, 2)),
    }


def _row(name: str, osie: str, sim_model: str, sim_detected: str) -> str:
    return f"| {name} | {osie} | {sim_model} | {sim_detected} |"


def _fmt_q(q: dict[str, float], keys: tuple[str, ...] = ("10", "25", "50", "75", "90"), digits: int = 3) -> str:
    return " / ".join(f"{q[k]:.{digits}f}" for k in keys)


def table(osie: of.ViewingStats, model: of.ViewingStats, detected: of.ViewingStats) -> str:
    rows = [
        "| | OSIE (real) | simulator, intended | simulator, after I-DT |",
        "|---|---|---|---|",
        _row("fixation duration 10/25/50/75/90 % (s)", _fmt_q(osie.duration_q_s), _fmt_q(model.duration_q_s), _fmt_q(detected.duration_q_s)),
        _row("saccade amplitude 10/25/50/75/90 % (image widths)", _fmt_q(osie.amplitude_q), _fmt_q(model.amplitude_q), _fmt_q(detected.amplitude_q)),
        _row("position mean x/W, y/H", "%.3f, %.3f" % osie.position_mean, "%.3f, %.3f" % model.position_mean, "%.3f, %.3f" % detected.position_mean),
        _row("position SD x/W, y/H", "%.3f, %.3f" % osie.position_sd, "%.3f, %.3f" % model.position_sd, "%.3f, %.3f" % detected.position_sd),
        _row("fixations per 3 s trial (median)", f"{osie.fixations_per_scanpath:g}", f"{model.fixations_per_scanpath:g}", f"{detected.fixations_per_scanpath:g}"),
    ]
    return "\n".join(rows)


def figures(out: Path, osie: list[of.Scanpath], intended: list[of.Scanpath], detected: list[of.Scanpath], proxy: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []

    def hist(ax, data, bins, **kw):  # type: ignore[no-untyped-def]
        ax.hist(data, bins=bins, density=True, **kw)

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    bins = np.linspace(0, 1.0, 60)
    hist(ax, of.durations(osie), bins, alpha=0.5, label="OSIE (real)")
    hist(ax, of.durations(detected), bins, histtype="step", lw=2, label="simulator, after I-DT")
    lognormal = OSIE_DURATION_MEDIAN_S * np.exp(OSIE_DURATION_SIGMA * np.random.default_rng(0).standard_normal(50_000))
    hist(ax, lognormal, bins, histtype="step", lw=1, ls="--", color="k", label="log-normal fit")
    ax.set_xlabel("fixation duration (s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "simulator_durations.png")
    written.append("simulator_durations.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    bins = np.linspace(0, 1.0, 60)
    hist(ax, of.amplitudes(osie), bins, alpha=0.5, label="OSIE (real)")
    hist(ax, of.amplitudes(intended), bins, histtype="step", lw=1, ls="--", color="k", label="simulator, intended")
    hist(ax, of.amplitudes(detected), bins, histtype="step", lw=2, label="simulator, after I-DT")
    ax.set_xlabel("saccade amplitude (image widths)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "simulator_amplitudes.png")
    written.append("simulator_amplitudes.png")
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), dpi=100)
    for ax, data, title in ((axes[0], of.positions(osie), "OSIE (real)"), (axes[1], of.positions(detected), "simulator, after I-DT")):
        h, _, _ = np.histogram2d(data[:, 1], data[:, 0], bins=(24, 32), range=((0, 1), (0, 1)), density=True)
        ax.imshow(h, extent=(0, 1, 1, 0), aspect=0.75, cmap="magma")
        ax.set_title(f"{title}: {len(data):,} fixations", fontsize=9)
        ax.set_xlabel("x / W")
    axes[0].set_ylabel("y / H")
    fig.tight_layout()
    fig.savefig(out / "simulator_positions.png")
    written.append("simulator_positions.png")
    plt.close(fig)

    rel = proxy.get("_offsets")
    if rel is not None and len(rel):
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        bins = np.linspace(-1, 1, 41)
        hist(ax, rel[:, 0], bins, alpha=0.5, label="OSIE proxy, first entries, x / width")
        hist(ax, rel[:, 1], bins, histtype="step", lw=2, label="OSIE proxy, first entries, y / height")
        grid = np.linspace(-1, 1, 200)
        ax.plot(grid, np.exp(-0.5 * (grid / LANDING_SPREAD) ** 2) / (LANDING_SPREAD * np.sqrt(2 * np.pi)), "k--", lw=1, label=f"simulator: N(0, {LANDING_SPREAD})")
        ax.set_xlabel("landing offset from the proxy object's centroid (extent units)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "simulator_landing_proxy.png")
        written.append("simulator_landing_proxy.png")
        plt.close(fig)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osie", type=Path, default=Path("../shared/data/osie/fixations.mat"))
    parser.add_argument("--out", type=Path, default=Path("results/fit_simulator"))
    parser.add_argument("--figures", type=Path, default=Path("docs/results"))
    parser.add_argument("--trials", type=int, default=300, help="simulated 3 s trials for the closed loop")
    parser.add_argument("--proxy-images", type=int, default=40, help="OSIE stimuli for the landing proxy (0 = skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    scanpaths = of.load_osie(args.osie)
    osie = of.viewing_stats(scanpaths)
    median_s, sigma = of.fit_durations(of.durations(scanpaths))
    amp_fits = of.fit_amplitude_distributions(of.amplitudes(scanpaths))
    print(f"OSIE: {osie.n_fixations:,} fixations in {osie.n_scanpaths:,} scanpaths; durations log-normal median {median_s:.3f} s, sigma {sigma:.3f}")
    for name, fit in amp_fits.items():
        print(f"  amplitude {name}: shape {fit['shape']:.3f}, scale {fit['scale']:.4f} W, KS {fit['ks']:.3f}, quantiles {_fmt_q(fit['quantiles'])}")

    print("free-viewing fit (simulated moments, ~15 s):", flush=True)
    gamma = amp_fits["gamma"]
    start = FreeViewingParams(gamma["shape"], gamma["scale"], osie.position_mean, osie.position_sd)
    t0 = time.perf_counter()

    def progress(i: int, err: float) -> None:
        if i % 25 == 0:
            print(f"  evaluation {i}: loss {err:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    fitted, loss = of.calibrate_free_viewing(osie, start=start, seed=args.seed, progress=progress)
    shipped = of.viewing_stats(of.simulate_free_viewing(OSIE_FREE_VIEWING, n_trials=2000, rng=args.seed))
    shipped_loss = of.moment_error(shipped, osie)
    print(f"  fitted:  {fitted} (loss {loss:.4f})\n  shipped: {OSIE_FREE_VIEWING} (loss {shipped_loss:.4f})")

    intended, detected, ppd = closed_loop(args.trials, args.seed)
    model_stats, detected_stats = of.viewing_stats(intended), of.viewing_stats(detected)
    print(table(osie, model_stats, detected_stats))

    proxy: dict = {}
    if args.proxy_images > 0:
        proxy = landing_proxy(scanpaths, args.osie.parent / "stimuli", args.proxy_images, radius_px=40.0, min_viewers=6)
        print(f"landing proxy ({proxy['objects']} objects): first entries {proxy['first_entries']}, all on object {proxy['all_on_object']}, "
              f"uniform on the same objects SD {proxy['uniform_on_object_sd']}; simulator uses {LANDING_SPREAD} (literature)")

    written = figures(args.figures, scanpaths, intended, detected, proxy)
    report = {
        "osie": osie.as_dict() | {"lognormal_fit": {"median_s": median_s, "sigma": sigma}, "amplitude_fits": amp_fits},
        "simulator_uses": {
            "duration": {"median_s": OSIE_DURATION_MEDIAN_S, "sigma": OSIE_DURATION_SIGMA},
            "free_viewing": OSIE_FREE_VIEWING.__dict__, "free_viewing_loss": shipped_loss, "landing_spread": LANDING_SPREAD,
        },
        "refit": {"free_viewing": fitted.__dict__, "loss": loss},
        "closed_loop": {
            "preset": "tobii-pro-spectrum", "trials": args.trials, "trial_s": 3.0, "image_px_per_deg": ppd,
            "detector": {"name": "I-DT after fill_gaps", **DETECTOR},
            "intended": model_stats.as_dict(), "detected": detected_stats.as_dict(),
        },
        "landing_proxy": {k: v for k, v in proxy.items() if not k.startswith("_")},
        "figures": [str(args.figures / w) for w in written],
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"wrote {args.out / 'report.json'} and {', '.join(written)} in {args.figures}")


if __name__ == "__main__":
    main()
