"""Catalogs (PO files read at start-up), per-reader translation and locale negotiation."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel.core import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from bot.content.strings import Text
from bot.errors import CatalogError, Problem

logger = logging.getLogger(__name__)

SOURCE_LOCALE = "en"
DOMAIN = "messages"


def babel_knows(locale: str) -> bool:
    """Whether Babel has CLDR data for ``locale`` (Hmong, for one, is not in CLDR)."""
    try:
        Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def babel_locale(locale: str, fallback: str = SOURCE_LOCALE) -> str:
    """``locale`` in Babel's spelling, or ``fallback`` when CLDR has no data for it."""
    return locale.replace("-", "_") if babel_knows(locale) else fallback


def po_path(locales_dir: Path, locale: str) -> Path:
    """Where a locale's catalog lives."""
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True)
class LocaleCatalog:
    """One language's usable translations: ``(msgctxt, msgid) -> msgstr``.

    Fuzzy and empty entries are left out, so a stale translation is never shown.
    """

    locale: str
    messages: Mapping[tuple[str | None, str], str]
    path: str = ""
    catalog: Catalog | None = field(default=None, compare=False, repr=False)


_PO_LINE = re.compile(
    r'^(?:#.*|(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+".*"|".*")?\s*$'
)


def _lint_po(text: str, shown: str) -> None:
    """Reject what Babel's lenient parser lets through: stray lines, a second ``msgstr``."""
    previous = ""
    for number, line in enumerate(text.splitlines(), 1):
        keyword = line.split(" ", 1)[0] if line.startswith("msg") else ""
        if keyword == "msgstr" and previous == "msgstr":
            raise CatalogError(
                [
                    Problem(
                        shown,
                        number,
                        "PO syntax error: a second msgstr for the same entry",
                        hint="each entry has one msgid and one msgstr",
                    )
                ]
            )
        if keyword:
            previous = keyword
        if not _PO_LINE.match(line):
            raise CatalogError(
                [
                    Problem(
                        shown,
                        number,
                        f"PO syntax error: not a comment, keyword or quoted string: {line[:60]!r}",
                        hint='every text line is in double quotes, e.g. msgstr "..."',
                    )
                ]
            )


def read_catalog(path: Path, locale: str, *, display: str | None = None) -> LocaleCatalog:
    """Parse one PO file.

    Raises:
        CatalogError: with file:line when the file cannot be read or is not valid PO.
    """
    shown = display or str(path)
    try:
        raw = path.read_bytes()
        _lint_po(raw.decode("utf-8"), shown)
        known = locale.replace("-", "_") if babel_knows(locale) else None
        catalog = read_po(io.BytesIO(raw), locale=known, abort_invalid=True)
    except FileNotFoundError:
        raise CatalogError(
            [
                Problem(
                    shown,
                    0,
                    f"no catalog for locale {locale!r}",
                    hint=f"kyrbot i18n init {locale}",
                )
            ]
        ) from None
    except PoFileError as exc:
        # Babel numbers PO lines from 0.
        raise CatalogError(
            [
                Problem(
                    shown, exc.lineno + 1, f"PO syntax error: {exc.args[0].rsplit(' on ', 1)[0]}"
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogError([Problem(shown, 0, f"cannot read the catalog: {exc}")]) from None
    messages: dict[tuple[str | None, str], str] = {}
    for message in catalog:
        if not isinstance(message.id, str) or not message.id or message.fuzzy:
            continue
        if isinstance(message.string, str) and message.string:
            messages[(message.context, message.id)] = message.string
    return LocaleCatalog(locale=locale, messages=messages, path=shown, catalog=catalog)


def load_catalogs(
    locales_dir: Path, locales: Iterable[str], *, base: Path | None = None
) -> dict[str, LocaleCatalog]:
    """Read the catalog of every configured locale except the English source.

    Raises:
        CatalogError: listing the problems of every broken catalog.
    """
    catalogs: dict[str, LocaleCatalog] = {SOURCE_LOCALE: LocaleCatalog(SOURCE_LOCALE, {})}
    problems: list[Problem] = []
    for locale in locales:
        if locale == SOURCE_LOCALE:
            continue
        path = po_path(locales_dir, locale)
        try:
            catalogs[locale] = read_catalog(path, locale, display=_display(path, base))
        except CatalogError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CatalogError(problems)
    return catalogs


def _display(path: Path, base: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


class Translator:
    """Looks up translations for an explicitly given locale; never a global "current language".

    A missing translation falls back to the English source text; each fallback is counted
    (``fallbacks``) and logged once per string.
    """

    def __init__(self, catalogs: Mapping[str, LocaleCatalog], *, default_locale: str) -> None:
        self._catalogs = dict(catalogs)
        self.default_locale = default_locale
        self.fallbacks: Counter[str] = Counter()
        self._logged: set[tuple[str, str | None, str]] = set()

    @property
    def locales(self) -> tuple[str, ...]:
        """Every locale with a catalog, English first."""
        return tuple(self._catalogs)

    def gettext(self, locale: str, context: str | None, msgid: str) -> str:
        """The translation of ``msgid`` in ``context`` for ``locale``, or the English text."""
        if locale == SOURCE_LOCALE:
            return msgid
        catalog = self._catalogs.get(locale)
        if catalog is not None:
            found = catalog.messages.get((context, msgid))
            if found is not None:
                return found
        self.fallbacks[locale] += 1
        key = (locale, context, msgid)
        if key not in self._logged:
            self._logged.add(key)
            logger.warning("No %s translation for %s; using English", locale, context)
        return msgid

    def text(self, locale: str, text: Text) -> str:
        """Translate a :class:`bot.content.strings.Text` entry."""
        return self.gettext(locale, text.context, text.msgid)

    def all_translations(self, context: str | None, msgid: str) -> dict[str, str]:
        """This string in every locale (English included), for matching input in any language."""
        return {locale: self.gettext_quiet(locale, context, msgid) for locale in self._catalogs}

    def gettext_quiet(self, locale: str, context: str | None, msgid: str) -> str:
        """Like :meth:`gettext` but neither counts nor logs a fallback (for building indexes)."""
        if locale == SOURCE_LOCALE:
            return msgid
        catalog = self._catalogs.get(locale)
        if catalog is None:
            return msgid
        return catalog.messages.get((context, msgid), msgid)

    def has(self, locale: str, context: str | None, msgid: str) -> bool:
        """Whether ``locale`` has its own translation of this string."""
        if locale == SOURCE_LOCALE:
            return True
        catalog = self._catalogs.get(locale)
        return catalog is not None and (context, msgid) in catalog.messages

    def negotiate(self, hint: str | None) -> str | None:
        """The configured locale that best fits a platform language tag, or None.

        Telegram sends tags like ``es-419``; Babel negotiates on ``-`` after normalising.
        """
        if not hint:
            return None
        tag = hint.strip().replace("_", "-")
        if not tag:
            return None
        found = negotiate_locale([tag], list(self._catalogs), sep="-")
        if found is None:
            found = negotiate_locale([tag.split("-")[0]], list(self._catalogs), sep="-")
        return found
