"""The rules a dialog graph meets: targets, menu size, placeholders, reachability, a way back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.config import PLACEHOLDER_NAMES
from bot.errors import Problem

if TYPE_CHECKING:
    from bot.content.dialogs import Node

MAX_CHOICES = 9
"""A numbered SMS menu is answered with one digit, and 0 is the main menu."""

MAX_CALLBACK_BYTES = 64
"""Telegram's limit for a button's callback data."""

SYSTEM_PLACEHOLDERS: frozenset[str] = frozenset({"last_reviewed", "legal_review"})
"""Placeholders the bot fills itself (not from ``organization.*``)."""


def validate_graph(
    nodes: Mapping[str, Node], main_menu: str, roles: Mapping[str, str], problems: list[Problem]
) -> None:
    """Append to ``problems`` every way the parsed ``nodes`` break the graph rules."""
    known = PLACEHOLDER_NAMES | SYSTEM_PLACEHOLDERS
    for node in nodes.values():
        for choice in node.choices:
            if choice.target not in nodes:
                problems.append(
                    Problem(
                        node.file,
                        choice.line,
                        f"choice {choice.label!r} jumps to unknown node {choice.target!r}",
                        hint="check the spelling of 'go:'",
                        code="unknown_target",
                    )
                )
            if len(choice.choice_id.encode()) > MAX_CALLBACK_BYTES:
                problems.append(
                    Problem(
                        node.file,
                        choice.line,
                        f"button id {choice.choice_id!r} is over {MAX_CALLBACK_BYTES} bytes",
                        hint="use shorter dialog and node ids",
                    )
                )
        if node.more is not None and node.more not in nodes:
            problems.append(
                Problem(
                    node.file,
                    node.line,
                    f"'more:' jumps to unknown node {node.more!r}",
                    code="unknown_target",
                )
            )
        count = len(node.choices) + (1 if node.more else 0)
        if count > MAX_CHOICES:
            problems.append(
                Problem(
                    node.file,
                    node.line,
                    f"node {node.name!r} offers {count} choices; an SMS menu carries at most "
                    f"{MAX_CHOICES}",
                    hint="split it into a 'more' page",
                    code="too_many_choices",
                )
            )
        for name in sorted(node.placeholders - known):
            problems.append(
                Problem(
                    node.file,
                    node.line,
                    f"unknown placeholder {{{name}}} in node {node.name!r}",
                    hint=f"known: {', '.join('{' + k + '}' for k in sorted(known))}",
                    code="unknown_placeholder",
                )
            )
    if problems:
        return
    # Reachability: from the main menu by choices and 'more', plus the entry points that
    # work from anywhere (role nodes, action nodes for commands, keyword-routed topics).
    entry = {main_menu, *roles.values()}
    entry |= {n.id for n in nodes.values() if n.action or (n.keywords and n.routable)}
    reached = _closure(entry, nodes)
    for node in nodes.values():
        if node.id not in reached:
            problems.append(
                Problem(
                    node.file,
                    node.line,
                    f"node {node.name!r} cannot be reached",
                    hint="link it from a choice or 'more:', or give it keywords",
                    code="unreachable",
                )
            )
    # A way back: every node shows the menu navigation, or leads by its choices to a node
    # that does (or to the menu itself).
    for node in nodes.values():
        if node.nav or node.id == main_menu:
            continue
        if not any(
            nodes[t].nav or t == main_menu for t in _closure({node.id}, nodes) if t != node.id
        ):
            problems.append(
                Problem(
                    node.file,
                    node.line,
                    f"node {node.name!r} is a dead end: 'nav: false' and no choice leads back",
                    hint="add a choice back to the menu, or remove 'nav: false'",
                    code="dead_end",
                )
            )


def _closure(start: set[str], nodes: Mapping[str, Node]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        current = stack.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        node = nodes[current]
        stack.extend(c.target for c in node.choices)
        if node.more:
            stack.append(node.more)
    return seen
