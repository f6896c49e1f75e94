"""The base of every config section: unknown keys refused, values frozen once read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: an unknown key is an error, and settings never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
