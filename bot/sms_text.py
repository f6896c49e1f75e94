"""SMS text arithmetic: GSM-7/UCS-2 detection, exact segment counts, accent folding, splitting.

Pure functions with no I/O and no third-party imports, so the terminal preview, ``kyrbot
check`` and the broadcast preview can use them cheaply.

The rules (3GPP TS 23.038, formerly GSM 03.38, and Twilio's documented limits):

* A message is sent in GSM-7 when every character is in the GSM 7-bit default alphabet
  (:data:`GSM7_BASIC`) or its extension table (:data:`GSM7_EXTENSION`). A basic character
  costs one septet; an extension character costs two (an escape plus the character).
* One character outside that set switches the **whole** message to UCS-2, where a character
  costs one UTF-16 code unit, and a character outside the Basic Multilingual Plane (most
  emoji) costs two.
* A single-part message carries 160 septets (GSM-7) or 70 units (UCS-2). A longer message is
  sent as concatenated segments whose header leaves 153 septets or 67 units each; an escape
  pair or a surrogate pair is never split across two segments, so segments are filled greedily.
* Twilio accepts at most 1,600 characters per message body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE: Final = 160
"""Septets in a single-part GSM-7 message."""
GSM7_MULTI: Final = 153
"""Septets per segment of a concatenated GSM-7 message."""
UCS2_SINGLE: Final = 70
"""UTF-16 units in a single-part UCS-2 message."""
UCS2_MULTI: Final = 67
"""UTF-16 units per segment of a concatenated UCS-2 message."""
MAX_MESSAGE_CHARS: Final = 1600
"""Twilio's limit for one message body."""

