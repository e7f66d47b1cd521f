"""Fine-tuning a tiny random SAM (official classes): the loss goes down and the saved version loads
back through the normal loader. Random weights prove plumbing, not quality."""

import numpy as np
import pytest

pytest.importorskip("segment_anything")
torch = pytest.importorskip("torch")

from gazeseg.cli import main  # noqa: E402
from gazeseg.core.errors import InputError  # noqa: E402
from gazeseg.core.types import PromptSet  # noqa: E402
from gazeseg.engines.cache import EmbeddingCache  # noqa: E402
from gazeseg.engines.registry import create_engine  # noqa: E402
from gazeseg.engines.sam import build_sam_model  # noqa: E402
from gazeseg.learn.data import TrainingSample, samples_from_project  # noqa: E402
from gazeseg.learn.sam_finetune import FinetuneConfig, finetune_sam, save_sam_checkpoint  # noqa: E402
from gazeseg.learn.versions import list_versions  # noqa: E402

pytestmark = pytest.mark.torch

@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam") / "tiny.pth"
    torch.save(build_sam_model("tiny").state_dict(), str(path))
    return path




def test_finetune_lowers_training_loss_and_reloads(tiny_checkpoint, samples, tmp_path):
    torch.manual_seed(0)
    engine = create_engine("sam", checkpoint=tiny_checkpoint)
    encoder_before = {k: v.clone() for k, v in engine.model.image_encoder.state_dict().items()}
    decoder_before = {k: v.clone() for k, v in engine.model.mask_decoder.state_dict().items()}
    s = samples[0]
    embedding = engine.embed(s.image)
    engine.predict(embedding, s.prompts)  # the engine memoises this image's decoder inputs, old weights
    cfg = FinetuneConfig(epochs=2, lr=1e-3, val_fraction=0.34, patience=2, prompts_per_sample=1)
    result = finetune_sam(engine, samples, config=cfg, cache=EmbeddingCache(), progress=False)
    assert result.n_train == 2 and result.n_val == 1
    assert min(row["train_loss"] for row in result.history) < 0.9 * result.before["train_loss"]
    # the image encoder is frozen; the decoder moved
    for k, v in engine.model.image_encoder.state_dict().items():
        assert torch.equal(v, encoder_before[k])
    moved = any(not torch.equal(v, decoder_before[k]) for k, v in engine.model.mask_decoder.state_dict().items())
    # early stopping keeps the best validation state; when no epoch beats the start, the start
    assert moved == (result.best_epoch > 0)

    path = save_sam_checkpoint(engine.model, tmp_path / "tuned.pth")
    reloaded = create_engine("sam", checkpoint=path)
    for k, v in engine.model.state_dict().items():
        assert torch.equal(v, reloaded.model.state_dict()[k]), k
    a = engine.predict(embedding, s.prompts)  # the tuned engine itself: nothing from the old weights is reused
    b = reloaded.predict(reloaded.embed(s.image), s.prompts)
    np.testing.assert_allclose(a.low_res_logits, b.low_res_logits, atol=1e-5)


def test_cli_finetunes_a_project_into_versions(tiny_checkpoint, samples, tmp_path, data_dir, capsys, make_project):
    (tmp_path / "proj").mkdir()
    project = make_project(samples[:2], tmp_path / "proj")
    loaded = samples_from_project(project)
    assert len(loaded) == 2 and loaded[0].mask.shape == samples[0].mask.shape
    np.testing.assert_allclose(loaded[0].prompts.points_xy, samples[0].prompts.points_xy)

    out = tmp_path / "versions"
    args = ["finetune", str(project), "--checkpoint", str(tiny_checkpoint), "--epochs", "1", "--lr", "1e-3", "--out", str(out)]
    assert main(args) == 0
    assert main(args[:2] + ["--epochs", "1", "--out", str(out)]) == 0  # continues from v001
    versions = list_versions(out)
    assert [v.name for v in versions] == ["v001", "v002"]
    assert versions[1].meta["parent"] == str(versions[0].checkpoint)
    assert versions[0].meta["data_hash"] == versions[1].meta["data_hash"]
    assert "val_loss" in versions[0].meta["before"] and "val_loss" in versions[0].meta["after"]
    create_engine("sam", checkpoint=versions[1].checkpoint)  # loads through the normal loader
    capsys.readouterr()
    assert main(["finetune", str(project), "--list", "--out", str(out)]) == 0
    assert "v002" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(tmp_path, tiny_checkpoint):
    with pytest.raises(InputError, match="mask is empty"):
        TrainingSample(prompts=PromptSet(), mask=np.zeros((4, 4), bool), image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="project"):
        samples_from_project(tmp_path / "missing.sqlite")
    assert main(["finetune", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "v")]) == 1
