import hashlib

import pytest

from gazeseg.cli import main
from gazeseg.engines import weights


@pytest.fixture(autouse=True)
def weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GAZESEG_WEIGHTS_DIR", str(tmp_path / "w"))
    return tmp_path / "w"


def test_list_shows_official_checkpoints(capsys, weights_folder):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert str(weights_folder) in out
    assert "sam-vit-b" in out and "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in out
    assert "sam2.1-hiera-tiny" in out and "missing" in out


def test_download_offline_names_url_and_place(monkeypatch, capsys, weights_folder):
    import urllib.request

    def offline(*_a, **_k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["models", "download", "sam-vit-b"]) == 1
    err = capsys.readouterr().err
    assert "sam_vit_b_01ec64.pth" in err and str(weights_folder) in err and "Offline" in err
    assert not any(weights_folder.glob("*.part"))


def test_verify_detects_wrong_and_truncated_files(capsys, weights_folder):
    weights_folder.mkdir(parents=True)
    (weights_folder / "sam_vit_b_01ec64.pth").write_bytes(b"x" * 1000)
    assert main(["models", "verify", "sam-vit-b"]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    tiny = weights_folder / "sam2.1_hiera_tiny.pt"
    tiny.write_bytes(b"abc")
    assert main(["models", "verify", "sam2.1-hiera-tiny"]) == 0
    assert hashlib.sha256(b"abc").hexdigest() in capsys.readouterr().out


def test_unknown_model(capsys):
    assert main(["models", "download", "sam-vit-z"]) == 1
    assert "unknown name" in capsys.readouterr().err


def test_engine_from_missing_weights_is_explained(capsys, data_dir, tmp_path):
    pytest.importorskip("segment_anything")
    image = data_dir / "grabcut" / "data_GT" / "teddy.jpg"
    assert main(["segment", str(image), "--point", "1,1", "--engine", "sam", "--out", str(tmp_path / "m.png")]) == 1
    assert "gazeseg models download" in capsys.readouterr().err


def test_published_hashes_are_well_formed():
    for c in weights.CHECKPOINTS.values():
        assert c.sha256 is None or (len(c.sha256) == 64 and int(c.sha256, 16) >= 0)
