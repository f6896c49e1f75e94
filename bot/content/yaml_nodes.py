"""Dialog YAML as plain values that keep their line numbers, so problems say file:line."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from bot.errors import Problem


@dataclass
class RawNode:
    """A YAML value with the line it started on (1-based)."""

    value: object
    line: int


def to_raw(node: yaml.Node, file: str, problems: list[Problem]) -> RawNode:
    """Turn a composed YAML node into plain values with their lines; problems are appended."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, RawNode] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                problems.append(Problem(file, key_node.start_mark.line + 1, "keys must be text"))
                continue
            if key in result:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        f"duplicate key {key!r} (first at line {result[key].line})",
                        hint="every node id and setting may appear once",
                        code="duplicate",
                    )
                )
                continue
            value = to_raw(value_node, file, problems)
            if isinstance(value.value, dict | list):
                # A block starts on the line after its key; the key's line is what authors see.
                value.line = key_node.start_mark.line + 1
            result[key] = value
        return RawNode(result, line)
    if isinstance(node, yaml.SequenceNode):
        return RawNode([to_raw(item, file, problems) for item in node.value], line)
    if isinstance(node, yaml.ScalarNode):
        constructed = yaml.SafeLoader(node.value)
        try:
            value = constructed.construct_object(node, deep=True)
        finally:
            constructed.dispose()
        return RawNode(value, line)
    return RawNode(None, line)


def unknown_keys(
    fields: Mapping[str, RawNode],
    allowed: frozenset[str],
    where: str,
    file: str,
    problems: list[Problem],
) -> None:
    """Report every key of ``fields`` that is not ``allowed``, with a hint of the known ones."""
    for key, value in fields.items():
        if key not in allowed:
            problems.append(
                Problem(
                    file,
                    value.line,
                    f"unknown key {key!r}{where}",
                    hint=f"allowed here: {', '.join(sorted(allowed))}",
                    code="unknown_key",
                )
            )


def placeholders_in(text: str, file: str, line: int, problems: list[Problem]) -> frozenset[str]:
    """The ``{placeholder}`` names ``text`` uses; malformed braces are a problem."""
    names: set[str] = set()
    try:
        for _literal, name, spec, conversion in string.Formatter().parse(text):
            if name is None:
                continue
            if not name or spec or conversion:
                problems.append(
                    Problem(file, line, f"malformed placeholder {{{name}}}", hint="write {name}")
                )
                continue
            names.add(name)
    except ValueError as exc:
        problems.append(
            Problem(
                file, line, f"unbalanced braces: {exc}", hint="placeholders look like {hotline}"
            )
        )
    return frozenset(names)


def required_text(raw: RawNode | None, what: str, file: str, problems: list[Problem]) -> str:
    """A required text field as a string; a missing or non-text one is a problem."""
    if raw is None:
        return ""
    if not isinstance(raw.value, str):
        problems.append(Problem(file, raw.line, f"{what} must be text"))
        return ""
    return raw.value.strip()
