"""``kyrbot check``: load the content and run every check on it."""

from __future__ import annotations

from bot.checks.catalogs import check_translations, coverage, expected_texts
from bot.checks.examples import check_examples, check_numbers
from bot.checks.report import CheckReport
from bot.checks.sms import check_pages, check_system_sms
from bot.checks.voice import check_voice
from bot.config import Config
from bot.content.i18n import SOURCE_LOCALE
from bot.conversation.version import load_content
from bot.errors import ContentError


def run_checks(config: Config, *, only_locale: str | None = None) -> CheckReport:
    """Check dialogs and catalogs against each other and against the SMS budget."""
    import time

    started = time.perf_counter()
    report = CheckReport()
    try:
        content = load_content(config)
    except ContentError as exc:
        report.errors.extend(exc.problems)
        report.seconds = time.perf_counter() - started
        return report
    locales = [loc for loc in config.locales if only_locale in (None, loc)]
    expected = expected_texts(content)
    for locale in locales:
        if locale == SOURCE_LOCALE:
            continue
        catalog = content.catalogs[locale].catalog
        assert catalog is not None
        path = content.catalogs[locale].path
        report.locales[locale] = coverage(catalog, path, locale, expected, report)
        check_translations(catalog, path, locale, expected, report)
    check_pages(content, config, locales, report)
    check_system_sms(content, config, locales, report)
    check_voice(content, config, locales, report)
    check_examples(content, locales, report)
    check_numbers(config, report)
    report.seconds = time.perf_counter() - started
    return report
