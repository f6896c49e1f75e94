"""Load and validate ``dialogs/*.yaml`` into an immutable node graph; errors carry file:line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.content.validate import validate_graph
from bot.content.yaml_nodes import RawNode, placeholders_in, required_text, to_raw, unknown_keys
from bot.errors import DialogError, Problem

ACTIONS: frozenset[str] = frozenset({"subscribe", "unsubscribe", "show_updates", "handoff"})

_TOP_KEYS = frozenset({"dialog", "start", "main", "nodes"})
_NODE_KEYS = frozenset(
    {"say", "voice", "choices", "keywords", "note", "action", "more", "nav", "routable"}
)
_CHOICE_KEYS = frozenset({"label", "go", "note"})

ROLE_NODES = ("emergency", "help", "about", "updates", "greeting")
"""Node names in the main dialog that global commands jump to, when present."""


@dataclass(frozen=True, slots=True)
class ChoiceDef:
    """One choice of a node: its English label and the qualified id of the node it opens."""

    label: str
    target: str
    note: str = ""
    line: int = 0

    @property
    def choice_id(self) -> str:
        """The id a button carries (Telegram callback data)."""
        return f"n:{self.target}"


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a dialog. ``id`` is ``"<dialog>.<name>"`` and is stable."""

    id: str
    dialog: str
    name: str
    say: str
    choices: tuple[ChoiceDef, ...] = ()
    keywords: str = ""
    """English keyword phrases, comma separated; other languages come from the catalogs."""
    note: str = ""
    action: str | None = None
    more: str | None = None
    """Qualified id of a continuation page, offered as a "More" choice."""
    nav: bool = True
    """Show the menu/language navigation with this node."""
    routable: bool = True
    """Free-text questions may lead here (when the node has keywords)."""
    file: str = ""
    line: int = 0
    keywords_line: int = 0
    placeholders: frozenset[str] = frozenset()
    voice: str = ""
    """What a phone call says instead of ``say``, where the text reads badly aloud."""
    voice_line: int = 0

    @property
    def say_context(self) -> str:
        """The gettext msgctxt of this node's text."""
        return self.id

    def choice_context(self, choice: ChoiceDef) -> str:
        """The msgctxt of one of this node's choice labels (keyed by target, not position)."""
        return f"{self.id}:choice:{choice.target}"

    @property
    def voice_context(self) -> str:
        """The msgctxt of this node's spoken text."""
        return f"{self.id}:voice"

    @property
    def keywords_context(self) -> str:
        """The msgctxt of this node's keyword list."""
        return f"{self.id}:keywords"


@dataclass(frozen=True)
class DialogSet:
    """Every node of every dialog, validated, with the main menu and role nodes resolved."""

    nodes: Mapping[str, Node]
    main_menu: str
    roles: Mapping[str, str] = field(default_factory=dict)
    """Role name (``emergency``, ``help``, ``about``, ``updates``) to qualified node id."""
    files: tuple[str, ...] = ()

    def node(self, node_id: str) -> Node:
        """The node with this qualified id (KeyError if none)."""
        return self.nodes[node_id]

    def node_for_action(self, action: str) -> Node | None:
        """The first node (in file order) that performs ``action``."""
        for node in self.nodes.values():
            if node.action == action:
                return node
        return None

    def role(self, name: str) -> str | None:
        """The node id that plays ``name``, if the content has one."""
        return self.roles.get(name)


def _qualify(target: str, dialog: str) -> str:
    return target if "." in target else f"{dialog}.{target}"


