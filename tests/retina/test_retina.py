"""Retina mode on real data: vessels vs CHASE_DB1 observers, the pipeline on an IDRiD crop region,
metrics on hand-checkable cases."""

import numpy as np
import pytest
import cv2

from gazeseg.core.errors import InputError
from gazeseg.engines.registry import create_engine
from gazeseg.io.images import load_image
from gazeseg.retina.metrics import PixelPR, froc, lesion_hits
from gazeseg.retina.pipeline import RetinaPipeline
from gazeseg.retina.preprocess import prepare
from gazeseg.retina.reading import simulate_reading
from gazeseg.retina.saliency import ma_saliency, salient_points
from gazeseg.retina.vessels import vessel_mask, vesselness


def test_vessels_agree_with_chase_observers(data_dir):
    from sklearn.metrics import roc_auc_score

    path = data_dir / "chase_db1" / "Image_01L.jpg"
    view = prepare(load_image(path))
    response = vesselness(view)
    mask = vessel_mask(response, view.fov)
    for obs in ("1stHO", "2ndHO"):
        gt = cv2.imread(str(path.with_name(f"Image_01L_{obs}.png")), 0) > 127
        assert roc_auc_score(gt[view.fov], response[view.fov]) > 0.82  # measured ~0.87
        assert 2 * (mask & gt).sum() / (mask.sum() + gt.sum()) > 0.5


@pytest.fixture(scope="module")
def idrid(data_dir):
    image = load_image(data_dir / "idrid" / "images" / "IDRiD_01.jpg")
    gt = cv2.imread(str(data_dir / "idrid" / "masks_MA" / "IDRiD_01_MA.png"), 0) > 127
    return image, gt, prepare(image)


def test_saliency_peaks_find_most_microaneurysms(idrid):
    from scipy import ndimage as ndi

    image, gt, view = idrid
    saliency = ma_saliency(view)
    points = salient_points(saliency, view.fov, unit=view.unit, threshold=0.3, max_points=400)
    small = cv2.resize(gt.astype(np.uint8), (saliency.shape[1], saliency.shape[0]), interpolation=cv2.INTER_AREA) > 0
    labels, n = ndi.label(small)
    found = {labels[int(y), int(x)] for x, y, _ in points} - {0}
    near = set()
    dist, (ri, ci) = ndi.distance_transform_edt(~small, return_indices=True)
    for x, y, _ in points:
        if dist[int(y), int(x)] <= 3:
            near.add(labels[ri[int(y), int(x)], ci[int(y), int(x)]])
    assert len(found | near) >= 0.6 * n  # measured 18/18 on this image


def test_pipeline_filter_keeps_fewer_and_truer_candidates(idrid):
    image, gt, view = idrid
    reading = simulate_reading(image.shape[:2], view.fov, gt, rng=1)
    assert len(reading.fixations) > 20 and reading.lesion_targets > 5
    pipe = RetinaPipeline(create_engine("classic"), mode="saliency+filter", max_candidates=20)
    result = pipe.run(image, reading.fixations, px_per_deg=reading.px_per_deg, view=view)
    assert result.lesion_mask.shape == gt.shape and result.score_map.dtype == np.float32
    kept = [c for c in result.candidates if c.kept]
    assert 0 < len(kept) < len(result.candidates)
    def precision(cands):
        return np.mean([(gt[c.box[0]:c.box[2], c.box[1]:c.box[3]] & c.mask).any() for c in cands])
    assert precision(kept) > precision(result.candidates)
    for lesion in result.lesions():
        assert set(lesion) == {"x", "y", "area_px", "score"}
    assert not result.disc.contains(np.array([c.x * view.scale for c in kept]), np.array([c.y * view.scale for c in kept])).any()


def test_pixel_aupr_and_froc_on_known_cases():
    truth = np.zeros((10, 10), bool)
    truth[2:4, 2:4] = True
    perfect = truth.astype(np.float32)
    pr = PixelPR()
    pr.add(perfect, truth)
    assert pr.aupr() == pytest.approx(1.0)
    pr = PixelPR()
    pr.add(np.zeros((10, 10), np.float32), truth)
    assert pr.aupr() == pytest.approx(0.04)  # nothing detected: the base rate
    hits, n = lesion_hits([(truth, 0.9), (np.roll(truth, 5, axis=0), 0.8)], truth)
    result = froc([(hits, n)])
    assert n == 1 and result["sensitivity_at"]["1"] == 1.0 and result["sensitivity_at"]["0.125"] == 1.0


def test_bad_inputs():
    with pytest.raises(InputError, match="colour"):
        prepare(np.zeros((50, 50), np.uint8))
    with pytest.raises(InputError, match="field of view"):
        prepare(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(InputError, match="retina mode"):
        RetinaPipeline(create_engine("classic"), mode="magic")


def test_cli_with_simulated_reading(tmp_path, data_dir):
    from gazeseg.cli import main

    image = data_dir / "idrid" / "images" / "IDRiD_05.jpg"
    truth = data_dir / "idrid" / "masks_MA" / "IDRiD_05_MA.png"
    code = main(["retina", str(image), "--simulate-reading", str(truth), "--max-candidates", "10", "--out", str(tmp_path)])
    assert code == 0
    for name in ("lesions.png", "scores.png", "lesions.csv", "overlay.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert main(["retina", str(image), "--out", str(tmp_path)]) == 1


def test_cli_reads_a_fixation_list(tmp_path, data_dir):
    from gazeseg.cli import main

    fixations = tmp_path / "fixations.csv"
    fixations.write_text("x,y,duration\n1000,1000,300\n1500,1200,400\n2000,1400,500\n2200,1000,300\n")
    image = data_dir / "idrid" / "images" / "IDRiD_05.jpg"
    assert main(["retina", str(image), "--gaze", str(fixations), "--max-candidates", "5", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "lesions.csv").read_text().startswith("x,y,area_px,score")
