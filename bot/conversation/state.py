"""What the engine reads and returns: saved state, an event, reply plans, a step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.content.strings import Text
from bot.messages import InboundKind

HISTORY_LIMIT = 12

_T = TypeVar("_T")


def evolve(record: _T, **changes: Any) -> _T:
    """A copy of a frozen slotted dataclass with ``changes``: ``dataclasses.replace``, faster.

    The engine copies its state several times a message; ``dataclasses.replace`` looks the
    fields up each time, and was a tenth of a step. Each class gets a copier written for its
    fields once (as ``dataclasses`` writes ``__init__``), taking the changes as keyword
    arguments, so a field that is not changed costs one slot read and one slot write.
    """
    cls = type(record)
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _copier(cls)
    try:
        copied: _T = copier(record, **changes)
    except TypeError:
        slots: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
        unknown = sorted(changes.keys() - set(slots))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}") from None
        raise
    return copied


_COPIERS: dict[type, Callable[..., Any]] = {}
_UNCHANGED = object()


def _copier(cls: type) -> Callable[..., Any]:
    slots: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    # Slot descriptors set a field directly, past the frozen class's __setattr__.
    setters = {f"__set_{name}": getattr(cls, name).__set__ for name in slots}
    # The generated code's own names start with "__", which no field's does.
    parameters = ", ".join(f"{name}=__unchanged" for name in slots)
    body = [
        f"    __set_{name}(__new, __record.{name} if {name} is __unchanged else {name})"
        for name in slots
    ]
    source = "\n".join(
        [
            f"def copy(__record, /, *, {parameters}):",
            "    __new = __create(__cls)",
            *body,
            "    return __new",
        ]
    )
    namespace: dict[str, Any] = {
        "__create": object.__new__,
        "__cls": cls,
        "__unchanged": _UNCHANGED,
        **setters,
    }
    exec(source, namespace)  # noqa: S102 - generated from the class's own field names
    copier: Callable[..., Any] = namespace["copy"]
    return copier


@dataclass(frozen=True, slots=True)
class State:
    """What the bot remembers of one conversation between messages (stored as JSON)."""

    node: str | None = None
    history: tuple[str, ...] = ()
    locale: str | None = None
    misses: int = 0
    awaiting_language: bool = False
    pending: str | None = None
    """A node to show once the person has chosen a language (a deep link, a question)."""
    disclaimer_shown: bool = False
    last_at: datetime | None = None
    offered: tuple[str, ...] = ()
    """Choice ids of an ask-back, so its numbers mean the topics it offered."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data for storage."""
        return {
            "node": self.node,
            "history": list(self.history),
            "locale": self.locale,
            "misses": self.misses,
            "awaiting_language": self.awaiting_language,
            "pending": self.pending,
            "disclaimer_shown": self.disclaimer_shown,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "offered": list(self.offered),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, *, locale: str | None = None) -> State:
        """Rebuild a state; anything unexpected gives a fresh state (never an error)."""
        if not data:
            return cls(locale=locale)
        try:
            last = data.get("last_at")
            history = data.get("history") or []
            return cls(
                node=_str_or_none(data.get("node")),
                history=tuple(map(str, history))[-HISTORY_LIMIT:],
                locale=_str_or_none(data.get("locale")) or locale,
                misses=int(data.get("misses") or 0),
                awaiting_language=bool(data.get("awaiting_language")),
                pending=_str_or_none(data.get("pending")),
                disclaimer_shown=bool(data.get("disclaimer_shown")),
                last_at=datetime.fromisoformat(last) if isinstance(last, str) else None,
                offered=tuple(map(str, data.get("offered") or ()))[:9],
            )
        except (TypeError, ValueError, AttributeError):
            return cls(locale=locale)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Event:
    """One input to the engine, with the little it needs to know about the contact."""

    now: datetime
    text: str = ""
    kind: InboundKind = InboundKind.TEXT
    choice_id: str | None = None
    command: str | None = None
    locale_hint: str | None = None
    group_chat: bool = False
    channel: str = "terminal"
    carrier_help: bool = False
    """HELP gets the carriers' short service notice instead of the help page (SMS)."""
    opted_out: bool = False
    subscribed: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    """One paragraph of a reply: a translatable text, optionally in a fixed locale."""

    text: Text
    locale: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    """Values for the text's own ``{placeholders}`` (a count, a date), filled before config's."""


@dataclass(frozen=True, slots=True)
class ChoicePlan:
    """A choice to offer: the id a button carries and its label's translatable text."""

    id: str
    label: Text
    locale: str | None = None
    """Translate the label into this locale rather than the reader's (language names)."""


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """One message to send, before translation and rendering."""

    lines: tuple[Line, ...]
    choices: tuple[ChoicePlan, ...] = ()
    nav: tuple[ChoicePlan, ...] = ()
    node: str | None = None
    show_updates: bool = False
    """Append the archive of sent policy updates (the ``updates`` topic)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A topic a message may mean, with the model's probability."""

    node: str
    probability: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What one free-text message means (see :mod:`bot.conversation.understanding`)."""

    node: str | None
    """The page to show (qualified id), or ``None`` (ask back, out of scope, not understood)."""
    score: float
    confident: bool
    decided_by: str
    """``command``, ``urgency``, ``model``, ``keywords`` or ``fallback``."""
    candidates: tuple[Candidate, ...] = ()
    """The likeliest topics, best first; on an ask-back, the ones offered."""
    command: str | None = None
    ask_back: bool = False
    out_of_scope: bool = False
    """The model is confident no topic answers this (other legal help, city services...)."""


@dataclass(frozen=True, slots=True)
class Step:
    """The engine's answer to one event."""

    state: State | None
    """The state to save; ``None`` means forget the contact entirely."""
    replies: tuple[ReplyPlan, ...]
    actions: tuple[str, ...] = ()
    """Side effects for the service: subscribe, unsubscribe, opt_out, opt_in, forget."""
    topic: str | None = None
    """The node shown, for the aggregate topic counters."""
    route_score: float | None = None
    decision: Decision | None = None
    """How free text was understood, when the step came from free text."""
