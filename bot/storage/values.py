"""The checks every store applies to what it is given: aware datetimes and strict JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact, strict JSON, as stored for session states and JSON columns.

    Raises:
        TypeError: ``value`` is not JSON data.
        ValueError: it holds NaN or infinity.
    """
    return _ENCODER.encode(value)


def aware(value: datetime, name: str) -> datetime:
    """``value``, checked to be timezone-aware.

    Raises:
        ValueError: it is naive (``name`` says which argument it was).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value
