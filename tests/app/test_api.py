"""The app's HTTP and WebSocket API on real images and a real SQLite project."""

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from gazeseg.app import AppSettings, create_app
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from gazeseg.io.images import load_image


@pytest.fixture
def grabcut_dir(data_dir):
    return data_dir / "grabcut"


def _object(data_dir, name):
    return next(o for o in load_dataset(data_dir / "grabcut") if o.name == name)


def _client(tmp_path, paths, **kw):
    settings = AppSettings(paths=paths, project=tmp_path / "p.sqlite", engine="classic", **kw)
    return TestClient(create_app(settings))


def test_gaze_over_websocket_gives_preview_and_accept_persists(tmp_path, data_dir):
    obj = _object(data_dir, "teddy")
    gt, ignore = obj.load()
    with _client(tmp_path, [obj.image_path]) as client:
        items = client.get("/api/items").json()
        assert items[0]["name"] == "teddy.jpg"
        client.post("/api/open", json={"item": items[0]["id"]})
        x, y = interior_point(gt, ignore)
        with client.websocket_connect("/ws") as ws:
            t = np.arange(0, 400, 8.0)  # 400 ms of steady gaze (page clock, ms)
            rng = np.random.default_rng(0)
            xy = np.column_stack([x + rng.normal(0, 2, len(t)), y + rng.normal(0, 2, len(t))])
            ws.send_text(json.dumps({"type": "gaze", "t": t.tolist(), "xy": xy.tolist()}))
            deadline = time.time() + 20
            preview = None
            while time.time() < deadline:
                message = json.loads(ws.receive_text())
                if message["type"] == "preview":
                    preview = message
                    break
            assert preview is not None and preview["png"]
        accepted = client.post("/api/accept", json={"label": 1}).json()
        assert accepted["mask"] >= 1 and len(accepted["masks"]) == 1
    # A new app on the same project (a restart) finds the mask, the gaze and where the user was.
    with _client(tmp_path, [obj.image_path]) as client:
        state = client.get("/api/state").json()
        assert state["restore"]["item"] == items[0]["id"]
        store = client.app.state.session.store
        mask = store.decode(store.masks()[0])
        assert iou(mask, gt, ignore) > 0.6
        gaze = store.gaze()
        assert sum(len(chunk[3]) for chunk in gaze) == len(t)


