"""Config schema: defaults, YAML, dotted overrides, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmcontrast.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, tree: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_defaults_are_a_complete_valid_run():
    cfg = load_config()
    assert isinstance(cfg, Config) and cfg.train.batch_size == 64 and cfg.objective["name"] == "nt_xent"


@pytest.mark.parametrize("path", sorted((ROOT / "configs").rglob("*.yaml")), ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert cfg.name and cfg.output_dir


def test_yaml_values_and_overrides(tmp_path):
    path = write(tmp_path, {"seed": 7, "train": {"lr": 0.5}, "objective": {"name": "info_nce", "temperature": 0.1}})
    cfg = load_config(path, ["train.lr=0.25", "objective.symmetric=true", "train.log_with=[]"])
    assert cfg.seed == 7 and cfg.train.lr == 0.25 and cfg.train.batch_size == 64
    assert cfg.objective == {"name": "info_nce", "temperature": 0.1, "symmetric": True}
    assert cfg.train.log_with == []


def test_misspelled_section_key_names_it_and_the_closest_key(tmp_path):
    path = write(tmp_path, {"train": {"learning_rate": 1.0}})
    with pytest.raises(ConfigError, match=r"train\.learning_rate"):
        load_config(path)
    path = write(tmp_path, {"train": {"batch_sze": 3}})
    with pytest.raises(ConfigError, match=r"'train\.batch_sze'.*did you mean 'batch_size'"):
        load_config(path)
    with pytest.raises(ConfigError, match=str(path.name)):
        load_config(path)


def test_unknown_top_level_key_and_override(tmp_path):
    with pytest.raises(ConfigError, match=r"'objectve'.*did you mean 'objective'"):
        load_config(write(tmp_path, {"objectve": {"name": "info_nce"}}))
    with pytest.raises(ConfigError, match=r"train\.epoch.*did you mean 'epochs'"):
        load_config(None, ["train.epoch=3"])
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config(None, ["train.epochs"])


def test_component_parameters_are_checked_against_the_registry(tmp_path):
    with pytest.raises(ConfigError, match=r"'objective\.temprature'.*did you mean 'temperature'"):
        load_config(None, ["objective.temprature=0.1"])
    with pytest.raises(ConfigError, match=r"unknown objective 'infonce'.*did you mean 'info_nce'"):
        load_config(None, ["objective.name=infonce"])
    with pytest.raises(ConfigError, match=r"data\.train\.path' is required"):
        load_config(None, ["data.train={name: tsv}"])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_bad_values_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="train.optimizer"):
        load_config(None, ["train.optimizer=adam"])
    with pytest.raises(ConfigError, match="hub_repo_id"):
        load_config(None, ["export.push_to_hub=true"])


def test_yaml_1_2_scalars_and_section_types(tmp_path):
    cfg = load_config(None, ["train.lr=3e-5", "train.mixed_precision=no", "train.max_grad_norm=1"])
    assert cfg.train.lr == 3e-5 and cfg.train.mixed_precision == "no" and cfg.train.max_grad_norm == 1
    path = tmp_path / "plain.yaml"
    path.write_text("train:\n  lr: 5e-5\n  mixed_precision: no\n")
    cfg = load_config(path)
    assert cfg.train.lr == 5e-5 and cfg.train.mixed_precision == "no"
    with pytest.raises(ConfigError, match=r"'train\.batch_size' must be int, got 'big'"):
        load_config(None, ["train.batch_size=big"])
    with pytest.raises(ConfigError, match=r"'train\.lr' must be float"):
        load_config(None, ["train.lr=fast"])


def test_base_file_is_applied_first_and_the_variant_states_only_what_differs(tmp_path):
    (tmp_path / "hub.yaml").write_text(
        "name: hub-run\ntrain: {batch_size: 256, lr: 0.1}\nobjective: {name: info_nce, temperature: 0.2}\n"
    )
    (tmp_path / "offline.yaml").write_text("base: hub.yaml\nname: offline-run\ntrain: {batch_size: 32}\n")
    cfg = load_config(tmp_path / "offline.yaml")
    assert cfg.name == "offline-run" and cfg.train.batch_size == 32 and cfg.train.lr == 0.1
    assert cfg.objective == {"name": "info_nce", "temperature": 0.2}
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(FileNotFoundError, match="missing.yaml.*base of"):
        load_config(tmp_path / "orphan.yaml")


def test_tile_head_and_jigsaw_encode_tiles_come_together():
    pirl = ROOT / "configs" / "vision" / "offline" / "pirl.yaml"  # per-tile PIRL: encode_tiles + tile_head
    cfg = load_config(pirl, ["tile_head={name: concat, tile_dim: 64}"])
    assert cfg.tile_head == {"name": "concat", "tile_dim": 64} and cfg.view["encode_tiles"] is True
    assert load_config(pirl, ["view.encode_tiles=false", "tile_head=null"]).tile_head is None  # reassembled jigsaw
    with pytest.raises(ConfigError, match="view.encode_tiles needs a tile_head"):
        load_config(pirl, ["tile_head=null"])
    with pytest.raises(ConfigError, match="tile_head combines jigsaw tiles.*encode_tiles False"):
        load_config(pirl, ["view.encode_tiles=false"])
    with pytest.raises(ConfigError, match="tile_head combines jigsaw tiles.*view 'two_view_augment'"):
        load_config(pirl, ["view={name: two_view_augment}"])
    with pytest.raises(ConfigError, match=r"unknown tile head 'concatenate' \(did you mean 'concat'\?\)"):
        load_config(pirl, ["tile_head={name: concatenate}"])
    with pytest.raises(ConfigError, match=r"unset \['target'\]"):
        load_config(pirl, ["target={name: stop_gradient}"])
