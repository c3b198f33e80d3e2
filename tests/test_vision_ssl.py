"""Short real runs of the negative-free methods on Fashion-MNIST: BYOL and SimSiam do not collapse, and the
exported backbone reloaded with ``AutoModel`` + its image processor gives the same kNN accuracy. Plus the
config-time checks of the negative architectures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT

from mmcontrast.config import load_config
from mmcontrast.evaluation.knn import weighted_knn_predict
from mmcontrast.training import train

pytestmark = pytest.mark.usefixtures("fashion_mnist")


def short_run(method: str, output: Path, *extra: str):
    overrides = [f"output_dir={output}", "data.train.limit=4096", "train.max_steps=40", "train.batch_size=128",
                 "evaluators=[]", "train.checkpoint_every=null", "train.progress_bar=false", "train.log_with=[]",
                 "train.eval_at_start=false", *extra]
    return train(load_config(ROOT / "configs" / "vision" / "offline" / f"{method}.yaml", overrides))


def fashion(split: str, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    from mmcontrast.data.images import fashion_mnist

    data = fashion_mnist(split=split, limit=limit)
    return data.images, data.labels


def per_dimension_std(z: torch.Tensor) -> float:
    """Mean over dimensions of the std over samples of L2-normalised embeddings: 1/sqrt(D) for embeddings spread
    over the sphere, 0 for a collapsed (constant) output (Grill et al. 2020, Chen & He 2021)."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["byol", "simsiam"])
def test_negative_free_methods_do_not_collapse_and_export_reloads_with_the_same_knn(tmp_path, method):
    result = short_run(method, tmp_path / method, "export.enabled=true")
    images, labels = fashion("test", 1500)
    model = result.model
    features = model.encode(images[:1000])
    with torch.no_grad():
        model.eval()
        projections = model(model.prepare(images[:1000]))  # the projection the loss saw (train-only head)
    for name, z in (("backbone", features), ("projection", projections)):
        floor = 0.2 / z.shape[1] ** 0.5
        assert per_dimension_std(z) > floor, f"{method} {name} collapsed: std {per_dimension_std(z):.4f}"

    # the exported folder: AutoModel + AutoImageProcessor, same features, same kNN accuracy
    from transformers import AutoImageProcessor, AutoModel

    final = tmp_path / method / "final"
    processor = AutoImageProcessor.from_pretrained(str(final))
    reloaded = AutoModel.from_pretrained(str(final)).eval()
    with torch.no_grad():
        exported = reloaded(**processor(list(images), return_tensors="pt")).pooler_output.flatten(1)
    ours = model.encode(images)
    assert (exported - ours).abs().max().item() < 1e-4
    train_x, train_y, test_x, test_y = ours[:1000], labels[:1000], ours[1000:], labels[1000:]
    acc_ours = (weighted_knn_predict(train_x, train_y, test_x, 10, k=20) == test_y).float().mean().item()
    acc_exported = (weighted_knn_predict(exported[:1000], train_y, exported[1000:], 10, k=20) == test_y).float().mean().item()
    assert acc_exported == acc_ours and acc_ours > 0.5


def test_queue_smaller_than_the_batch_is_a_config_error(tmp_path):
    from mmcontrast.config import ConfigError

    with pytest.raises(ConfigError, match="negatives.size 64 .*batch"):
        load_config(ROOT / "configs" / "vision" / "offline" / "moco_v2.yaml",
                    ["negatives.size=64", "train.batch_size=128"])


def test_pirl_per_tile_run_resumes_exactly_and_exports_the_trunk_without_its_tile_head(tmp_path):
    """PIRL as in the paper (each jigsaw tile through the trunk, the tile head g combining them): 4 steps in one
    go == the same run resumed from its step-2 checkpoint (trunk, tile head and memory bank equal), and the
    export is the trunk alone, loadable with AutoModel."""
    from transformers import AutoModel

    extra = ["view.encode_tiles=true", "tile_head={name: concat, tile_dim: 16}", "data.train.limit=256",
             "train.max_steps=4", "train.batch_size=32", "train.checkpoint_every=2", "negatives.num_negatives=128"]
    straight = short_run("pirl", tmp_path / "a", *extra, "export.enabled=true")
    short_run("pirl", tmp_path / "b", *extra)  # leaves checkpoints/step-2 (none at the last step)
    assert (tmp_path / "b" / "checkpoints" / "step-2").is_dir()
    resumed = short_run("pirl", tmp_path / "b", *extra)  # resumes at step 2, trains steps 3-4 again
    assert resumed.steps == 4
    a, r = straight.learner.state_dict(), resumed.learner.state_dict()
    assert any(key.startswith("tile_head.") for key in a) and a.keys() == r.keys()
    for key in ("tile_head.projection.weight", "objective.negatives.memory"):
        assert torch.equal(a[key], r[key]), key
    assert all(torch.allclose(a[key].float(), r[key].float(), atol=1e-6) for key in a), "resumed run differs"
    # train.max_steps must be >= 1 (0 trained nothing and exported it): one step at lr 0 keeps the initial weights
    initial = short_run("pirl", tmp_path / "c", *extra, "train.max_steps=1", "train.lr=0").learner.state_dict()
    assert not torch.equal(initial["tile_head.projection.weight"], a["tile_head.projection.weight"])  # it trained

    reloaded = AutoModel.from_pretrained(str(tmp_path / "a" / "final")).eval()
    assert not any("tile" in name for name, _ in reloaded.named_parameters())
    images, _ = fashion("test", 64)
    with torch.no_grad():
        exported = reloaded(**straight.model.prepare(images)).pooler_output.flatten(1)
    assert torch.allclose(exported, straight.model.encode(images), atol=1e-4)
