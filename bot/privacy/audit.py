"""What ``kyrbot privacy audit`` looks for: phone numbers, chat ids and message texts at rest.

Three kinds of place are scanned. A SQLite database is read twice: value by value (every
column of every table: numbers, ids and prose where none belongs) and byte by byte, with its
``-wal`` and ``-journal`` files (numbers left in free pages and old page images). Log files
and the config file are read line by line for numbers. The organisation's own numbers and
its organizers' ids (from the config) are allowed; ``canaries`` are strings known to have
been sent (a test's or CI's made-up numbers and texts) and count wherever they appear.
Findings never repeat the value in full.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_PHONE: Final = re.compile(
    rb"(?<![0-9A-Za-z])(?:\+\d[\d ().-]{6,18}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![0-9A-Za-z])"
)
"""A number written as a phone number: ``+1 414...``, ``(414) 555-0101``, ``414.555.0101``."""

_DIGITS: Final = re.compile(rb"(?<![0-9A-Za-z.:_/+-])-?\d{7,15}(?![0-9A-Za-z])")
"""A bare run of 7 to 15 digits: a phone number without its ``+``, or a Telegram id. Runs
inside words, hex strings, decimals and times (after ``.`` or ``:``) are not counted."""

_PROSE: Final = re.compile(r"[^\W\d_]{2,}(?:[ \t]+[^\W\d_]{2,}){3,}")
"""Four or more words in a row: what a person's message looks like, and no stored id does."""

PROSE_ALLOWED: Final = frozenset(
    {("broadcasts", "texts"), ("deliveries", "error"), ("outbox", "payload")}
)
"""Columns that hold prose by design: organizers' broadcast texts, providers' error names, and
the bot's own replies waiting in the outbox (never what a person wrote; deleted once sent)."""

_NUMERIC_COLUMNS: Final = re.compile(r"^(id|.*_id|pid|count|attempts|version|.*_upto)$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that should not be at rest where it was found."""

    where: str
    kind: str
    sample: str
    """The value masked: its first two and last two characters."""

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} ({self.sample})"


def mask(value: str) -> str:
    """A value with all but its first two and last two characters hidden."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def digits_of(value: str) -> str:
    """The digits in ``value`` (``-100123`` and ``+1 (414) 555`` compare by digits)."""
    return "".join(ch for ch in value if ch.isdigit())


class Allowed:
    """The numbers that may appear: the organisation's own and its organizers' ids.

    Compared by digits, and by the last ten digits so ``+1 414...`` matches ``414...``.
    """

    def __init__(self, values: Iterable[str]) -> None:
        self._digits = {d for d in map(digits_of, values) if len(d) >= 5}
        self._tails = {d[-10:] for d in self._digits}

    def __contains__(self, value: str) -> bool:
        digits = digits_of(value)
        return digits in self._digits or digits[-10:] in self._tails


def _numbers(data: bytes, allowed: Allowed) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for pattern, kind in ((_PHONE, "phone number"), (_DIGITS, "phone number or chat id")):
        for match in pattern.finditer(data):
            text = match.group().decode("ascii", "replace")
            if text not in allowed and digits_of(text) not in seen:
                seen.add(digits_of(text))
                yield kind, text


def _canaries(data: bytes, canaries: Sequence[str]) -> Iterator[str]:
    folded = data.lower()
    for canary in canaries:
        if canary.encode("utf-8").lower() in folded:
            yield canary


def scan_bytes(
    where: str, data: bytes, allowed: Allowed, canaries: Sequence[str] = ()
) -> list[Finding]:
    """Findings in raw bytes: numbers, and any canary."""
    found = [Finding(where, kind, mask(text)) for kind, text in _numbers(data, allowed)]
    found += [Finding(where, "canary", mask(c)) for c in _canaries(data, canaries)]
    return found


def scan_text_file(path: Path, allowed: Allowed, canaries: Sequence[str] = ()) -> list[Finding]:
    """Findings in a log or config file, with the line they are on."""
    found: list[Finding] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        return [Finding(str(path), f"unreadable ({exc.strerror})", "")]
    for number, line in enumerate(lines, start=1):
        found += scan_bytes(f"{path}:{number}", line, allowed, canaries)
    return found


def _value_findings(
    where: str, column: tuple[str, str], value: object, allowed: Allowed
) -> Iterator[Finding]:
    if isinstance(value, int) and not isinstance(value, bool):
        plausible = 10**6 <= abs(value) < 10**15 and not _NUMERIC_COLUMNS.match(column[1])
        if plausible and str(value) not in allowed:
            yield Finding(where, "integer like a phone number or chat id", mask(str(value)))
        return
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
        if column not in PROSE_ALLOWED and (match := _PROSE.search(value)):
            yield Finding(where, "text like a message", mask(match.group()))
    else:
        return
    for kind, text in _numbers(data, allowed):
        yield Finding(where, kind, mask(text))


def scan_sqlite_values(path: Path, allowed: Allowed) -> list[Finding]:
    """Findings in every column of every table of a SQLite database (opened read-only)."""
    found: list[Finding] = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 -- names from the file
            names = [d[0] for d in cursor.description]
            for row in cursor:
                for name, value in zip(names, row, strict=True):
                    where = f"{path} {table}.{name}"
                    found += _value_findings(where, (table, name), value, allowed)
    except sqlite3.Error as exc:
        found.append(Finding(str(path), f"not a readable SQLite database ({exc})", ""))
    finally:
        conn.close()
    return found


def scan_database_files(
    path: Path, allowed: Allowed, canaries: Sequence[str] = ()
) -> list[Finding]:
    """Findings in a SQLite database: its values, then its file, WAL and journal raw."""
    found = scan_sqlite_values(path, allowed) if path.exists() else []
    for suffix in ("", "-wal", "-journal"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            found += scan_bytes(str(part), part.read_bytes(), allowed, canaries)
    return found
