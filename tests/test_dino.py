"""DINO (Caron et al. 2021): the loss against a naive loop over (teacher global view, other student view) pairs,
the center update (EMA of the teacher outputs of both global views), the teacher-temperature warm-up, config
errors, and exact resume restoring the center. (2 processes == 1 process: tests/test_distributed_toolbox.py;
learning on Fashion-MNIST: tests/test_dino_learning.py.)"""

from __future__ import annotations

import math

import pytest
import torch

from conftest import TINY_RESNET

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.config import ConfigError, load_config
from mmcontrast.encoders import VisionEncoder
from mmcontrast.objectives import DINO, dino_loss

TAU_S, TAU_T = 0.1, 0.04


def naive_cross_entropy(student: torch.Tensor, teacher: torch.Tensor, center: torch.Tensor) -> float:
    """Mean over rows of -sum_k p_t[k] log p_s[k], one scalar at a time."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        t = [math.exp((t_row[k] - center[k].item()) / TAU_T) for k in range(len(t_row))]
        s = [math.exp(v / TAU_S) for v in s_row]
        zt, zs = sum(t), sum(s)
        total += -sum(t[k] / zt * math.log(s[k] / zs) for k in range(len(t_row)))
    return total / len(student)


def test_dino_loss_matches_a_naive_loop():
    gen = torch.Generator().manual_seed(0)
    student, teacher, center = (torch.randn(5, 7, generator=gen, dtype=torch.float64) for _ in range(3))
    center = center[0]
    assert dino_loss(student, teacher, center, TAU_S, TAU_T).item() == pytest.approx(
        naive_cross_entropy(student, teacher, center), rel=1e-5)


def test_both_directions_average_over_every_teacher_global_and_other_student_view():
    """The Learner's ``symmetric: mean`` of DINO's two directions is the paper's mean over the 2 x (V - 1) pairs
    (teacher on global view g, student on every other view v != g, local crops included); gradient reaches the
    student only."""
    gen = torch.Generator().manual_seed(1)
    b, k, local = 4, 6, 3
    student = [torch.randn(b, k, generator=gen, dtype=torch.float64, requires_grad=True) for _ in range(2 + local)]
    teacher = [torch.randn(b, k, generator=gen, dtype=torch.float64) for _ in range(2)]
    objective = DINO(embedding_dim=k, student_temperature=TAU_S, teacher_temperature=TAU_T).double()
    objective.center.copy_(torch.randn(k, generator=gen))
    crops = torch.stack(student[2:], dim=1)
    loss = (objective(EmbeddingBatch(student[0], teacher[1], crops=crops))
            + objective(EmbeddingBatch(student[1], teacher[0], crops=crops))) / 2
    pairs = [(g, v) for g in range(2) for v in range(2 + local) if v != g]
    expected = sum(naive_cross_entropy(student[v].detach(), teacher[g], objective.center) for g, v in pairs) / len(pairs)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)


def test_sharpening_and_centering_act_on_the_teacher():
    """A lower teacher temperature gives a sharper target (lower entropy); a center equal to a teacher row
    flattens that row's target."""
    objective = DINO(embedding_dim=3, teacher_temperature=TAU_T)
    teacher = torch.tensor([[1.0, 0.5, 0.0]])
    sharp = torch.softmax(teacher / 0.04, dim=1)
    soft = torch.softmax(teacher / 0.5, dim=1)
    entropy = lambda p: float(-(p * p.log()).sum())  # noqa: E731
    assert entropy(sharp) < entropy(soft)
    uniform = torch.full((1, 3), 1 / 3)
    # a student predicting the uniform distribution is optimal once the center equals the teacher row
    objective.center.copy_(teacher[0])
    loss_uniform = objective(EmbeddingBatch(torch.zeros(1, 3), teacher))
    assert loss_uniform.item() == pytest.approx(math.log(3), rel=1e-6)
    assert torch.allclose(torch.softmax((teacher - objective.center) / TAU_T, 1), uniform)


def test_teacher_temperature_warms_up_linearly_and_follows_optimizer_steps():
    objective = DINO(embedding_dim=4, teacher_temperature=0.07, warmup_teacher_temperature=0.04,
                     warmup_teacher_temperature_steps=30)
    assert objective.teacher_temperature(0) == pytest.approx(0.04)
    assert objective.teacher_temperature(15) == pytest.approx(0.055)
    assert objective.teacher_temperature(30) == pytest.approx(0.07)
    assert objective.teacher_temperature(100) == pytest.approx(0.07)
    objective.after_optimizer_step(10, 100)
    assert objective.teacher_temperature() == pytest.approx(0.05)
    assert DINO(embedding_dim=4, teacher_temperature=0.06).teacher_temperature(0) == pytest.approx(0.06)


