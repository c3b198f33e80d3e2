"""``train.bn_running_stats: full_views``: jigsaw tile and multi-crop local passes normalise with their own batch
statistics but leave BatchNorm's running statistics (what evaluation and export use) to the full-size views."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import TINY_RESNET

from mmcontrast.config import ConfigError, load_config
from mmcontrast.encoders import ContrastiveModel, MLPHead, TileHead, VisionEncoder
from mmcontrast.negatives import MemoryBankNegatives
from mmcontrast.objectives import InfoNCE
from mmcontrast.training.grad_cache import grad_cache_step
from mmcontrast.training.learner import Learner, flatten_views
from mmcontrast.training.norm_stats import running_stats_frozen
from mmcontrast.views import ViewBatch


def running_stats(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: b.clone() for name, b in module.named_buffers()
            if name.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_frozen_block_normalises_with_batch_statistics_and_leaves_running_ones_and_momentum_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4, momentum=None)).train()
    net(torch.randn(8, 1, 8, 8))
    before = running_stats(net)
    shifted = torch.randn(8, 1, 8, 8) * 3 + 2  # statistics far from those seen so far
    reference = copy.deepcopy(net)
    with running_stats_frozen(net):
        out = net(shifted)
    assert same(running_stats(net), before)
    assert torch.allclose(out, reference(shifted), atol=1e-6)  # the same batch-statistics forward
    assert net[1].momentum == 0.1 and net[3].momentum is None
    with running_stats_frozen(net, enabled=False):
        net(shifted)
    assert not same(running_stats(net), before)


def tiny_pirl_learner(bn_running_stats: str) -> Learner:
    torch.manual_seed(0)
    encoder = VisionEncoder(config=TINY_RESNET, image_size=8)
    online = ContrastiveModel(encoder, MLPHead(encoder.embedding_dim, [16], 8, batch_norm=False))
    tile_head = TileHead(input_dim=online.encoder.embedding_dim, num_tiles=4, tile_dim=4, output_dim=8)
    bank = MemoryBankNegatives(num_samples=10, embedding_dim=8, num_negatives=5, seed=0)
    return Learner(online, InfoNCE(temperature=0.2, negatives=bank), swapped_direction="mean", tile_head=tile_head,
                   bn_running_stats=bn_running_stats)


@pytest.mark.parametrize("mode", ["full_views", "all_views"])
def test_pirl_tile_pass_leaves_running_statistics_to_the_images_only_with_full_views(mode):
    learner = tiny_pirl_learner(mode).train()
    images_only = copy.deepcopy(learner.model.encoder)
    images, tiles = torch.rand(3, 1, 8, 8), torch.rand(3, 4, 1, 4, 4) * 4  # tiles: other statistics
    step = flatten_views(learner.model, ViewBatch(query=tiles, positive=images, indices=torch.tensor([7, 2, 4]),
                                                  tiled_query=True))
    loss, _ = learner(step)
    images_only(learner.model.prepare(images))  # the running statistics of the image pass alone
    assert torch.isfinite(loss)
    assert same(running_stats(learner.model.encoder), running_stats(images_only)) == (mode == "full_views")


def tiny_swav_learner_and_views(tmp_path, extra: tuple[str, ...] = ()):
    from accelerate.utils import set_seed

    from mmcontrast.data import build_dataset, collate_rows
    from mmcontrast.training.build import build_learner, build_view

    cfg = load_config("configs/vision/offline/swav.yaml", [
        f"output_dir={tmp_path}", "data.train={name: sklearn_digits, split: train}",
        "view={name: multi_crop, global_size: 16, local_size: 8, num_local: 2, global_scale: [0.5, 1.0], "
        "local_scale: [0.2, 0.5]}",
        "encoder={name: vision, image_size: 16, config: " + str(TINY_RESNET) + "}",
        "objective.num_prototypes=10", "train.batch_size=16", *extra])
    set_seed(0)
    learner = build_learner(cfg).train()
    view = build_view(cfg, seed=0, device=torch.device("cpu"))
    rows = build_dataset(cfg.data.train)
    return learner, view(collate_rows([rows[i] for i in range(16)]))


def test_multi_crop_local_passes_leave_running_statistics_to_the_global_crops(tmp_path):
    learner, views = tiny_swav_learner_and_views(tmp_path, ("train.bn_running_stats=full_views",))
    assert learner.bn_running_stats == "full_views"
    step = flatten_views(learner.model, views)
    assert len(step.crop_inputs) == 1 and step.layout.crop_groups == (2,)
    globals_only = copy.deepcopy(learner.model)
    learner(step)
    globals_only(step.inputs)
    assert same(running_stats(learner.model), running_stats(globals_only))
    # gradient caching embeds the crops in chunks: the same rule holds there
    chunked, chunked_globals = copy.deepcopy(learner), copy.deepcopy(learner.model)
    grad_cache_step(chunked, step, chunk_size=8)
    for start in range(0, 32, 8):  # the two 16-image global views, embedded 8 rows at a time
        chunked_globals({k: v[start:start + 8] for k, v in step.inputs.items()})
    assert same(running_stats(chunked.model), running_stats(chunked_globals))

    default, views = tiny_swav_learner_and_views(tmp_path, ("train.bn_running_stats=all_views",))
    assert default.bn_running_stats == "all_views"  # every pass counts (the default, as in the SwAV code)
    step = flatten_views(default.model, views)
    globals_only = copy.deepcopy(default.model)
    default(step)
    globals_only(step.inputs)
    assert not same(running_stats(default.model), running_stats(globals_only))


def test_an_unknown_bn_running_stats_value_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="train.bn_running_stats must be all_views or full_views, got 'tiles'"):
        load_config("configs/vision/offline/swav.yaml", [f"output_dir={tmp_path}", "train.bn_running_stats=tiles"])
    with pytest.raises(ValueError, match="bn_running_stats must be one of all_views, full_views"):
        tiny_pirl_learner("some")
