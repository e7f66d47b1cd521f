"""Switching the app to a fine-tuned model version and back, through the HTTP API."""

import dataclasses
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gazeseg.app import AppSettings, create_app
from gazeseg.engines.classic import ClassicParams
from gazeseg.learn.classic_tuner import save_params
from gazeseg.learn.versions import save_version


@pytest.fixture
def teddy(data_dir):
    return data_dir / "grabcut" / "data_GT" / "teddy.jpg"


def _app(tmp_path, teddy):
    settings = AppSettings(paths=[teddy], project=tmp_path / "p.sqlite", engine="classic", prefetch_ahead=0, open_browser=False)
    return TestClient(create_app(settings))


def _classic_version(models):
    params = dataclasses.replace(ClassicParams(), whole_bias=0.6)
    return save_version(models, lambda path: save_params(params, path), {"engine": "classic", "before": {"val_iou": 0.5}, "after": {"val_iou": 0.6}},
                        checkpoint_name="classic-params.json")


def test_switch_to_a_version_and_back(tmp_path, teddy):
    models = tmp_path / "models"  # the default: beside the project, where `gazeseg finetune` writes
    version = _classic_version(models)
    with _app(tmp_path, teddy) as client:
        listing = client.get("/api/models").json()
        base_id = listing["engine"]
        assert listing["active"] == "base" and listing["base"]["engine"] == "classic"
        assert [v["name"] for v in listing["versions"]] == ["v001"] and listing["versions"][0]["val_iou_after"] == 0.6
        item = client.get("/api/items").json()[0]["id"]
        client.post("/api/open", json={"item": item})

        switched = client.post("/api/models", json={"version": version.name}).json()
        assert switched["active"] == "v001" and switched["engine"] != base_id and "wb0.6" in switched["engine"]
        assert client.get("/api/state").json()["engine"] == switched["engine"]
        # the switched engine answers prompts and masks are accepted as before
        client.post("/api/click", json={"x": 220, "y": 200, "positive": True})
        accepted = client.post("/api/accept", json={"label": 1}).json()
        assert accepted["mask"] >= 1

        back = client.post("/api/models", json={"version": "base"}).json()
        assert back["active"] == "base" and back["engine"] == base_id
        client.post("/api/models", json={"version": "v001"})
    with _app(tmp_path, teddy) as client:  # a restart comes back to the chosen version
        assert client.get("/api/models").json()["active"] == "v001"


def test_unknown_or_broken_versions_are_clear_errors(tmp_path, teddy):
    version = _classic_version(tmp_path / "models")
    with _app(tmp_path, teddy) as client:
        response = client.post("/api/models", json={"version": "v009"})
        assert response.status_code == 400 and "existing: v001" in response.json()["error"]
        assert client.post("/api/models", json={"version": 3}).status_code == 400
        version.checkpoint.unlink()
        response = client.post("/api/models", json={"version": "v001"})
        assert response.status_code == 400 and "missing" in response.json()["error"]
        assert client.get("/api/models").json()["active"] == "base"


def test_switch_to_a_finetuned_sam_checkpoint(tmp_path, teddy):
    torch = pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
    from tiny_models import save_tiny_sam

    models = tmp_path / "models"
    version = save_version(models, lambda path: save_tiny_sam(path), {"engine": "sam"})
    with _app(tmp_path, teddy) as client:
        item = client.get("/api/items").json()[0]["id"]
        client.post("/api/open", json={"item": item})
        switched = client.post("/api/models", json={"version": version.name}).json()
        assert switched["engine"].startswith("sam-") and client.app.state.session.engine.name == "sam"
        assert torch.equal(client.app.state.session.engine.model.mask_decoder.iou_token.weight,
                           torch.load(str(version.checkpoint))["mask_decoder.iou_token.weight"])
