"""YAML read with the line of every value, so that a problem can name the line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_SCALARS = SafeConstructor()


class Located(dict[str, Any]):
    """A YAML mapping that knows its own line and the line of each of its keys."""

    line: int
    lines: dict[str, int]


class LocatedList(list[Any]):
    """A YAML sequence that knows its own line and the line of each item."""

    line: int
    lines: list[int]


class YamlError(Exception):
    """The file cannot be read as YAML; ``line`` is where the parser stopped (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def load(path: Path) -> Any:
    """The document in ``path`` as plain data whose mappings and sequences carry lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text ({exc.reason})", 1) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(str(exc.problem or exc), (mark.line + 1) if mark else 1) from None
    if node is None:
        raise YamlError("the file is empty", 1)
    return _convert(node)


def _convert(node: Node) -> Any:
    if isinstance(node, MappingNode):
        mapping = Located()
        mapping.line = node.start_mark.line + 1
        mapping.lines = {}
        for key_node, value_node in node.value:
            key = _convert(key_node)
            mapping[str(key)] = _convert(value_node)
            mapping.lines[str(key)] = key_node.start_mark.line + 1
        return mapping
    if isinstance(node, SequenceNode):
        items = LocatedList(_convert(item) for item in node.value)
        items.line = node.start_mark.line + 1
        items.lines = [item.start_mark.line + 1 for item in node.value]
        return items
    assert isinstance(node, ScalarNode)
    return _SCALARS.construct_object(node)


def line_of(value: Any, default: int = 1) -> int:
    """The line a located value starts on."""
    return int(getattr(value, "line", default))
