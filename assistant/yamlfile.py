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
    except yaml.YAMLError as exc:
        line, message = syntax_error(exc, text)
        raise YamlError(message, line) from None
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


NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"


def node_line(node: Node) -> int:
    """The 1-based line a YAML node starts on."""
    return int(node.start_mark.line) + 1


def describe_node(node: Node) -> str:
    """A node as a person would name it in a problem: a mapping, a list, text 'x', ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL_TAG:
        return "nothing"
    if node.tag == STR_TAG:
        return f"text '{node.value}'"
    return f"'{node.value}'"


def syntax_error(error: yaml.YAMLError, text: str) -> tuple[int, str]:
    """The line and the description of a YAML syntax error."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        return line, error.problem or error.context or "cannot be read"
    if isinstance(error, yaml.reader.ReaderError):
        # For text input PyYAML gives the character's code point and its index in the text.
        line = text.count("\n", 0, error.position) + 1
        return line, f"character U+{error.character:04X} is not allowed"
    return 1, str(error)
