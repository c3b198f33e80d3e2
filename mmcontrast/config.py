"""Configuration: a dataclass schema with every default in one place, YAML values, ``dotted.key=value``
command-line overrides, and errors that name an unknown key with the closest valid one.

Sections with a fixed shape (``train``, ``export``) are dataclasses. Pluggable parts (``data.train``,
``view``, ``encoder``, ``head``, ``predictor``, ``target``, ``negatives``, ``objective``, ``evaluators``, ...) are
*components*: a mapping with a ``name`` that picks an entry of that axis's registry (the ``AXES`` table), plus that
entry's own parameters, checked against its constructor's signature. A component owns its rules: ``check_params``
(its own values) and ``check_config`` (the rest of the run, e.g. DINO's momentum target); the config runs them and
names the file or override that set the key to change. Components never import this module.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import accelerate.utils
import yaml
from accelerate.utils import LoggerType
from transformers import SchedulerType

from .component_params import Source, check_component, is_nonfinite, parameters_of, where
from .data import DATASETS
from .data.samplers import BATCH_SAMPLERS
from .encoders import ENCODERS, HEADS, TARGETS, TILE_HEADS
from .errors import ComponentRuleError, ConfigError
from .evaluation import EVALUATORS
from .miners import MINERS
from .negatives import NEGATIVES
from .objectives import OBJECTIVES
from .objectives.checks import check_composition
from .registry import Registry, closest
from .retrieval import RetrievalEvaluator  # noqa: F401 - importing mmcontrast.retrieval registers evaluator 'retrieval'
from .secrets import ENV_VAR_NAME, looks_like_token, redact_secrets
from .value_types import describe, matches
from .views import VIEWS
from .yaml12 import load_yaml

Component = dict[str, Any]


@dataclass
class DataConfig:
    """Training data: a dataset component (``name`` from the ``DATASETS`` registry)."""

    train: Component = field(default_factory=lambda: {"name": "sklearn_digits", "split": "train"})
    shuffle: bool = True
    drop_last: bool = True
    num_workers: int = 0
    batch_sampler: Component | None = None  # which rows share a batch, e.g. {name: no_duplicates}


BN_RUNNING_STATS = ("all_views", "full_views")  # train.bn_running_stats (training/norm_stats.py)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping of ``train(cfg)``."""

    batch_size: int = 64
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs when set
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 3e-5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd and lars
    lars_trust_coefficient: float = 0.001  # lars only (You et al. 2017)
    scheduler: str = "linear"  # any transformers scheduler name: linear, cosine, constant_with_warmup, ...
    warmup_ratio: float = 0.0
    warmup_steps: int | None = None  # overrides warmup_ratio when set
    # learner submodules whose lr stays at lr (no warmup, no decay): [predictor] is SimSiam's fixed predictor lr
    constant_lr: list[str] = field(default_factory=list)  # names: predictor, tile_head, model.head, model.encoder
    # which passes move BatchNorm running statistics: all_views, or full_views (jigsaw tiles and multi-crop local
    # crops normalise with their batch statistics but leave the running ones, used by eval and export, alone)
    bn_running_stats: str = "all_views"
    max_grad_norm: float | None = None
    gradient_accumulation_steps: int = 1
    chunk_size: int | None = None  # gradient caching: rows per chunk forward (GradCache); None or 0: off
    mixed_precision: str = "no"  # no | fp16 (loss scaling; GPU) | bf16 (GPU or CPU); objectives stay float32
    compile: bool = False  # torch.compile the model (encoder + head) in place before training
    compile_backend: str = "inductor"  # any torch.compile backend: inductor, aot_eager, eager, ...
    log_every: int = 10
    eval_every: int | None = None  # steps; None evaluates only at the start and the end
    eval_at_start: bool = True
    checkpoint_every: int | None = None  # steps; None saves no intermediate checkpoint
    keep_checkpoints: int = 2
    resume: bool = True  # resume from the latest complete checkpoint in output_dir
    log_with: list[str] = field(default_factory=lambda: ["jsonl"])  # accelerate trackers, e.g. tensorboard
    progress_bar: bool = True
    # seconds a process waits in a collective (gradient all-reduce, barrier) for the others before it stops
    # with a message, instead of hanging behind a process that failed or froze
    collective_timeout: float = 1800.0


