"""Labelled example messages (``dialogs/examples/<locale>.yaml``) that teach free-text routing.

Each file lists, per label, messages written the way people really text. A label is a node
name of the main dialog (``door``, ``greeting``...) or :data:`OUT_OF_SCOPE` for messages no
topic answers. They are content, not translations: a language has its own examples or none.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import ContentError, Problem

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

OUT_OF_SCOPE = "none"
"""The label of messages that no topic answers (other legal help, city services, spam...)."""

MIN_PER_LABEL = 60
"""Below this many examples a label is reported by ``kyrbot check`` as thin."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message and where it was written."""

    text: str
    label: str
    locale: str
    file: str
    line: int


@dataclass(frozen=True)
class ExampleSet:
    """Every shipped example, by locale; ``digest`` changes whenever any file does."""

    examples: tuple[Example, ...] = ()
    files: tuple[str, ...] = ()
    digest: str = ""
    duplicates: tuple[tuple[Example, Example], ...] = field(default=())
    """Pairs of the same text (ignoring case) filed under two labels in one locale."""

    @property
    def locales(self) -> tuple[str, ...]:
        """Locales that have at least one example."""
        return tuple(sorted({e.locale for e in self.examples}))

    def counts(self, locale: str) -> dict[str, int]:
        """Examples per label for one locale."""
        return dict(Counter(e.label for e in self.examples if e.locale == locale))

    def thin_labels(self, locale: str, labels: Iterable[str]) -> list[str]:
        """The ``labels`` that have fewer than :data:`MIN_PER_LABEL` examples in ``locale``."""
        counts = self.counts(locale)
        return sorted(label for label in labels if counts.get(label, 0) < MIN_PER_LABEL)


def load_examples(
    directory: Path, *, labels: Iterable[str], base: Path | None = None
) -> ExampleSet:
    """Read every ``<locale>.yaml`` in ``directory``; a missing folder means no examples.

    Args:
        directory: the examples folder.
        labels: the labels a file may use (node names of the main dialog), besides
            :data:`OUT_OF_SCOPE`.
        base: paths in messages are shown relative to this folder (default: the cwd).

    Raises:
        ContentError: malformed YAML, a wrong shape, an unknown label or an empty example,
            each at file:line.
    """
    known = {*labels, OUT_OF_SCOPE}
    paths = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    problems: list[Problem] = []
    examples: list[Example] = []
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        display = _display(path, base)
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        examples.extend(
            _parse(raw.decode("utf-8", "replace"), path.stem, display, known, problems)
        )
    if problems:
        raise ContentError(problems)
    return ExampleSet(
        tuple(examples),
        tuple(_display(p, base) for p in paths),
        digest.hexdigest(),
        _duplicates(examples),
    )


def _parse(
    text: str, locale: str, display: str, known: set[str], problems: list[Problem]
) -> list[Example]:
    try:
        # libyaml's composer: the pure-Python one takes about a second for these files.
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problems.append(Problem(display, line, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return []
    top = _mapping(root)
    if top is None:
        problems.append(Problem(display, 1, "the file must be a mapping with 'examples:'"))
        return []
    declared = top.get("locale")
    if declared is not None and str(declared[1].value) != locale:
        problems.append(
            Problem(
                display,
                declared[0],
                f"'locale: {declared[1].value}' does not match the file name ({locale}.yaml)",
            )
        )
    body = top.get("examples")
    labels = _mapping(body[1]) if body is not None else None
    if labels is None:
        problems.append(Problem(display, 1, "'examples:' must map each label to a list"))
        return []
    found: list[Example] = []
    for label, (line, node) in labels.items():
        if label not in known:
            problems.append(
                Problem(
                    display,
                    line,
                    f"unknown label {label!r}",
                    hint=f"use a node name of the main dialog or {OUT_OF_SCOPE!r}",
                    code="unknown_label",
                )
            )
            continue
        if not isinstance(node, yaml.SequenceNode):
            problems.append(Problem(display, line, f"label {label!r} must hold a list"))
            continue
        for item in node.value:
            value = item.value if isinstance(item, yaml.ScalarNode) else None
            if not isinstance(value, str) or not value.strip():
                problems.append(
                    Problem(display, item.start_mark.line + 1, "an example must be text")
                )
                continue
            found.append(Example(value.strip(), label, locale, display, item.start_mark.line + 1))
    return found


def _mapping(node: yaml.Node | None) -> dict[str, tuple[int, yaml.Node]] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return {
        str(key.value): (key.start_mark.line + 1, value)
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _duplicates(examples: Iterable[Example]) -> tuple[tuple[Example, Example], ...]:
    first: dict[tuple[str, str], Example] = {}
    pairs: list[tuple[Example, Example]] = []
    for example in examples:
        key = (example.locale, example.text.casefold())
        seen = first.setdefault(key, example)
        if seen is not example and seen.label != example.label:
            pairs.append((seen, example))
    return tuple(pairs)


def _display(path: Path, base: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
