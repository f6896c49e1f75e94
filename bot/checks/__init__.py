"""Everything ``kyrbot check`` reports about content, for authors and translators."""

from bot.checks.report import CheckReport, format_report
from bot.checks.run import run_checks

__all__ = ["CheckReport", "format_report", "run_checks"]