def _parse_file(path: Path, display: str, problems: list[Problem]) -> tuple[str, bool, list[Node]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(display, 0, f"cannot read: {exc}"))
        return "", False, []
    return parse_dialog_text(text, display, problems)


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The composed document: libyaml's loader where there is one (five times as fast at start).

    A file it refuses is composed again by PyYAML's own loader, so a syntax error reads as it
    always has (the two word some errors differently).
    """
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_dialog_text(
    text: str, display: str, problems: list[Problem]
) -> tuple[str, bool, list[Node]]:
    """Parse one dialog file's text into ``(dialog name, is main, nodes)``.

    Problems are appended to ``problems``; graph-wide checks happen in :func:`parse_dialogs`.
    """
    try:
        composed = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark.line + 1 != line:
            problem = f"{problem} ({context} that starts on line {context_mark.line + 1})"
        problems.append(
            Problem(
                display, line, f"YAML syntax error: {problem}", hint="check indentation and quotes"
            )
        )
        return "", False, []
    if composed is None:
        problems.append(Problem(display, 1, "the file is empty"))
        return "", False, []
    top = to_raw(composed, display, problems)
    if not isinstance(top.value, dict):
        problems.append(Problem(display, top.line, "the top level must be a mapping"))
        return "", False, []
    top_map: dict[str, RawNode] = top.value
    unknown_keys(top_map, _TOP_KEYS, "", display, problems)
    dialog = required_text(top_map.get("dialog"), "dialog", display, problems)
    if not dialog or not dialog.replace("_", "").isalnum() or not dialog.isascii():
        problems.append(
            Problem(
                display, top.line, "missing or invalid 'dialog:' name", hint="e.g. dialog: kyr"
            )
        )
        return "", False, []
    is_main = bool(top_map["main"].value) if "main" in top_map else False
    nodes_raw = top_map.get("nodes")
    if nodes_raw is None or not isinstance(nodes_raw.value, dict) or not nodes_raw.value:
        problems.append(Problem(display, top.line, "'nodes:' must map node ids to nodes"))
        return dialog, is_main, []
    start_raw = top_map.get("start")
    start = required_text(start_raw, "start", display, problems)
    if not start:
        problems.append(
            Problem(display, top.line, "missing 'start:' node", hint="name the first node shown")
        )
    elif start not in nodes_raw.value:
        problems.append(
            Problem(
                display,
                start_raw.line if start_raw else top.line,
                f"start node {start!r} is not defined",
                code="missing_start",
            )
        )
    nodes: list[Node] = []
    for name, raw_node in nodes_raw.value.items():
        node = _parse_node(dialog, name, raw_node, display, problems)
        if node is not None:
            nodes.append(node)
    if start and start in nodes_raw.value and nodes and nodes[0].name != start:
        # Keep the start node first: file order is the author's, but the start matters most.
        nodes.sort(key=lambda n: n.name != start)
    return dialog, is_main, nodes


def _parse_node(
    dialog: str, name: str, raw: RawNode, file: str, problems: list[Problem]
) -> Node | None:
    if not name.replace("_", "").isalnum() or not name.isascii():
        problems.append(
            Problem(file, raw.line, f"node id {name!r} must be letters, digits and _ only")
        )
        return None
    if not isinstance(raw.value, dict):
        problems.append(Problem(file, raw.line, f"node {name!r} must be a mapping"))
        return None
    fields: dict[str, RawNode] = raw.value
    unknown_keys(fields, _NODE_KEYS, f" in node {name!r}", file, problems)
    say = required_text(fields.get("say"), "say", file, problems)
    if not say:
        problems.append(Problem(file, raw.line, f"node {name!r} has no 'say:' text"))
    placeholders = placeholders_in(
        say, file, fields["say"].line if "say" in fields else raw.line, problems
    )
    voice_raw = fields.get("voice")
    voice = required_text(voice_raw, "voice", file, problems)
    if voice_raw is not None:
        if not voice.strip():
            problems.append(Problem(file, voice_raw.line, f"node {name!r} has an empty 'voice:'"))
        placeholders |= placeholders_in(voice, file, voice_raw.line, problems)
    choices: list[ChoiceDef] = []
    choices_raw = fields.get("choices")
    if choices_raw is not None:
        if not isinstance(choices_raw.value, list):
            problems.append(Problem(file, choices_raw.line, "'choices:' must be a list"))
        else:
            for item in choices_raw.value:
                choice = _parse_choice(dialog, item, file, problems)
                if choice is not None:
                    choices.append(choice)
    action = required_text(fields.get("action"), "action", file, problems) or None
    if action is not None and action not in ACTIONS:
        problems.append(
            Problem(
                file,
                fields["action"].line,
                f"unknown action {action!r}",
                hint=f"one of: {', '.join(sorted(ACTIONS))}",
            )
        )
        action = None
    more = required_text(fields.get("more"), "more", file, problems) or None
    keywords_raw = fields.get("keywords")
    keywords = required_text(keywords_raw, "keywords", file, problems)
    if keywords_raw is not None and not [k for k in keywords.split(",") if k.strip()]:
        problems.append(
            Problem(file, keywords_raw.line, f"node {name!r} has an empty keyword list")
        )
    nav_raw, routable_raw = fields.get("nav"), fields.get("routable")
    return Node(
        id=f"{dialog}.{name}",
        dialog=dialog,
        name=name,
        say=say,
        choices=tuple(choices),
        keywords=keywords,
        note=required_text(fields.get("note"), "note", file, problems),
        action=action,
        more=_qualify(more, dialog) if more else None,
        nav=bool(nav_raw.value) if nav_raw is not None else True,
        routable=bool(routable_raw.value) if routable_raw is not None else True,
        file=file,
        line=raw.line,
        keywords_line=keywords_raw.line if keywords_raw is not None else 0,
        placeholders=placeholders,
        voice=voice,
        voice_line=voice_raw.line if voice_raw is not None else 0,
    )


def _parse_choice(
    dialog: str, item: RawNode, file: str, problems: list[Problem]
) -> ChoiceDef | None:
    if not isinstance(item.value, dict):
        problems.append(
            Problem(file, item.line, "a choice must be a mapping", hint='{label: "...", go: node}')
        )
        return None
    fields: dict[str, RawNode] = item.value
    unknown_keys(fields, _CHOICE_KEYS, " in a choice", file, problems)
    label = required_text(fields.get("label"), "label", file, problems)
    target = required_text(fields.get("go"), "go", file, problems)
    if not label or not target:
        problems.append(Problem(file, item.line, "a choice needs both 'label:' and 'go:'"))
        return None
    return ChoiceDef(
        label=label,
        target=_qualify(target, dialog),
        note=required_text(fields.get("note"), "note", file, problems),
        line=item.line,
    )


def load_dialogs(directory: Path, *, base: Path | None = None) -> DialogSet:
    """Load every ``*.yaml`` file in ``directory`` and validate the whole graph.

    Args:
        directory: the dialogs folder.
        base: paths in messages are shown relative to this folder (default: the cwd).

    Raises:
        DialogError: listing every problem found, each with file:line and a hint.
    """
    paths = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not paths:
        raise DialogError([Problem(str(directory), 0, "no dialog files (*.yaml) found")])
    return parse_dialogs([(p, _display(p, base)) for p in paths])


def _display(path: Path, base: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def parse_dialogs(files: Iterable[tuple[Path, str]]) -> DialogSet:
    """Parse and validate the given ``(path, display name)`` files as one dialog set."""
    problems: list[Problem] = []
    nodes: dict[str, Node] = {}
    main_dialogs: list[tuple[str, str]] = []
    starts: dict[str, str] = {}
    seen_dialogs: dict[str, str] = {}
    displays: list[str] = []
    for path, display in files:
        displays.append(display)
        dialog, is_main, file_nodes = _parse_file(path, display, problems)
        if not dialog:
            continue
        if dialog in seen_dialogs:
            problems.append(
                Problem(
                    display,
                    1,
                    f"dialog {dialog!r} is already defined in {seen_dialogs[dialog]}",
                    code="duplicate",
                )
            )
            continue
        seen_dialogs[dialog] = display
        if file_nodes:
            starts[dialog] = file_nodes[0].id
        if is_main:
            main_dialogs.append((dialog, display))
        for node in file_nodes:
            nodes[node.id] = node
    if not problems and len(main_dialogs) != 1:
        where = ", ".join(d for _, d in main_dialogs) or (displays[0] if displays else "dialogs")
        problems.append(
            Problem(
                where,
                1,
                f"exactly one dialog must say 'main: true' (found {len(main_dialogs)})",
                hint="the main dialog's start node is the main menu",
            )
        )
    if problems:
        raise DialogError(problems)
    main_dialog = main_dialogs[0][0]
    main_menu = starts[main_dialog]
    roles = {
        role: f"{main_dialog}.{role}" for role in ROLE_NODES if f"{main_dialog}.{role}" in nodes
    }
    validate_graph(nodes, main_menu, roles, problems)
    if problems:
        raise DialogError(problems)
    return DialogSet(nodes=nodes, main_menu=main_menu, roles=roles, files=tuple(displays))
