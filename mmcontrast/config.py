"""Configuration: a dataclass schema with every default in one place, YAML values, ``dotted.key=value``
command-line overrides, and errors that name an unknown key with the closest valid one.

Sections with a fixed shape (``train``, ``export``) are dataclasses. Pluggable parts (``data.train``,
``view``, ``encoder``, ``head``, ``predictor``, ``target``, ``negatives``, ``objective``, ``evaluators``) are
*components*: a mapping
with a ``name`` that picks an entry of that axis's registry, plus that entry's own parameters, checked
against its constructor's signature.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError
from .registry import closest
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


COMPONENT_AXES: dict[str, str] = {
    "data.train": "datasets",
    "view": "views",
    "encoder": "encoders",
    "head": "heads",
    "passage_encoder": "encoders",
    "passage_head": "heads",
    "predictor": "heads",
    "tile_head": "tile_heads",
    "target": "targets",
    "negatives": "negatives",
    "objective": "objectives",
    "miner": "miners",
    "evaluators": "evaluators",
}
INJECTED = {"self", "negatives", "generator", "embedding_dim", "input_dim", "online", "num_samples", "miner", "num_tiles"}


def _registry(axis: str) -> Any:
    """The registry of an axis, imported lazily (encoders pull in transformers)."""
    if axis == "datasets":
        from .data import DATASETS as reg
    elif axis == "batch_samplers":
        from .data.samplers import BATCH_SAMPLERS as reg
    elif axis == "views":
        from .views import VIEWS as reg
    elif axis == "encoders":
        from .encoders import ENCODERS as reg
    elif axis == "heads":
        from .encoders import HEADS as reg
    elif axis == "tile_heads":
        from .encoders import TILE_HEADS as reg
    elif axis == "targets":
        from .encoders import TARGETS as reg
    elif axis == "negatives":
        from .negatives import NEGATIVES as reg
    elif axis == "objectives":
        from .objectives import OBJECTIVES as reg
    elif axis == "miners":
        from .miners import MINERS as reg
    elif axis == "evaluators":
        from .evaluation import EVALUATORS as reg
    else:  # pragma: no cover
        raise KeyError(axis)
    return reg


def parameters_of(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    params = inspect.signature(factory).parameters
    return {k: p for k, p in params.items()
            if k not in INJECTED and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def validate_component(component: Any, key: str, axis: str, source: str) -> None:
    """Check a component mapping against its registry entry's constructor: name known, keys known,
    required keys present."""
    if not isinstance(component, dict) or "name" not in component:
        raise ConfigError(f"{source}: '{key}' must be a mapping with a 'name' key, got {component!r}")
    registry = _registry(axis)
    try:
        factory = registry.get(component["name"])
    except KeyError as err:
        raise ConfigError(f"{source}: {key}.name: {err.args[0]}") from None
    params = parameters_of(factory)
    for param in component:
        if param != "name" and param not in params:
            raise ConfigError(
                f"{source}: unknown key '{key}.{param}' for {axis[:-1]} '{component['name']}'"
                f"{closest(param, list(params))}; valid keys: {', '.join(params) or '(none)'}"
            )
    for name, p in params.items():
        if p.default is inspect.Parameter.empty and name not in component:
            raise ConfigError(f"{source}: '{key}.{name}' is required for {axis[:-1]} '{component['name']}'")


def _merge(target: Any, values: dict[str, Any], prefix: str, source: str) -> Any:
    """Copy ``values`` into a dataclass instance, recursing into nested dataclasses; unknown keys are errors."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or '(top level)'}' must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown config key '{prefix}{key}'{closest(key, list(fields))}; "
                f"valid keys: {', '.join(fields)}"
            )
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, f"{prefix}{key}.", source)
        else:
            _check_type(value, typing.get_type_hints(type(target))[key], f"{prefix}{key}", source)
            setattr(target, key, value)
    return target


