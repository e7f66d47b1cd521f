"""Fine-tuning a tiny random SAM 2 (official classes): the loss goes down, the Hiera encoder and
its feature projections stay fixed, and the saved checkpoint loads back through ``load_sam2`` and
predicts as the tuned model does. Random weights prove plumbing, not quality."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sam2")
torch = pytest.importorskip("torch")

from gazeseg.cli import main  # noqa: E402
from gazeseg.core.errors import InputError  # noqa: E402
from gazeseg.core.types import PromptSet  # noqa: E402
from gazeseg.engines.cache import EmbeddingCache  # noqa: E402
from gazeseg.engines.registry import create_engine  # noqa: E402
from gazeseg.learn.data import samples_from_project  # noqa: E402
from gazeseg.learn.sam2_finetune import Sam2Adapter, finetune_sam2, save_sam2_checkpoint, sam2_low_res_target  # noqa: E402
from gazeseg.learn.sam_finetune import FinetuneConfig, finetune_sam  # noqa: E402
from gazeseg.learn.versions import list_versions  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
from tiny_models import save_tiny_sam2  # noqa: E402

pytestmark = pytest.mark.torch

@pytest.fixture(scope="module")
def tiny_sam2(tmp_path_factory):
    return save_tiny_sam2(tmp_path_factory.mktemp("sam2") / "tiny_sam2.pt")




def test_sam2_finetune_lowers_training_loss_and_reloads(tiny_sam2, samples, tmp_path):
    torch.manual_seed(0)
    engine = create_engine("sam2", checkpoint=tiny_sam2)
    adapter = Sam2Adapter(engine)
    frozen_before = {k: v.clone() for k, v in engine.model.state_dict().items() if not adapter.is_trained(k)}
    decoder_before = {k: v.clone() for k, v in engine.model.sam_mask_decoder.state_dict().items()}
    cfg = FinetuneConfig(epochs=3, lr=1e-3, val_fraction=0.34, patience=3, prompts_per_sample=2)
    result = finetune_sam2(engine, samples, config=cfg, cache=EmbeddingCache(), progress=False)
    assert result.n_train == 2 and result.n_val == 1
    assert min(row["train_loss"] for row in result.history) < 0.9 * result.before["train_loss"]
    for k, v in engine.model.state_dict().items():  # encoder, conv_s0/s1, memory parts: untouched
        if k in frozen_before:
            assert torch.equal(v, frozen_before[k]), k
    moved = any(not torch.equal(v, decoder_before[k]) for k, v in engine.model.sam_mask_decoder.state_dict().items())
    # early stopping keeps the best validation state; when no epoch beats the start, the start
    assert moved == (result.best_epoch > 0)

    path = save_sam2_checkpoint(engine.model, tmp_path / "tuned_sam2.pt")
    assert set(torch.load(str(path), map_location="cpu")) == {"model"}  # the official layout
    reloaded = create_engine("sam2", checkpoint=path)
    for k, v in engine.model.state_dict().items():
        assert torch.equal(v, reloaded.model.state_dict()[k]), k
    s = samples[0]
    a = engine.predict(engine.embed(s.image), s.prompts)
    b = reloaded.predict(reloaded.embed(s.image), s.prompts)
    np.testing.assert_allclose(a.low_res_logits, b.low_res_logits, atol=1e-4)
    assert b.masks.shape[1:] == s.mask.shape


def test_sam2_training_forward_matches_the_engine(tiny_sam2, samples):
    """The training path (official modules) and the engine's fast decoder answer alike."""
    from gazeseg.learn.sam_finetune import _Prepared

    engine = create_engine("sam2", checkpoint=tiny_sam2)
    adapter = Sam2Adapter(engine)
    s = samples[1]
    emb = engine.embed(s.image)
    features, target = adapter.prepare(emb, s.mask)
    assert target.shape == (256, 256) and target.any()
    item = _Prepared(s, features, target, emb)
    box = PromptSet(box_xyxy=np.array([10.0, 12.0, 120.0, 90.0]))
    for prompts, multimask in ((s.prompts, True), (box, False)):
        with torch.no_grad():
            logits, iou = adapter.forward(item, prompts, multimask)
        scores, low_res = engine.predict_logits(emb, prompts, multimask=multimask)
        np.testing.assert_allclose(logits.numpy(), low_res, atol=1e-3)
        np.testing.assert_allclose(iou.numpy(), scores, atol=1e-4)


def test_sam2_low_res_target_squeezes_the_image():
    mask = np.zeros((100, 300), bool)
    mask[:, :150] = True
    target = sam2_low_res_target(mask)
    assert target.shape == (256, 256) and target[:, :120].all() and not target[:, 136:].any()


def test_wrong_family_is_a_clear_error(tiny_sam2):
    engine = create_engine("sam2", checkpoint=tiny_sam2)
    with pytest.raises(InputError, match="--engine sam2"):
        finetune_sam(engine, [])


def test_cli_finetunes_sam2_into_versions(tiny_sam2, samples, tmp_path, make_project):
    (tmp_path / "proj").mkdir()
    project = make_project(samples[:2], tmp_path / "proj")
    assert len(samples_from_project(project)) == 2
    out = tmp_path / "versions"
    args = ["finetune", str(project), "--engine", "sam2", "--checkpoint", str(tiny_sam2), "--epochs", "1", "--lr", "1e-3", "--out", str(out)]
    assert main(args) == 0
    assert main(["finetune", str(project), "--epochs", "1", "--out", str(out)]) == 0  # auto: continues from the SAM 2 v001
    versions = list_versions(out)
    assert [v.name for v in versions] == ["v001", "v002"]
    assert all(v.meta["engine"] == "sam2" for v in versions)
    assert versions[1].meta["parent"] == str(versions[0].checkpoint)
    assert "sam2" in versions[1].checkpoint.name  # the app's engine guess reads the file name
    create_engine("sam2", checkpoint=versions[1].checkpoint)
