"""Config schema: defaults, YAML, dotted overrides, and errors that name the bad key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from helpers import write_config

from mmcontrast.cli import main
from mmcontrast.config import AXES, Config, ConfigError, load_config, with_defaults
from mmcontrast.errors import ComponentRuleError
from mmcontrast.miners import MINERS
from mmcontrast.negatives import NEGATIVES
from mmcontrast.objectives import OBJECTIVES
from mmcontrast.views import VIEWS
from mmcontrast.views.base import CROPS, INDICES, LABELS, TILES


def write(tmp_path: Path, tree: dict) -> Path:
    return write_config(tmp_path / "cfg.yaml", tree)


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


# ------------------------------------------------------------------------------------- run safety (bad inputs)
def test_errors_name_the_override_or_the_file_that_set_the_value(tmp_path):
    """B05: a bad override is reported as the override, a bad file value as the file (and its base file)."""
    quickstart = ROOT / "configs" / "quickstart.yaml"
    with pytest.raises(ConfigError, match=r"^override train\.lr=abc: 'train\.lr' must be float, got 'abc' \(str\)$"):
        load_config(quickstart, ["train.lr=abc"])
    with pytest.raises(ConfigError, match=r"^override objective\.temprature=1: unknown key 'objective\.temprature'"):
        load_config(quickstart, ["objective.temprature=1"])
    (tmp_path / "hub.yaml").write_text("train: {lr: fast, batch_size: 8}\n")
    (tmp_path / "offline.yaml").write_text("base: hub.yaml\ntrain: {batch_size: 4}\n")
    hub, offline = tmp_path / "hub.yaml", tmp_path / "offline.yaml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(hub))} \(base of {re.escape(str(offline))}\): "
                                          r"'train\.lr' must be float"):
        load_config(offline)
    assert load_config(offline, ["train.lr=0.1"]).train.lr == 0.1  # the override replaces the bad base value
    (tmp_path / "offline.yaml").write_text("base: hub.yaml\ntrain: {lr: 0.1, batch_size: 0}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(offline))}: train\.batch_size must be >= 1, got 0"):
        load_config(offline)


def test_duplicate_yaml_keys_are_errors_naming_the_file_the_key_and_both_lines(tmp_path):
    """B33: PyYAML keeps the last of two equal keys without a word."""
    path = tmp_path / "dup.yaml"
    path.write_text("train:\n  lr: 0.1\n  batch_size: 4\n  lr: 5.0\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: .*duplicate key 'train\.lr' at line 2 and "
                                          r"line 4"):
        load_config(path)
    path.write_text("evaluators:\n  - {name: sts, path: a, path: b}\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'evaluators\[0\]\.path' at line 2, columns"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^override objective=.*duplicate key 'temperature'"):
        load_config(None, ["objective={name: info_nce, temperature: 0.1, temperature: 0.2}"])
    from mmcontrast.yaml12 import load_yaml

    # merge keys may repeat the merged map's keys
    assert load_yaml("a: &a {x: 1, y: 2}\nb: {<<: *a, x: 3}\n")["b"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("override, message", [
    ("train.max_steps=0", r"train\.max_steps must be >= 1 or null .*got 0"),  # B16
    ("train.max_steps=-5", r"train\.max_steps must be >= 1 or null .*got -5"),  # B22
    ("train.epochs=-1", r"train\.epochs must be > 0 .*got -1"),  # B29
    ("train.epochs=0", r"train\.epochs must be > 0"),
    ("train.warmup_ratio=5", r"train\.warmup_ratio must be in \[0, 1\] .*got 5"),  # B30
    ("train.warmup_steps=-1", r"train\.warmup_steps must be >= 0 or null"),
    ("train.log_every=0", r"train\.log_every must be >= 1 .*got 0"),  # B20
    ("train.gradient_accumulation_steps=0", r"train\.gradient_accumulation_steps must be >= 1, got 0"),  # B23
    ("train.keep_checkpoints=0", r"train\.keep_checkpoints must be >= 1 .*got 0"),  # B21
    ("train.checkpoint_every=0", r"train\.checkpoint_every must be >= 1 or null"),
    ("train.eval_every=-2", r"train\.eval_every must be >= 1 or null"),
    ("train.lr=-1", r"train\.lr must be >= 0, got -1"),  # B24 (0 is allowed: the initial state's statistics)
    ("train.lr=.nan", r"train\.lr must be finite, got nan"),  # B38
    ("train.lr=.inf", r"train\.lr must be finite, got inf"),
    ("train.weight_decay=-0.1", r"train\.weight_decay must be >= 0"),
    ("train.weight_decay=.inf", r"train\.weight_decay must be finite"),
    ("train.max_grad_norm=0", r"train\.max_grad_norm must be > 0 or null"),
    ("train.max_grad_norm=.nan", r"train\.max_grad_norm must be finite"),
    ("train.betas=[0.9, 1.5]", r"train\.betas must be two numbers in \[0, 1\)"),
    ("train.momentum=-1", r"train\.momentum must be >= 0"),
    ("data.num_workers=-1", r"data\.num_workers must be >= 0 .*got -1"),  # B27
    ("train.scheduler=cosinee", r"train\.scheduler 'cosinee' is not a transformers scheduler \(did you mean "
                                r"'cosine'\?\); valid: linear, cosine, "),  # B32
])
def test_out_of_range_values_are_rejected_at_load_naming_key_and_value(override, message):
    with pytest.raises(ConfigError, match=rf"^override {re.escape(override)}: {message}"):
        load_config(None, [override])


def test_in_range_edge_values_load():
    cfg = load_config(None, ["train.max_steps=1", "train.warmup_ratio=1", "train.warmup_steps=0", "train.log_every=1",
                             "train.keep_checkpoints=1", "train.max_grad_norm=null", "train.scheduler=cosine",
                             "data.num_workers=0", "train.weight_decay=0", "train.epochs=0.5"])
    assert cfg.train.max_steps == 1 and cfg.train.warmup_ratio == 1 and cfg.train.epochs == 0.5


def test_trackers_must_be_known_and_installed(monkeypatch):
    """B39 / B40: Accelerate drops a tracker whose package is missing without a word; an unknown one fails late."""
    import accelerate.utils

    with pytest.raises(ConfigError, match=r"train\.log_with: unknown tracker 'nosuchtracker'.*valid: jsonl, all, "
                                          r".*tensorboard, wandb"):
        load_config(None, ["train.log_with=[nosuchtracker]"])
    monkeypatch.setattr(accelerate.utils, "is_tensorboard_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^override train\.log_with=\[jsonl, tensorboard\]: train\.log_with: "
                                          r"'tensorboard' needs the tensorboard package: pip install tensorboard$"):
        load_config(None, ["train.log_with=[jsonl, tensorboard]"])
    monkeypatch.setattr(accelerate.utils, "is_tensorboard_available", lambda: True)
    assert load_config(None, ["train.log_with=[jsonl, tensorboard]"]).train.log_with == ["jsonl", "tensorboard"]


@pytest.mark.parametrize("override, message", [
    ("objective.temperature=abc", r"objective\.temperature must be float, got 'abc' \(str\)"),  # B26
    ("objective.temperature=.inf", r"objective\.temperature must be a finite number, got inf"),  # B37
    ("objective.temperature=.nan", r"objective\.temperature must be a finite number, got nan"),
    ("objective.normalize=yes", r"objective\.normalize must be bool, got 'yes' \(str\)"),
    ("data.train.split=3", r"data\.train\.split must be str, got 3 \(int\)"),
])
def test_component_parameters_are_type_checked_against_their_annotations(override, message):
    with pytest.raises(ConfigError, match=rf"^override {re.escape(override)}: {message}$"):
        load_config(None, [override])


def test_component_parameter_checks_accept_ints_for_floats_and_null_defaults():
    cfg = load_config(None, ["objective.temperature=1", "objective={name: clip, temperature: null}"])
    assert cfg.objective == {"name": "clip", "temperature": None}


def test_augment_settings_are_checked_at_load(tmp_path):
    """B31: ``view.augment.size=0`` died in affine_grid."""
    with pytest.raises(ConfigError, match=r"^override view\.augment\.size=0: view\.augment\.size must be a positive "
                                          r"int .*got 0$"):
        load_config(None, ["view.augment.size=0"])
    with pytest.raises(ConfigError, match=r"view\.augment2\.blur_p must be in \[0, 1\], got 3"):
        load_config(None, ["view.augment2={blur_p: 3}"])
    with pytest.raises(ConfigError, match=r"view\.augment\.flip_p must be float, got 'often' \(str\)"):
        load_config(None, ["view.augment.flip_p=often"])


def test_hub_token_env_refuses_a_pasted_token_without_echoing_it(tmp_path):
    token = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3"
    for given in ([f"export.hub_token_env={token}"], []):
        path = write(tmp_path, {"export": {"hub_token_env": token}})
        with pytest.raises(ConfigError) as err:
            load_config(path if not given else None, given)
        assert token not in str(err.value)
        assert "export.hub_token_env takes the name of an environment variable holding the token (e.g. HF_TOKEN), " \
               "not the token itself; nothing was written" in str(err.value)
    with pytest.raises(ConfigError, match="export.hub_token_env 'my-token' is not an environment variable name"):
        load_config(None, ["export.hub_token_env=my-token"])
    assert load_config(None, ["export.hub_token_env=MY_HUB_TOKEN"]).export.hub_token_env == "MY_HUB_TOKEN"


def test_config_to_yaml_redacts_token_like_strings():
    from mmcontrast.config import config_to_yaml

    token = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3"
    cfg = load_config(None, ["name=run-1"])
    cfg.data.train = {"name": "hf", "path": "org/data", "token": token}  # e.g. a token pasted in a component
    text = config_to_yaml(cfg)
    assert token not in text and "<redacted>" in text
    assert yaml.safe_load(text)["name"] == "run-1" and yaml.safe_load(text)["export"]["hub_token_env"] == "HF_TOKEN"


def test_yaml_syntax_errors_are_one_line_with_line_and_column(tmp_path):
    path = tmp_path / "syntax.yaml"
    path.write_text("train: {lr: 1\nseed: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: not valid YAML: while parsing a flow mapping at line 1, column 8; expected ',' "
                              "or '}', but got ':' at line 2, column 5")


def test_one_axis_table_names_every_registry_and_fills_defaults():
    assert set(AXES) == {"datasets", "batch_samplers", "views", "encoders", "heads", "tile_heads", "targets",
                         "negatives", "objectives", "miners", "evaluators"}
    assert AXES["views"] is VIEWS and "queue" in AXES["negatives"]
    assert with_defaults({"name": "queue", "size": 8}, "negatives") == {"size": 8, "seed": 0}  # embedding_dim: injected
    with pytest.raises(KeyError, match="unknown negatives 'queu'"):
        with_defaults({"name": "queu"}, "negatives")


def test_views_declare_what_their_batches_carry():
    outputs = {name: VIEWS.get(name).outputs({}) for name in VIEWS.names()}
    assert outputs["two_view_augment"] == {INDICES} and outputs["simcse_unsup"] == {INDICES}
    assert outputs["multi_crop"] == {INDICES, CROPS} and outputs["skipgram"] == set()
    assert LABELS in VIEWS.get("two_view_augment").outputs({"label_column": "label"})
    assert VIEWS.get("rotation").outputs({"predict_rotation": True}) == {INDICES, LABELS}
    assert VIEWS.get("jigsaw").outputs({"encode_tiles": True}) == {INDICES, TILES}
    assert all(LABELS not in given for given in outputs.values())  # labels only when a parameter asks for them


def test_cross_section_rules_live_in_their_components():
    tree = dataclasses.asdict(load_config())
    with pytest.raises(ComponentRuleError, match="objective 'dino' distils a momentum teacher") as err:
        OBJECTIVES.get("dino").check_config(tree, frozenset())
    assert err.value.key == "objective"
    with pytest.raises(ComponentRuleError, match="negatives.size 8 is smaller than train.batch_size 64") as err:
        NEGATIVES.get("queue").check_config({**tree, "negatives": {"name": "queue", "size": 8}}, frozenset())
    assert err.value.key == "negatives.size"
    NEGATIVES.get("queue").check_config({**tree, "negatives": {"name": "queue", "size": 64}}, frozenset())
    with pytest.raises(ConfigError, match="negatives.size 8 is smaller than train.batch_size 64"):
        load_config(None, ["negatives={name: queue, size: 8}"])
    pirl = ROOT / "configs" / "vision" / "offline" / "pirl.yaml"
    with pytest.raises(ConfigError, match=re.escape("override train.chunk_size=4: tile_head (per-tile jigsaw queries) "
                                                    "works with one online tower and its own embeddings as keys: unset "
                                                    "['train.chunk_size']")):
        load_config(pirl, ["train.chunk_size=4"])


def test_cli_lists_the_components_of_the_axis_table(capsys):
    assert main(["components", "negatives"]) == 0
    assert capsys.readouterr().out == "negatives: in_batch, memory_bank, none, queue\n"
    assert main(["components"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(AXES) and "views: " in lines[2] and "jigsaw" in lines[2]
    with pytest.raises(SystemExit):
        main(["components", "view"])  # the axis names are plural


def test_a_miner_needs_a_view_that_declares_labels():
    rule = "miner 'batch_hard' needs labelled data, but view 'simcse_unsup' gives no labels"
    with pytest.raises(ComponentRuleError, match=rule) as err:
        MINERS.get("batch_hard").check_config({"miner": {"name": "batch_hard"}, "view": {"name": "simcse_unsup"},
                                               "data": {"train": {"name": "hf"}}}, frozenset({INDICES}))
    assert err.value.key == "miner"
    MINERS.get("batch_hard").check_config({}, frozenset({LABELS}))
