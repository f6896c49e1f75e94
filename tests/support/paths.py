"""Where the checkout is and the fixed moment tests run at, for tests and their helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