# The 128 positions of the GSM 7-bit default alphabet in table order (0x00-0x7F), with the
# escape (0x1B) left out because it is not a character. 0x09 maps to U+00C7 (Ç) in the
# standard's Unicode mapping.
GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""Characters of the GSM-7 basic table: one septet each."""

GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")
"""Characters of the GSM-7 extension table: two septets each (escape + character)."""

_GSM7_ALL: Final = GSM7_BASIC | GSM7_EXTENSION

_FOLD_ACCENTS: Final = str.maketrans("áíóúÁÍÓÚ", "aiouAIOU")
_FOLDED: Final = frozenset("áíóúÁÍÓÚ")

# Typographic characters that word processors and translators' tools put in, with plain
# GSM-7 look-alikes. Replacing them changes no meaning, but one of them alone makes a whole
# message UCS-2 (more than twice the segments).
_PLAIN_PUNCTUATION: Final = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2022\u00b7", "-"),
        "\u2026": "...",
        **dict.fromkeys("\u00a0\u2002\u2003\u2007\u2008\u2009\u200a\u202f", " "),
        **dict.fromkeys("\u200b\u00ad\ufeff", None),
    }
)

_PLAIN_REPLACED: Final = frozenset(chr(code) for code in _PLAIN_PUNCTUATION)

_TRAILING_SPACE: Final = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES: Final = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What sending one text as a single SMS costs.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        segments: billable segments; 0 for an empty text.
        characters: Unicode code points in the text.
        units: septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
        non_gsm: the distinct characters that forced UCS-2, in order of appearance
            (empty for GSM-7); ``kyrbot check`` shows them to translators.
    """

    encoding: Encoding
    segments: int
    characters: int
    units: int
    non_gsm: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FoldingCost:
    """The cost of a text as written and with accents folded, for check and broadcast previews.

    Attributes:
        plain: the cost of the text as written (typographic punctuation made plain).
        folded: the cost with á í ó ú written as a i o u.
    """

    plain: SegmentInfo
    folded: SegmentInfo


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 basic or extension table."""
    return set(text) <= _GSM7_ALL


def segment_info(text: str) -> SegmentInfo:
    """Count exactly how many SMS segments ``text`` takes, and in which encoding.

    Args:
        text: the message body as it will be sent.

    Returns:
        The encoding, segment count, code points, units, and the characters that forced UCS-2.
    """
    if not text:
        return SegmentInfo(encoding="GSM-7", segments=0, characters=0, units=0)
    chars = set(text)
    if chars <= _GSM7_ALL:
        doubles = chars & GSM7_EXTENSION
        units = len(text) + sum(text.count(ch) for ch in doubles)
        segments = _segments(text, units, doubles, single=GSM7_SINGLE, multi=GSM7_MULTI)
        return SegmentInfo(encoding="GSM-7", segments=segments, characters=len(text), units=units)
    units = len(text.encode("utf-16-le")) // 2
    doubles = {ch for ch in chars if ord(ch) > 0xFFFF} if units > len(text) else set()
    segments = _segments(text, units, doubles, single=UCS2_SINGLE, multi=UCS2_MULTI)
    non_gsm = tuple(sorted(chars - _GSM7_ALL, key=text.index))
    return SegmentInfo(
        encoding="UCS-2", segments=segments, characters=len(text), units=units, non_gsm=non_gsm
    )


def _segments(text: str, units: int, doubles: set[str], *, single: int, multi: int) -> int:
    """Segments for ``units``, never splitting a two-unit character (one of ``doubles``)."""
    if units <= single:
        return 1
    if not doubles:
        return -(-units // multi)
    segments, used = 1, 0
    for ch in text:
        cost = 2 if ch in doubles else 1
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def fold_accents(text: str) -> str:
    """Write á í ó ú (and capitals) as a i o u, keeping ñ é ü ¿ ¡, which GSM-7 has.

    Args:
        text: Spanish (or any) text, preferably NFC-normalised.

    Returns:
        The text with those four vowels unaccented; everything else unchanged.
    """
    if _FOLDED.isdisjoint(text):
        return text
    return text.translate(_FOLD_ACCENTS)


def plain_punctuation(text: str) -> str:
    """Replace typographic quotes, dashes, ellipses, bullets and odd spaces with GSM-7 ones.

    Args:
        text: any text.

    Returns:
        The text with ‘’ “” «» – — … • · and non-breaking or zero-width spaces made plain.
    """
    if _PLAIN_REPLACED.isdisjoint(text):
        return text
    return text.translate(_PLAIN_PUNCTUATION)


def tidy_whitespace(text: str) -> str:
    """Drop trailing spaces on each line and runs of blank lines; strip both ends.

    Args:
        text: any text.

    Returns:
        The text with no character spent on invisible whitespace.
    """
    text = text.replace("\r\n", "\n")
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def text_variants(text: str, *, fold: bool) -> list[str]:
    """The faithful ways to write ``text``, least changed first.

    The list holds the text as given, then with :func:`plain_punctuation`, then (when
    ``fold``) also with :func:`fold_accents`. Duplicates are removed. A caller picks the first
    variant with the fewest segments, so the text is changed only when that saves a segment.

    Args:
        text: the text to send.
        fold: whether folding á í ó ú is allowed for this text's locale.

    Returns:
        One to three distinct strings.
    """
    variants = [text]
    plain = plain_punctuation(text)
    if plain != text:
        variants.append(plain)
    if fold:
        folded = fold_accents(plain)
        if folded != variants[-1]:
            variants.append(folded)
    return variants


def cheapest(text: str, *, fold: bool) -> str:
    """The first of :func:`text_variants` that needs the fewest segments.

    Args:
        text: the text to send.
        fold: whether folding á í ó ú is allowed.

    Returns:
        ``text`` itself unless a plainer variant saves at least one segment.
    """
    variants = text_variants(text, fold=fold)
    if len(variants) == 1:
        return text
    return min(variants, key=lambda v: segment_info(v).segments)


def folding_cost(text: str) -> FoldingCost:
    """What ``text`` costs without and with accent folding (``sms.fold_accents``).

    Args:
        text: a rendered SMS body.

    Returns:
        Both costs, so a preview can show what folding would save.
    """
    plain = plain_punctuation(text)
    return FoldingCost(plain=segment_info(plain), folded=segment_info(fold_accents(plain)))


def sms_length(text: str) -> int:
    """Length as Twilio's 1,600-character limit is safest counted: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split ``text`` into bodies of at most ``limit`` characters, at paragraph boundaries.

    Paragraphs (separated by a blank line) are packed greedily. A paragraph longer than
    ``limit`` is split at line breaks, then at spaces, and only as a last resort inside a word.

    Args:
        text: the rendered message.
        limit: the most characters (UTF-16 units) one body may hold.

    Returns:
        One or more non-empty bodies; ``[]`` for an empty text.

    Raises:
        ValueError: ``limit`` is smaller than 2.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    text = text.strip()
    if not text:
        return []
    if sms_length(text) <= limit:
        return [text]
    return _pack(text, ("\n\n", "\n", " "), limit)


def _pack(text: str, separators: tuple[str, ...], limit: int) -> list[str]:
    if sms_length(text) <= limit:
        return [text]
    if not separators:
        return _hard_split(text, limit)
    sep, rest = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in text.split(sep):
        piece = piece.strip()
        if not piece:
            continue
        candidate = f"{current}{sep}{piece}" if current else piece
        if sms_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        if sms_length(piece) <= limit:
            current = piece
        else:
            *whole, current = _pack(piece, rest, limit)
            parts.extend(whole)
    if current:
        parts.append(current)
    return parts


def _hard_split(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = 2 if ord(ch) > 0xFFFF else 1
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    if current:
        parts.append("".join(current))
    return parts
