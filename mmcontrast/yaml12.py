"""YAML reading with YAML 1.2 scalar rules for configs and overrides, and no duplicate keys."""

from __future__ import annotations

import re
from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice (YAML 1.2 forbids it; PyYAML silently keeps the last value)."""


class YAMLLoader(yaml.SafeLoader):
    """YAML with YAML 1.2 scalars: ``3e-5`` is a float (YAML 1.1 reads a string) and only true/false are
    booleans (YAML 1.1 turns ``no``, ``off``, ``yes``, ``on`` into booleans, so ``mixed_precision: no`` broke).
    A key given twice in one mapping is a ``DuplicateKeyError`` naming the dotted key and both lines."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_duplicate_keys(node, "")
        return super().construct_document(node)


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_duplicate_keys(node: yaml.Node, path: str) -> None:
    """Walk the composed node tree (before construction, so lines are known) for keys repeated in a mapping.
    Scalar keys are compared by their text; ``<<`` merge keys may legitimately repeat keys of the merged map."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                dotted = f"{path}.{key_node.value}" if path else str(key_node.value)
                first = seen.get(key_node.value)
                if first is not None:
                    a, b = first.start_mark, key_node.start_mark
                    where = (f"line {a.line + 1} and line {b.line + 1}" if a.line != b.line
                             else f"line {a.line + 1}, columns {a.column + 1} and {b.column + 1}")
                    raise DuplicateKeyError(f"duplicate key '{dotted}' at {where} (YAML would silently keep the last "
                                            "value): keep one")
                seen[key_node.value] = key_node
                _check_duplicate_keys(value_node, dotted)
            else:
                _check_duplicate_keys(value_node, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(item, f"{path}[{i}]")


YAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
YAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=YAMLLoader)