def _check_type(value: Any, hint: Any, key: str, source: str) -> None:
    """Reject a value of the wrong type for a section field (components are checked by their constructors)."""
    if _matches(value, hint):
        return
    raise ConfigError(f"{source}: '{key}' must be {_describe(hint)}, got {value!r} ({type(value).__name__})")


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    origin = typing.get_origin(hint)
    return (origin or hint).__name__ if isinstance(origin or hint, type) else str(hint)


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
    return key, load_yaml(raw) if raw.strip() else None


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults <- YAML file <- overrides, then validation of every key and component."""
    tree = _as_tree(Config())
    source = "defaults"
    if path is not None:
        _apply_file(tree, Path(path), ())
        source = str(path)
    for text in overrides:
        key, value = parse_override(text)
        _check_override(key, tree)
        _set_dotted(tree, key, value)
    cfg = _merge(Config(), tree, "", source)
    validate(cfg, source)
    return cfg


def _apply_file(tree: dict[str, Any], path: Path, chain: tuple[Path, ...]) -> None:
    """Apply a YAML file onto ``tree``. A file may name a ``base`` file (relative to itself) that is applied
    first, so an offline variant states only what differs. Components are replaced whole (a YAML component
    is complete); the sections ``data``, ``train`` and ``export`` merge key by key."""
    if not path.is_file():
        where = f" (base of {chain[-1]})" if chain else ""
        raise FileNotFoundError(f"config file not found: {path}{where}")
    if path.resolve() in [p.resolve() for p in chain]:
        raise ConfigError(f"{path}: 'base' files form a cycle: {' -> '.join(map(str, (*chain, path)))}")
    try:
        loaded = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    base = loaded.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: 'base' must be a file path, got {base!r}")
        _apply_file(tree, path.parent / base, (*chain, path))
    for key, value in loaded.items():
        if isinstance(value, dict) and isinstance(tree.get(key), dict) and key in ("data", "train", "export"):
            tree[key].update(value)
        else:
            tree[key] = value


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


def validate(cfg: Config, source: str = "config") -> None:
    """Check every component against its registry and a few cross-field rules."""
    validate_component(cfg.data.train, "data.train", "datasets", source)
    if cfg.data.batch_sampler is not None:
        validate_component(cfg.data.batch_sampler, "data.batch_sampler", "batch_samplers", source)
    validate_component(cfg.view, "view", "views", source)
    validate_component(cfg.encoder, "encoder", "encoders", source)
    if cfg.head is not None:
        validate_component(cfg.head, "head", "heads", source)
    if cfg.passage_encoder is not None:
        validate_component(cfg.passage_encoder, "passage_encoder", "encoders", source)
    if cfg.passage_head is not None:
        if cfg.passage_encoder is None:
            raise ConfigError(f"{source}: passage_head needs passage_encoder (a separate passage tower)")
        validate_component(cfg.passage_head, "passage_head", "heads", source)
    unknown_roles = sorted(set(cfg.prompts) - {"query", "passage"})
    if unknown_roles:
        raise ConfigError(f"{source}: prompts has unknown role(s) {unknown_roles}; roles: query, passage")
    if cfg.predictor is not None:
        validate_component(cfg.predictor, "predictor", "heads", source)
    if cfg.target is not None:
        validate_component(cfg.target, "target", "targets", source)
    _check_tile_head(cfg, source)
    if cfg.symmetric not in ("none", "sum", "mean"):
        raise ConfigError(f"{source}: symmetric must be none, sum or mean, got '{cfg.symmetric}'")
    validate_component(cfg.negatives, "negatives", "negatives", source)
    validate_component(cfg.objective, "objective", "objectives", source)
    if cfg.miner is not None:
        validate_component(cfg.miner, "miner", "miners", source)
    _check_objective_composition(cfg, source)
    if not isinstance(cfg.evaluators, list):
        raise ConfigError(f"{source}: 'evaluators' must be a list of components")
    for i, evaluator in enumerate(cfg.evaluators):
        validate_component(evaluator, f"evaluators[{i}]", "evaluators", source)
        check = getattr(_registry("evaluators").get(evaluator["name"]), "check_params", None)
        if check is not None:  # an evaluator's own check of nested values (e.g. retrieval's index spec)
            try:
                check({k: v for k, v in evaluator.items() if k != "name"}, f"evaluators[{i}]")
            except ValueError as err:
                raise ConfigError(f"{source}: {err}") from None
    t = cfg.train
    if t.batch_size < 1:
        raise ConfigError(f"{source}: train.batch_size must be >= 1, got {t.batch_size}")
    if t.optimizer not in ("adamw", "sgd", "lars"):
        raise ConfigError(f"{source}: train.optimizer must be adamw, sgd or lars, got '{t.optimizer}'")
    if t.chunk_size is not None and t.chunk_size < 0:
        raise ConfigError(f"{source}: train.chunk_size must be >= 1 (or 0 / null: no gradient caching), "
                          f"got {t.chunk_size}")
    if t.bn_running_stats not in BN_RUNNING_STATS:
        raise ConfigError(f"{source}: train.bn_running_stats must be {' or '.join(BN_RUNNING_STATS)}, got "
                          f"'{t.bn_running_stats}'")
    if t.mixed_precision not in ("no", "fp16", "bf16"):
        raise ConfigError(f"{source}: train.mixed_precision must be no, fp16 or bf16, got '{t.mixed_precision}'")
    queue_size = cfg.negatives.get("size") if cfg.negatives.get("name") == "queue" else None
    if isinstance(queue_size, int) and queue_size < t.batch_size:
        raise ConfigError(f"{source}: negatives.size {queue_size} is smaller than train.batch_size {t.batch_size}: "
                          "a queue must hold at least one global batch of keys")
    if cfg.export.push_to_hub and not cfg.export.hub_repo_id:
        raise ConfigError(f"{source}: export.push_to_hub needs export.hub_repo_id")


def _check_tile_head(cfg: Config, source: str) -> None:
    """``tile_head`` and a jigsaw view with ``encode_tiles: true`` come together (PIRL's per-tile encoding), with
    a single tower, no target branch and no gradient caching."""
    encodes_tiles = cfg.view.get("name") == "jigsaw" and cfg.view.get("encode_tiles") is True
    if cfg.tile_head is None:
        if encodes_tiles:
            raise ConfigError(f"{source}: view.encode_tiles needs a tile_head that combines the tile embeddings "
                              "into the query embedding, e.g. tile_head: {name: concat, tile_dim: 128}")
        return
    validate_component(cfg.tile_head, "tile_head", "tile_heads", source)
    if not encodes_tiles:
        raise ConfigError(f"{source}: tile_head combines jigsaw tiles: it needs view: {{name: jigsaw, encode_tiles: "
                          f"true}} (got view {cfg.view.get('name')!r} with encode_tiles {cfg.view.get('encode_tiles')!r})")
    unsupported = {"target": cfg.target, "passage_encoder": cfg.passage_encoder, "train.chunk_size": cfg.train.chunk_size or None}
    set_keys = [key for key, value in unsupported.items() if value is not None]
    if set_keys:
        raise ConfigError(f"{source}: tile_head (per-tile jigsaw queries) works with one online tower and its own "
                          f"embeddings as keys: unset {set_keys}")


def _check_objective_composition(cfg: Config, source: str) -> None:
    """The objective's similarity/distance, and its miner against the objective and the view's labels."""
    from .objectives.checks import check_composition

    try:
        check_composition(cfg.objective, cfg.miner, cfg.view, cfg.data.train)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    if cfg.objective.get("name") == "dino":
        if cfg.target is None or cfg.target.get("name") != "momentum":
            raise ConfigError(f"{source}: objective 'dino' distils a momentum teacher: set target: {{name: momentum}} "
                              f"(got target {cfg.target!r})")
        if cfg.predictor is not None:
            raise ConfigError(f"{source}: objective 'dino' compares the student's and the teacher's heads directly: "
                              "unset predictor")


def config_to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(_as_tree(cfg), sort_keys=False)
