import numpy as np

from gazeseg.cli import main
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.store import ProjectStore
from gazeseg.app.catalog import register_paths


def test_finetune_classic_from_a_project(tmp_path, data_dir, capsys):
    objects = list(load_dataset(data_dir / "grabcut"))[:3]
    store = ProjectStore(tmp_path / "project.sqlite")
    register_paths(store, [o.image_path for o in objects])
    for item, obj in zip(store.items(), objects):
        gt, ignore = obj.load()
        x, y = interior_point(gt, ignore)
        store.accept_mask(item.id, 0, store.labels()[0].id, gt & ~(ignore if ignore is not None else np.zeros_like(gt)),
                          prompts={"points": [[x, y]], "labels": [1]})
    assert main(["finetune", str(tmp_path / "project.sqlite"), "--engine", "classic"]) == 0
    assert (tmp_path / "models" / "classic-selector-v1.pkl").stat().st_size > 0
    assert "3 accepted masks" in capsys.readouterr().out
    # the tuned parameters are a version the app can switch to, with held-out before/after
    from gazeseg.learn.versions import engine_for_version, list_versions

    (version,) = list_versions(tmp_path / "models")
    assert version.meta["engine"] == "classic" and version.meta["n_val"] == 1
    assert 0 <= version.meta["before"]["val_iou"] <= 1 and 0 <= version.meta["after"]["val_iou"] <= 1
    assert engine_for_version(version).name == "classic+area"  # tuned parameters + the learnt size prior
    assert (version.directory / "area-prior.json").is_file() and version.meta["area_prior"]["sd"] >= 0.3


def test_finetune_explains_empty_and_missing_projects(tmp_path, capsys):
    assert main(["finetune", str(tmp_path / "nope.sqlite")]) == 1
    ProjectStore(tmp_path / "empty.sqlite")
    assert main(["finetune", str(tmp_path / "empty.sqlite"), "--engine", "classic"]) == 1
    assert "no accepted masks" in capsys.readouterr().err