@dataclass
class ExportConfig:
    """What ``<output_dir>/final`` holds and where it is published."""

    enabled: bool = True
    push_to_hub: bool = False
    hub_repo_id: str | None = None
    hub_private: bool = True
    hub_token_env: str = "HF_TOKEN"


@dataclass
class Config:
    """The whole run. ``name`` only labels the run (model card, trackers)."""

    name: str = "mmcontrast-run"
    seed: int = 42
    output_dir: str = "outputs/run"
    data: DataConfig = field(default_factory=DataConfig)
    view: Component = field(default_factory=lambda: {"name": "two_view_augment"})
    encoder: Component = field(
        default_factory=lambda: {
            "name": "vision",
            "image_size": 16,
            "config": {"model_type": "resnet", "num_channels": 1, "hidden_sizes": [32, 64, 128],
                       "depths": [1, 1, 1], "embedding_size": 32, "layer_type": "basic"},
        }
    )
    head: Component | None = None
    passage_encoder: Component | None = None  # a separate passage tower (DPR); None shares ``encoder``
    passage_head: Component | None = None  # head of the passage tower
    prompts: dict[str, str] = field(default_factory=dict)  # role -> text prefix, e.g. {query: "query: "}
    predictor: Component | None = None  # MLP on the online branch only (BYOL, SimSiam, MoCo v3)
    tile_head: Component | None = None  # PIRL's g: combines per-tile embeddings (view jigsaw, encode_tiles: true)
    target: Component | None = None  # stop_gradient (SimSiam) | momentum (MoCo, BYOL); None: keys are online
    symmetric: str = "none"  # none | sum | mean: add the swapped loss direction (BYOL/MoCo v3 sum, SimSiam mean)
    negatives: Component = field(default_factory=lambda: {"name": "in_batch"})
    objective: Component = field(default_factory=lambda: {"name": "nt_xent"})
    miner: Component | None = None  # pair/triplet mining for labelled data (batch_hard, semi_hard, multi_similarity)
    evaluators: list[Component] = field(default_factory=list)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


# The axes: each registry a component's ``name`` picks from, read by validation, the CLI and export. The axis names
# the registry in messages by its singular (``views``: "for view 'x'").
AXES: dict[str, Registry[Any]] = {
    "datasets": DATASETS,
    "batch_samplers": BATCH_SAMPLERS,
    "views": VIEWS,
    "encoders": ENCODERS,
    "heads": HEADS,
    "tile_heads": TILE_HEADS,
    "targets": TARGETS,
    "negatives": NEGATIVES,
    "objectives": OBJECTIVES,
    "miners": MINERS,
    "evaluators": EVALUATORS,
}


def validate_component(component: Any, key: str, axis: str, source: Source, hook: bool = False) -> None:
    """Check a component mapping against the constructor of its entry in the registry of ``axis`` (a key of
    ``AXES``): see ``component_params.check_component``. ``hook``: run the entry's own ``check_params`` too."""
    check_component(component, key, AXES[axis], source, axis[:-1], hook=hook)


def with_defaults(component: Component, axis: str) -> dict[str, Any]:
    """A component's parameters (less ``name``) with its constructor's defaults filled in for the keys it leaves
    unset. KeyError for an axis or a name that is not registered."""
    values = {k: v for k, v in component.items() if k != "name"}
    for key, param in parameters_of(AXES[axis].get(component["name"])).items():
        if key not in values and param.default is not inspect.Parameter.empty:
            values[key] = param.default
    return values


