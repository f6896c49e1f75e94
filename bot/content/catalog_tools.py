"""``kyrbot i18n``: the gettext round trip (extract, update, init) and coverage statistics."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from bot.config import Config
from bot.content.i18n import DOMAIN, babel_knows

PROJECT = "kyrbot"


@dataclass(frozen=True)
class I18nPaths:
    """Where the template and catalogs live, from config."""

    root: Path
    locales_dir: Path
    mapping: Path

    @property
    def template(self) -> Path:
        """The extracted template every catalog is updated from."""
        return self.locales_dir / f"{DOMAIN}.pot"


def paths_for(config: Config, root: Path | None = None) -> I18nPaths:
    """The project's i18n paths, relative to ``root`` (default: the cwd)."""
    base = root or Path.cwd()
    return I18nPaths(base, base / config.content.locales_dir, base / "babel.cfg")


class I18nError(Exception):
    """A pybabel step failed; the message says why."""


def _pybabel(args: list[str], root: Path) -> str:
    """Run a pybabel command in-process (same interpreter, same installed extractor)."""
    out = io.StringIO()
    try:
        with (
            contextlib.chdir(root),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]
    except SystemExit as exc:
        if exc.code:
            raise I18nError(out.getvalue().strip() or f"pybabel {args[0]} failed") from None
    except Exception as exc:
        raise I18nError(f"pybabel {args[0]} failed: {exc}") from None
    return out.getvalue()


def _catalog_args(paths: I18nPaths) -> list[str]:
    """The template and catalog folder arguments every catalog command takes."""
    return [
        "-i",
        str(paths.template.relative_to(paths.root)),
        "-d",
        str(paths.locales_dir.relative_to(paths.root)),
        "-D",
        DOMAIN,
    ]


def extract(paths: I18nPaths) -> str:
    """Write the template from the dialogs and the code strings (``pybabel extract``)."""
    return _pybabel(
        [
            "extract",
            "-F",
            str(paths.mapping.relative_to(paths.root)),
            "-o",
            str(paths.template.relative_to(paths.root)),
            "--no-wrap",
            "--sort-by-file",
            "-c",
            "Translators:",
            "--project",
            PROJECT,
            "--charset=utf-8",
            ".",
        ],
        paths.root,
    )


def update(paths: I18nPaths, locale: str | None = None) -> str:
    """Merge the template into the catalogs; changed English marks translations fuzzy.

    Babel's ``--previous`` (the old English as ``#|`` comments) is not used: Babel wraps
    long previous msgids into lines GNU msgfmt rejects, and a broken file is worse than a
    missing hint.
    """
    args = ["update", *_catalog_args(paths), "--no-wrap"]
    if locale:
        args += ["-l", locale]
    return _pybabel(args, paths.root)


def init(paths: I18nPaths, locale: str) -> str:
    """Start a catalog for a new language from the template.

    Babel's ``init`` needs CLDR data for the language; for one CLDR lacks (``hmn``), the
    catalog is written directly with the language code in its header.
    """
    target = paths.locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if target.exists():
        raise I18nError(f"{target} already exists; use 'kyrbot i18n update' instead")
    if babel_knows(locale):
        return _pybabel(["init", *_catalog_args(paths), "-l", locale, "--no-wrap"], paths.root)
    with paths.template.open("rb") as handle:
        catalog = read_po(handle)
    catalog.fuzzy = False
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0)
    text = buffer.getvalue().decode("utf-8")
    header = f'"Language: {locale}\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
    text = text.replace('"MIME-Version: 1.0\\n"\n', header + '"MIME-Version: 1.0\\n"\n', 1)
    target.write_text(text, encoding="utf-8")
    return f"creating catalog {target} (no CLDR data for {locale}: plain header)"