def test_click_accept_undo_redo_across_items_and_export(tmp_path, data_dir):
    objs = [_object(data_dir, n) for n in ("teddy", "189080")]
    with _client(tmp_path, [o.image_path for o in objs]) as client:
        items = client.get("/api/items").json()
        for item, obj in zip(items, objs):
            gt, ignore = obj.load()
            client.post("/api/open", json={"item": item["id"]})
            x, y = interior_point(gt, ignore)
            assert client.post("/api/click", json={"x": x, "y": y, "positive": True}).status_code == 200
            client.app.state.session.live.wait_idle()
            assert client.post("/api/accept", json={"label": 1}).status_code == 200
        undone = client.post("/api/undo").json()["undone"]
        assert undone["item"] == items[1]["id"]
        undone = client.post("/api/undo").json()["undone"]
        assert undone["item"] == items[0]["id"]  # undo crosses images
        assert client.post("/api/redo").json()["redone"]["item"] == items[0]["id"]
        files = client.post("/api/export").json()["files"]
        assert files["png"] == ["teddy_labels.png"] and files["coco"] == ["annotations_coco.json"]
        coco = client.get("/api/export/annotations_coco.json").json()
        assert len(coco["annotations"]) == 1 and coco["annotations"][0]["segmentation"]["counts"]
        png = client.get("/api/export/teddy_labels.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert client.get("/api/export/..%2Fp.sqlite").status_code in (400, 404)
        assert client.get("/api/export/gaze.csv").text.startswith("item,slice,source")


def test_volume_tumour_slice_export_matches_source_geometry(tmp_path, data_dir):
    import nibabel as nib

    flair = data_dir / "brats" / "brats_2013_pat0001_1" / "Flair_subtrMeanDivStd.nii.gz"
    truth = nib.load(str(data_dir / "brats" / "brats_2013_pat0001_1" / "OTMultiClass.nii.gz"))
    tumour = np.asarray(truth.dataobj) > 0
    z = int(np.argmax(tumour.sum(axis=(0, 1))))
    gt_slice = tumour[:, :, z].T
    with _client(tmp_path, [flair]) as client:
        item = client.get("/api/items").json()[0]
        assert item["kind"] == "volume" and item["depth"] == tumour.shape[2]
        client.post("/api/open", json={"item": item["id"], "slice": z})
        x, y = interior_point(gt_slice)
        client.post("/api/click", json={"x": x, "y": y})
        client.app.state.session.live.wait_idle()
        client.post("/api/accept", json={"label": 1})
        files = client.post("/api/export").json()["files"]
        out = nib.load(str(tmp_path / "exports" / files["nifti"][0]))
        source = nib.load(str(flair))
        assert out.shape == source.shape[:3]
        np.testing.assert_allclose(out.affine, source.affine, atol=1e-5)
        labels = np.asarray(out.dataobj)
        assert labels[:, :, z].any() and not labels[:, :, z + 5].any()
        assert iou(labels[:, :, z].T > 0, gt_slice) > 0.5


def test_bad_files_and_requests_keep_the_session(tmp_path, data_dir):
    obj = _object(data_dir, "teddy")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with _client(tmp_path, [obj.image_path, broken], max_upload_bytes=1000) as client:
        items = {i["name"]: i for i in client.get("/api/items").json()}
        assert items["broken.png"]["kind"] == "broken" and items["broken.png"]["error"]
        r = client.post("/api/open", json={"item": items["broken.png"]["id"]})
        assert r.status_code == 400 and "broken.png" in r.json()["error"]
        r = client.post("/api/upload", files={"file": ("big.png", b"x" * 5000, "image/png")})
        assert r.status_code in (400, 413) and "limit" in r.json()["error"]
        r = client.post("/api/accept", json={"label": 1})
        assert r.status_code == 400  # nothing open / no prompt: explained, not a crash
        assert client.post("/api/open", json={"item": items["teddy.jpg"]["id"]}).status_code == 200
        assert client.post("/api/click", json={"x": 1e6, "y": 3}).status_code == 400


def test_token_required_off_loopback(tmp_path, data_dir):
    obj = _object(data_dir, "teddy")
    settings = AppSettings(paths=[obj.image_path], project=tmp_path / "p.sqlite", engine="classic", host="0.0.0.0")
    assert settings.token
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/items").status_code == 401
        assert client.get(f"/api/items?token={settings.token}").status_code == 200


def test_sample_images_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("GAZESEG_CACHE_DIR", str(tmp_path / "cache"))
    settings = AppSettings(engine="classic")
    with TestClient(create_app(settings)) as client:
        names = [i["name"] for i in client.get("/api/items").json()]
        assert names == ["astronaut.png", "coffee.png", "chelsea.png", "rocket.png"]
        assert load_image(client.app.state.project_path.parent / "samples" / "coffee.png").shape == (400, 600, 3)


def test_retina_mode_candidates_from_recorded_reading(tmp_path, data_dir):
    import cv2

    from gazeseg.retina.preprocess import prepare
    from gazeseg.retina.reading import simulate_reading

    path = data_dir / "idrid" / "images" / "IDRiD_05.jpg"
    gt = cv2.imread(str(data_dir / "idrid" / "masks_MA" / "IDRiD_05_MA.png"), 0) > 127
    with _client(tmp_path, [path]) as client:
        item = client.get("/api/items").json()[0]
        r = client.post("/api/retina/run", json={"item": item["id"]})
        assert r.status_code == 400 and "read it" in r.json()["error"]
        image = load_image(path)
        reading = simulate_reading(image.shape[:2], prepare(image).fov, gt, rng=0)
        store = client.app.state.session.store
        store.add_fixations(item["id"], 0, reading.fixations)
        candidates = client.post("/api/retina/run", json={"item": item["id"], "max_candidates": 12}).json()["candidates"]
        assert candidates
        assert client.post("/api/retina/decide", json={"item": item["id"], "i": candidates[0]["i"], "confirm": True}).json()["mask"]
        client.post("/api/retina/decide", json={"item": item["id"], "i": candidates[-1]["i"], "confirm": False})
        kinds = [e.kind for e in store.events()]
        assert "retina_confirm" in kinds and "retina_reject" in kinds
        assert store.masks()[0].source == "retina"


def test_carry_to_next_slice_with_sam2_video_predictor(tmp_path, data_dir):
    pytest.importorskip("sam2")
    import sys
    from pathlib import Path

    import nibabel as nib

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
    from tiny_models import save_tiny_sam2

    flair = data_dir / "brats" / "brats_2013_pat0001_1" / "Flair_subtrMeanDivStd.nii.gz"
    tumour = np.asarray(nib.load(str(data_dir / "brats" / "brats_2013_pat0001_1" / "OTMultiClass.nii.gz")).dataobj) > 0
    z = int(np.argmax(tumour.sum(axis=(0, 1))))
    checkpoint = save_tiny_sam2(tmp_path / "sam2_tiny.pt")
    settings = AppSettings(paths=[flair], project=tmp_path / "p.sqlite", engine="sam2", checkpoint=checkpoint, prefetch_ahead=0)
    with TestClient(create_app(settings)) as client:
        item = client.get("/api/items").json()[0]
        client.post("/api/open", json={"item": item["id"], "slice": z})
        store = client.app.state.session.store
        store.accept_mask(item["id"], z, 1, tumour[:, :, z].T)
        state = client.post("/api/carry", json={"dz": 1}).json()
        assert state["current"]["slice"] == z + 1
        carried = [m for m in store.masks(item["id"]) if m.slice_index == z + 1]
        # Random weights may carry nothing; when they do, it is stored on the next slice as a carry.
        assert all(m.source == "carry-sam2-video" for m in carried)
        assert [e.kind for e in store.events()].count("open") >= 2
        assert client.app.state.session.engine._video is not None  # the video predictor did the carry


def _look_and_wait_for_preview(client, xy_image, t0_ms=0.0):
    with client.websocket_connect("/ws") as ws:
        t = t0_ms + np.arange(0, 400, 8.0)
        xy = np.repeat(np.asarray(xy_image, float)[None], len(t), 0)
        ws.send_text(json.dumps({"type": "gaze", "t": t.tolist(), "xy": xy.tolist(), "source": "tobii"}))
        deadline = time.time() + 20
        while time.time() < deadline:
            if json.loads(ws.receive_text())["type"] == "preview":
                return
    raise AssertionError("no preview")


def test_accepted_masks_teach_the_tracker_offset_which_survives_a_restart(tmp_path, data_dir):
    from gazeseg.gaze.implicit_calibration import mask_anchor

    obj = _object(data_dir, "teddy")
    gt, ignore = obj.load()
    x, y = interior_point(gt, ignore)
    look = np.array([x + 30.0, y - 20.0])  # a tracker that reads 30 px right and 20 px up, still on the bear
    with _client(tmp_path, [obj.image_path]) as client:
        item = client.get("/api/items").json()[0]["id"]
        assert client.get("/api/state").json()["gaze_shift"] == [0.0, 0.0]
        client.post("/api/open", json={"item": item})
        _look_and_wait_for_preview(client, look)
        client.post("/api/accept", json={"label": 1, "view_scale": 2.0})
        session = client.app.state.session
        mask = session.store.decode(session.store.masks()[0])
        # one pair, in page px at the page's zoom: from the look to the accepted object's centre
        (residual, weight), = session.recalibration.pairs
        assert residual == pytest.approx(2.0 * (mask_anchor(mask) - look), abs=0.5)
        assert weight == pytest.approx(1.0 / (4.0 * mask.sum()))
        # the mouse as gaze has no offset to learn: the page sends no view scale, nothing is added
        client.post("/api/open", json={"item": item})
        _look_and_wait_for_preview(client, look, t0_ms=10_000)
        client.post("/api/accept", json={"label": 1})
        assert len(session.recalibration.pairs) == 1
        for k in range(2):  # two more objects that say the same: a correction the page is told of
            client.post("/api/open", json={"item": item})
            _look_and_wait_for_preview(client, look, t0_ms=20_000 + 10_000 * k)
            shift = client.post("/api/accept", json={"label": 1, "view_scale": 2.0}).json()["gaze_shift"]
        assert shift == pytest.approx(list(session.recalibration.shift_px), abs=0.01)
    with _client(tmp_path, [obj.image_path]) as client:  # a restart keeps what was learnt
        assert client.get("/api/state").json()["gaze_shift"] == shift
        assert len(client.app.state.session.recalibration.pairs) == 3
        targets = [[100, 100], [500, 100], [300, 400]]
        samples = [[[101, 99], [99, 101]], [[501, 100], [499, 100]], [[300, 401], [300, 399]]]
        client.post("/api/validation", json={"targets": targets, "samples": samples})
        assert client.get("/api/state").json()["gaze_shift"] == [0.0, 0.0]  # an explicit calibration replaces it
        assert not client.app.state.session.recalibration.pairs