def _merge(target: Any, values: dict[str, Any], prefix: str, source: Source) -> Any:
    """Copy ``values`` into a dataclass instance, recursing into nested dataclasses; unknown keys are errors."""
    if not isinstance(values, dict):
        section = prefix.rstrip(".") or "(top level)"
        raise ConfigError(f"{where(source, prefix.rstrip('.'))}: '{section}' must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where(source, prefix + key)}: unknown config key '{prefix}{key}'{closest(key, list(fields))}; "
                f"valid keys: {', '.join(fields)}"
            )
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, f"{prefix}{key}.", source)
        else:
            _check_type(value, typing.get_type_hints(type(target))[key], f"{prefix}{key}", source)
            setattr(target, key, value)
    return target


def _check_type(value: Any, hint: Any, key: str, source: Source) -> None:
    """Reject a value of the wrong type for a section field (components are checked by their constructors)."""
    if matches(value, hint):
        return
    raise ConfigError(f"{where(source, key)}: '{key}' must be {describe(hint)}, got {value!r} "
                      f"({type(value).__name__})")


class Origins:
    """Where each config key was set, for error messages: ``origins("train.lr")`` is the override that set it
    (``override train.lr=abc``), else the file that did (``hub.yaml (base of offline.yaml)``), else ``default``
    (the config file given, or ``defaults``). A key set whole (a component) covers its sub-keys."""

    def __init__(self, default: str = "defaults") -> None:
        self.default = default
        self._by_key: dict[str, str] = {}

    def set(self, key: str, origin: str) -> None:
        for sub in [k for k in self._by_key if k.startswith((key + ".", key + "["))]:
            del self._by_key[sub]
        self._by_key[key] = origin

    def __call__(self, key: str) -> str:
        while key:
            if key in self._by_key:
                return self._by_key[key]
            key = re.sub(r"(?:\.[^.\[]*|\[[^\]]*\])$", "", key) if re.search(r"[.\[]", key) else ""
        return self.default


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _as_tree(cfg: Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` -> ("a.b", yaml-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like dotted.key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}' has an empty key")
    if not raw.strip():
        return key, None
    try:
        return key, load_yaml(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text}: not valid YAML: {yaml_error_line(err)}") from None


def yaml_error_line(err: yaml.YAMLError) -> str:
    """A YAML error on one line: what was being parsed and what went wrong, each with its line and column."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return " ".join(str(err).split())
    parts = []
    for text, mark in ((err.context, err.context_mark), (err.problem, err.problem_mark)):
        if text:
            parts.append(f"{text} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else text)
    return "; ".join(parts) or " ".join(str(err).split())


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults <- YAML file <- overrides, then validation of every key and component. Errors name where the
    bad value came from: the override (``override train.lr=abc: ...``), or the file (and the file it is the base
    of)."""
    tree = _as_tree(Config())
    origins = Origins("defaults" if path is None else str(path))
    if path is not None:
        _apply_file(tree, Path(path), (), origins)
    for text in overrides:
        key, value = parse_override(text)
        _check_override(key, tree)
        _set_dotted(tree, key, value)
        shown = f"{key}=<redacted>" if looks_like_token(text.split("=", 1)[1].strip()) else text  # never echo a token
        origins.set(key, f"override {shown}")
    cfg = _merge(Config(), tree, "", origins)
    validate(cfg, origins)
    return cfg


def _apply_file(tree: dict[str, Any], path: Path, chain: tuple[Path, ...], origins: Origins | None = None) -> None:
    """Apply a YAML file onto ``tree``. A file may name a ``base`` file (relative to itself) that is applied
    first, so an offline variant states only what differs. Components are replaced whole (a YAML component
    is complete); the sections ``data``, ``train`` and ``export`` merge key by key. ``origins`` records which
    file set each key."""
    if not path.is_file():
        where = f" (base of {chain[-1]})" if chain else ""
        raise FileNotFoundError(f"config file not found: {path}{where}")
    if path.resolve() in [p.resolve() for p in chain]:
        raise ConfigError(f"{path}: 'base' files form a cycle: {' -> '.join(map(str, (*chain, path)))}")
    try:
        loaded = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {yaml_error_line(err)}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    base = loaded.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: 'base' must be a file path, got {base!r}")
        _apply_file(tree, path.parent / base, (*chain, path), origins)
    label = f"{path} (base of {chain[-1]})" if chain else str(path)
    for key, value in loaded.items():
        if isinstance(value, dict) and isinstance(tree.get(key), dict) and key in ("data", "train", "export"):
            tree[key].update(value)
            for sub in value:
                if origins is not None:
                    origins.set(f"{key}.{sub}", label)
        else:
            tree[key] = value
            if origins is not None:
                origins.set(key, label)


def _check_override(key: str, tree: dict[str, Any]) -> None:
    """Overrides may set keys of sections and components; section keys must exist."""
    parts = key.split(".")
    target: Any = Config()
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(target):
            return  # inside a component: checked by validate()
        fields = {f.name for f in dataclasses.fields(target)}
        if part not in fields:
            prefix = ".".join(parts[:i])
            raise ConfigError(
                f"override: unknown config key '{key}'{closest(part, sorted(fields))}"
                + (f" under '{prefix}'" if prefix else "")
            )
        target = getattr(target, part)


def validate(cfg: Config, source: Source = "config") -> None:
    """Check every component against its registry, the ranges of the ``train`` values and the rules that span
    sections: the objective's composition with its miner and the view, and each component's own ``check_config``.
    ``source`` labels the errors: a file name, or a function of the dotted key (``Origins``)."""
    if cfg.data.num_workers < 0:
        raise ConfigError(f"{where(source, 'data.num_workers')}: data.num_workers must be >= 0 (0 loads in the "
                          f"main process), got {cfg.data.num_workers}")
    if cfg.passage_head is not None and cfg.passage_encoder is None:
        raise ConfigError(f"{where(source, 'passage_head')}: passage_head needs passage_encoder (a separate "
                          "passage tower)")
    unknown_roles = sorted(set(cfg.prompts) - {"query", "passage"})
    if unknown_roles:
        raise ConfigError(f"{where(source, 'prompts')}: prompts has unknown role(s) {unknown_roles}; roles: query, "
                          "passage")
    if cfg.symmetric not in ("none", "sum", "mean"):
        raise ConfigError(f"{where(source, 'symmetric')}: symmetric must be none, sum or mean, got "
                          f"'{cfg.symmetric}'")
    if not isinstance(cfg.evaluators, list):
        raise ConfigError(f"{where(source, 'evaluators')}: 'evaluators' must be a list of components")
    components = _components(cfg)
    for key, component, axis in components:
        validate_component(component, key, axis, source, hook=axis in _CHECKED_ON_VALIDATION)
    _check_objective_composition(cfg, source)
    view_gives = VIEWS.get(cfg.view["name"]).outputs(_params(cfg.view))
    tree = _as_tree(cfg)
    for key, component, axis in components:
        _check_rules(AXES[axis].get(component["name"]), tree, view_gives, source)
    _check_train(cfg.train, source)
    _check_export(cfg.export, source)


# the axes whose entries' ``check_params(params, key)`` runs with the signature checks (an objective's takes its
# registry name instead of the key: ``check_composition`` runs it)
_CHECKED_ON_VALIDATION = ("datasets", "views", "evaluators")


def _components(cfg: Config) -> list[tuple[str, Component, str]]:
    """The run's components that are set, in config order: (dotted key, component, axis)."""
    slots = [("data.train", cfg.data.train, "datasets"),
             ("data.batch_sampler", cfg.data.batch_sampler, "batch_samplers"), ("view", cfg.view, "views"),
             ("encoder", cfg.encoder, "encoders"), ("head", cfg.head, "heads"),
             ("passage_encoder", cfg.passage_encoder, "encoders"), ("passage_head", cfg.passage_head, "heads"),
             ("predictor", cfg.predictor, "heads"), ("target", cfg.target, "targets"),
             ("tile_head", cfg.tile_head, "tile_heads"), ("negatives", cfg.negatives, "negatives"),
             ("objective", cfg.objective, "objectives"), ("miner", cfg.miner, "miners"),
             *((f"evaluators[{i}]", evaluator, "evaluators") for i, evaluator in enumerate(cfg.evaluators))]
    return [(key, component, axis) for key, component, axis in slots if component is not None]


def _params(component: Component) -> dict[str, Any]:
    return {k: v for k, v in component.items() if k != "name"}


def _check_rules(factory: Any, tree: dict[str, Any], view_gives: frozenset[str], source: Source) -> None:
    """A component's own rules about the rest of the run (``check_config(config, view_gives)``: DINO needs a
    momentum target, a queue holds a global batch, a tile head needs tiles, ...): its ComponentRuleError becomes a
    ConfigError naming where the key to change was set."""
    check = getattr(factory, "check_config", None)
    if check is None:
        return
    try:
        check(tree, view_gives)
    except ComponentRuleError as err:
        raise ConfigError(f"{where(source, err.key)}: {err}") from None


def _check_train(t: TrainConfig, source: Source) -> None:
    """Ranges of the ``train`` values, so a bad one fails here, not mid-run or (worse) as a run that trains nothing
    or keeps no checkpoint."""

    def fail(key: str, rule: str, value: Any) -> None:
        raise ConfigError(f"{where(source, 'train.' + key)}: train.{key} must be {rule}, got {value!r}")

    for f in dataclasses.fields(t):  # every float finite (an inf or a nan lr, epochs, warmup, ... is never meant)
        value = getattr(t, f.name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(is_nonfinite(v) for v in values):
            fail(f.name, "finite", value)
    if t.batch_size < 1:
        fail("batch_size", ">= 1", t.batch_size)
    if t.epochs <= 0:
        fail("epochs", "> 0 (use train.max_steps to set the number of steps)", t.epochs)
    if t.max_steps is not None and t.max_steps < 1:
        fail("max_steps", ">= 1 or null (null: train.epochs decides)", t.max_steps)
    if t.optimizer not in ("adamw", "sgd", "lars"):
        raise ConfigError(f"{where(source, 'train.optimizer')}: train.optimizer must be adamw, sgd or lars, got "
                          f"'{t.optimizer}'")
    if t.lr < 0:  # 0 is allowed: gradients and statistics without moving the weights (the initial state)
        fail("lr", ">= 0", t.lr)
    if t.weight_decay < 0:
        fail("weight_decay", ">= 0", t.weight_decay)
    if len(t.betas) != 2 or not all(matches(b, float) and 0 <= b < 1 for b in t.betas):
        fail("betas", "two numbers in [0, 1)", t.betas)
    if t.momentum < 0:
        fail("momentum", ">= 0", t.momentum)
    if t.lars_trust_coefficient <= 0:
        fail("lars_trust_coefficient", "> 0", t.lars_trust_coefficient)
    _check_scheduler(t.scheduler, source)
    if not 0 <= t.warmup_ratio <= 1:
        fail("warmup_ratio", "in [0, 1] (a fraction of the training steps)", t.warmup_ratio)
    if t.warmup_steps is not None and t.warmup_steps < 0:
        fail("warmup_steps", ">= 0 or null (null: train.warmup_ratio decides)", t.warmup_steps)
    if t.max_grad_norm is not None and t.max_grad_norm <= 0:
        fail("max_grad_norm", "> 0 or null (null: no clipping)", t.max_grad_norm)
    if t.gradient_accumulation_steps < 1:
        fail("gradient_accumulation_steps", ">= 1", t.gradient_accumulation_steps)
    if t.chunk_size is not None and t.chunk_size < 0:
        fail("chunk_size", ">= 1 (or 0 / null: no gradient caching)", t.chunk_size)
    if t.bn_running_stats not in BN_RUNNING_STATS:
        raise ConfigError(f"{where(source, 'train.bn_running_stats')}: train.bn_running_stats must be "
                          f"{' or '.join(BN_RUNNING_STATS)}, got '{t.bn_running_stats}'")
    if t.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"{where(source, 'train.mixed_precision')}: train.mixed_precision must be no, fp16 or "
                          f"bf16, got '{t.mixed_precision}'")
    if t.log_every < 1:
        fail("log_every", ">= 1 (steps between logged losses)", t.log_every)
    if t.eval_every is not None and t.eval_every < 1:
        fail("eval_every", ">= 1 or null (null: evaluate only at the start and the end)", t.eval_every)
    if t.checkpoint_every is not None and t.checkpoint_every < 1:
        fail("checkpoint_every", ">= 1 or null (null: no intermediate checkpoint)", t.checkpoint_every)
    if t.keep_checkpoints < 1:
        fail("keep_checkpoints", ">= 1 (the checkpoints kept in output_dir; 0 would delete every one)",
             t.keep_checkpoints)
    timeout = getattr(t, "collective_timeout", None)
    if timeout is not None and timeout <= 0:
        fail("collective_timeout", "> 0 (seconds)", timeout)
    _check_trackers(t.log_with, source)


def _check_scheduler(name: str, source: Source) -> None:
    names = [s.value for s in SchedulerType]
    if name not in names:
        raise ConfigError(f"{where(source, 'train.scheduler')}: train.scheduler '{name}' is not a transformers "
                          f"scheduler{closest(name, names)}; valid: {', '.join(names)}")


# Accelerate trackers whose package name differs from the tracker name (pip install <package>)
_TRACKER_PACKAGES = {"comet_ml": "comet_ml"}


def _check_trackers(names: list[str], source: Source) -> None:
    """``train.log_with``: ``jsonl`` (ours) or Accelerate tracker names whose package is installed (Accelerate
    drops a tracker it cannot import without a word)."""
    at = where(source, "train.log_with")
    valid = ["jsonl", *(t.value for t in LoggerType)]
    for name in names:
        if not isinstance(name, str) or name not in valid:
            raise ConfigError(f"{at}: train.log_with: unknown tracker {name!r}"
                              f"{closest(str(name), valid)}; valid: {', '.join(valid)}")
        available = getattr(accelerate.utils, f"is_{name}_available", None)
        if available is not None and not available():
            package = _TRACKER_PACKAGES.get(name, name)
            raise ConfigError(f"{at}: train.log_with: '{name}' needs the {package} package: pip install {package}")


def _check_export(export: ExportConfig, source: Source) -> None:
    if export.push_to_hub and not export.hub_repo_id:
        raise ConfigError(f"{where(source, 'export.push_to_hub')}: export.push_to_hub needs export.hub_repo_id")
    name = export.hub_token_env
    at = where(source, "export.hub_token_env")
    if looks_like_token(name):  # never echo it: the message may end up in a log
        raise ConfigError(f"{at}: export.hub_token_env takes the name of an environment variable holding the "
                          "token (e.g. HF_TOKEN), not the token itself; nothing was written")
    if not ENV_VAR_NAME.match(name):
        shown = f" '{name}'" if len(name) < 16 else ""
        raise ConfigError(f"{at}: export.hub_token_env{shown} is not an environment variable name (letters, "
                          "digits and _, e.g. HF_TOKEN); nothing was written")


def _check_objective_composition(cfg: Config, source: Source) -> None:
    """The objective's similarity/distance, and its miner against the objective."""
    try:
        check_composition(cfg.objective, cfg.miner)
    except ValueError as err:
        key = "miner" if cfg.miner is not None and str(err).startswith("miner") else "objective"
        raise ConfigError(f"{where(source, key)}: {err}") from None


def config_to_yaml(cfg: Config) -> str:
    """The config as YAML, with any token-like string replaced by ``<redacted>`` (see ``mmcontrast.secrets``)."""
    return yaml.safe_dump(redact_secrets(_as_tree(cfg)), sort_keys=False)
