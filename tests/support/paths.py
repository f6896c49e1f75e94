"""Where the checkout is and the fixed moment tests run at, for tests and their helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)

CONTENT_DIRS: dict[str, str] = {
    "dialogs_dir": str(ROOT / "dialogs"),
    "locales_dir": str(ROOT / "locales"),
    # One model cache for the whole run, whatever a process's cwd: the suite trains once, and
    # a `kyrbot serve` started by a test loads the model instead of training it again.
    "cache_dir": str(ROOT / "data" / "cache"),
}
"""The ``content`` config section for this checkout, for tests and the processes they start."""
