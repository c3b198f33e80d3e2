"""A component's parameters checked against its registry entry's constructor: the name known, the keys known,
required keys present, values of the annotated simple type, floats finite, and the entry's own ``check_params``.

A leaf module (registry, errors and value types only), so the config and a component that takes a nested
component (``cpc``'s ``sentence_encoder``) check one the same way, each handing over the registry to look in.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import types
import typing
from typing import Any, Callable

from .errors import ConfigError
from .registry import Registry, closest
from .value_types import describe, matches

# where a config value came from, for error messages: one label for all keys (a file name), or a function of the
# dotted key (the config's ``Origins``: the file, its base file or the command-line override that set that key)
Source = str | Callable[[str], str]
# constructor parameters the builder injects (never set in a config)
INJECTED = {"self", "negatives", "generator", "embedding_dim", "input_dim", "online", "num_samples", "miner", "num_tiles"}


def where(source: Source, key: str) -> str:
    """The label of where ``key`` was set: the file, the base file or the override (``source`` may be a label)."""
    return source(key) if callable(source) else source


def config_schema(entry: Any) -> Any:
    """What a registry entry's config keys are checked against: its ``Section`` dataclass when it has one (an
    evaluator, built by ``from_config(section)``), else the entry itself (a constructor or factory)."""
    return getattr(entry, "Section", entry)


def parameters_of(factory: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The parameters a config may set on ``factory`` (the signature of its ``config_schema`` less the injected
    ones and ``*args``)."""
    params = inspect.signature(config_schema(factory)).parameters
    return {k: p for k, p in params.items()
            if k not in INJECTED and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def check_component(component: Any, key: str, registry: Registry[Any], source: Source, kind: str,
                    hook: bool = False) -> None:
    """Check a component mapping against its ``registry`` entry's constructor: name known, keys known,
    required keys present, values of the annotated simple type (float, int, bool, str, list, dict, or null where
    allowed), floats finite (unless the default is not). ``kind`` names the axis in messages (``view``). ``hook``:
    run the entry's own ``check_params(params, key)`` too, before the type checks (its messages are the more
    specific ones). ConfigError naming ``key`` and where it was set."""
    if not isinstance(component, dict) or "name" not in component:
        raise ConfigError(f"{where(source, key)}: '{key}' must be a mapping with a 'name' key, got {component!r}")
    try:
        factory = registry.get(component["name"])
    except KeyError as err:
        raise ConfigError(f"{where(source, key + '.name')}: {key}.name: {err.args[0]}") from None
    params = parameters_of(factory)
    for param in component:
        if param != "name" and param not in params:
            raise ConfigError(
                f"{where(source, f'{key}.{param}')}: unknown key '{key}.{param}' for {kind} "
                f"'{component['name']}'{closest(param, list(params))}; valid keys: {', '.join(params) or '(none)'}"
            )
    for name, p in params.items():
        if p.default is inspect.Parameter.empty and name not in component:
            raise ConfigError(f"{where(source, key)}: '{key}.{name}' is required for {kind} '{component['name']}'")
    deferred: TypeError | None = None
    if hook:
        try:
            _run_check_params(factory, component, key, source)
        except TypeError as err:  # a value of the wrong type: the type checks below name it, else report this
            deferred = err
    hints = _parameter_hints(factory)
    for name, value in component.items():
        if name in params and name in hints:
            _check_parameter(value, hints[name], params[name].default, f"{key}.{name}", source)
    if deferred is not None:
        raise ConfigError(f"{where(source, key)}: {key}: {deferred}") from None


def _run_check_params(factory: Any, component: dict[str, Any], key: str, source: Source) -> None:
    """A registry entry's own check of its values (``check_params(params, key)``: e.g. retrieval's index spec, an
    augmentation's sizes and probabilities); its ValueError becomes a ConfigError naming where the value came from."""
    check = getattr(factory, "check_params", None)
    if check is None:
        return
    try:
        check({k: v for k, v in component.items() if k != "name"}, key)
    except ValueError as err:
        named = re.search(re.escape(key) + r"(?:\.\w+)+", str(err))  # the sub-key the message names, if any
        raise ConfigError(f"{where(source, named.group(0) if named else key)}: {err}") from None


def _parameter_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The constructor's parameter annotations that resolve to types (an annotation that cannot be resolved, e.g.
    a name imported only for type checking, is left out: its values are not type-checked)."""
    try:
        return _resolved_hints(factory)
    except TypeError:  # unhashable factory: resolve without the cache
        return _resolved_hints.__wrapped__(factory)


@functools.lru_cache(maxsize=None)
def _resolved_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    factory = config_schema(factory)
    function = factory.__init__ if inspect.isclass(factory) else factory
    function = inspect.unwrap(function)
    try:
        return typing.get_type_hints(function)
    except Exception:  # one unresolvable annotation: resolve the others one by one
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(function, "__globals__", {})
    for name, annotation in getattr(function, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307
        except Exception:
            continue
    return hints


_SIMPLE_TYPES = (float, int, bool, str, type(None))


def _is_simple(hint: Any) -> bool:
    """Whether ``hint`` is one ``matches`` can judge exactly: float, int, bool, str, None, list / tuple / dict,
    and unions of those (``float | None``)."""
    if hint in _SIMPLE_TYPES or hint in (list, tuple, dict):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return all(_is_simple(arg) for arg in typing.get_args(hint))
    return origin in (list, tuple, dict)


def _allows_float(hint: Any) -> bool:
    if hint is float:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_allows_float(arg) for arg in typing.get_args(hint))
    return False


def _check_parameter(value: Any, hint: Any, default: Any, key: str, source: Source) -> None:
    """A component parameter against its constructor's annotation (only simple ones), and floats finite."""
    if (value is None and default is None) or (is_nonfinite(default) and value == default):
        return
    if _is_simple(hint) and not matches(value, hint):
        raise ConfigError(f"{where(source, key)}: {key} must be {describe(hint)}, got {value!r} "
                          f"({type(value).__name__})")
    if _allows_float(hint) and is_nonfinite(value) and not is_nonfinite(default):
        raise ConfigError(f"{where(source, key)}: {key} must be a finite number, got {value!r}")


def is_nonfinite(value: Any) -> bool:
    """Whether ``value`` is an infinite or NaN float."""
    return isinstance(value, float) and not math.isfinite(value)