def tiny_dino_overrides(tmp_path, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        f"output_dir={tmp_path}", "data.train={name: sklearn_digits, split: train}",
        "view={name: multi_crop, global_size: 16, local_size: 8, num_local: 2, global_scale: [0.5, 1.0], "
        "local_scale: [0.2, 0.5]}",
        "encoder={name: vision, image_size: 16, config: " + str(TINY_RESNET) + "}",
        "head={name: dino, hidden_dims: [32], bottleneck_dim: 16, num_prototypes: 24}",
        "objective.center_momentum=0.5", "train.batch_size=16", "train.max_steps=4", "train.lr=1e-3",
        "evaluators=[]", "train.log_with=[]", "train.progress_bar=false", "train.eval_at_start=false",
        "export.enabled=false", *extra,
    ]


def test_center_is_the_ema_of_both_teacher_views_and_moves_only_in_training(tmp_path):
    from accelerate.utils import set_seed

    from mmcontrast.training.build import build_learner, build_view
    from mmcontrast.training.learner import flatten_views
    from mmcontrast.data import build_dataset, collate_rows

    cfg = load_config("configs/vision/offline/dino.yaml", tiny_dino_overrides(tmp_path))
    set_seed(0)
    learner = build_learner(cfg)
    view = build_view(cfg, seed=0, device=torch.device("cpu"))
    rows = build_dataset(cfg.data.train)
    views = view(collate_rows([rows[i] for i in range(16)]))
    step = flatten_views(learner.model, views)
    assert len(step.crop_inputs) == 1 and step.layout.crop_groups == (2,)  # two 8x8 local crops, student only
    objective = learner.objective
    centers = []
    for _ in range(2):
        before = objective.center.clone()
        learner.train()
        with torch.no_grad():
            teacher = learner.target.keys(step.inputs, learner.model(step.inputs))  # both global views (32, 24)
        learner(step)
        expected = 0.5 * before + 0.5 * teacher.mean(dim=0)
        assert torch.allclose(objective.center, expected, atol=1e-6)
        centers.append(objective.center.clone())
    assert not torch.equal(centers[0], centers[1])
    learner.eval()
    learner(step)
    assert torch.equal(objective.center, centers[1])


def test_resume_restores_the_center_and_the_teacher_temperature_step(tmp_path):
    """4 steps in one go == the same run resumed from its step-2 checkpoint (center, step counter, teacher and
    student all equal; a center not restored would restart from zero)."""
    from mmcontrast.training import train

    extra = ("objective.warmup_teacher_temperature=0.02", "objective.warmup_teacher_temperature_steps=4",
             "train.checkpoint_every=2")
    straight = train(load_config("configs/vision/offline/dino.yaml", tiny_dino_overrides(tmp_path / "a", extra)))
    cfg = load_config("configs/vision/offline/dino.yaml", tiny_dino_overrides(tmp_path / "b", extra))
    train(cfg)  # leaves checkpoints/step-2 (none at the last step)
    assert (tmp_path / "b" / "checkpoints" / "step-2").is_dir()
    resumed = train(cfg)  # resumes at step 2, trains steps 3-4 again
    assert resumed.steps == 4
    a, r = straight.learner.state_dict(), resumed.learner.state_dict()
    assert int(r["objective.steps"]) == 4
    center = resumed.learner.objective.center
    assert float(center.abs().max()) > 0 and torch.allclose(center, straight.learner.objective.center, atol=1e-6)
    for key in a:
        assert torch.allclose(a[key].float(), r[key].float(), atol=1e-6), key


def test_dino_without_a_momentum_teacher_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"objective 'dino'.*target: \{name: momentum\}"):
        load_config("configs/vision/offline/dino.yaml", tiny_dino_overrides(tmp_path) + ["target=null"])
    with pytest.raises(ConfigError, match=r"objective 'dino'.*unset predictor"):
        load_config("configs/vision/offline/dino.yaml",
                    tiny_dino_overrides(tmp_path) + ["predictor={name: mlp, output_dim: 24}"])


def test_vit_student_embeds_local_crops_at_their_own_size(tmp_path, monkeypatch):
    """Multi-crop with a ViT: 8x8 local crops go through a 16x16 ViT with interpolated position embeddings."""
    from mmcontrast.training import train

    sizes = set()  # (H, W) of every image batch that reaches a vision encoder during training
    forward = VisionEncoder.forward

    def recording_forward(self, inputs):
        sizes.add(tuple(inputs["pixel_values"].shape[-2:]))
        return forward(self, inputs)

    monkeypatch.setattr(VisionEncoder, "forward", recording_forward)
    vit = {"model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 1, "hidden_size": 32,
           "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
    overrides = tiny_dino_overrides(tmp_path, ("encoder={name: vision, image_size: 16, config: " + str(vit) + "}",
                                               "train.max_steps=2"))
    result = train(load_config("configs/vision/offline/dino.yaml", overrides))
    assert result.steps == 2 and float(result.learner.objective.center.abs().max()) > 0
    assert sizes == {(16, 16), (8, 8)}  # the local crops reach the ViT at their own 8x8, not resized to 16x16
    model = result.learner.model
    with torch.no_grad():
        local, full = (model({"pixel_values": torch.randn(2, 1, s, s)}) for s in (8, 16))
    assert local.shape == full.shape and bool(torch.isfinite(local).all())
