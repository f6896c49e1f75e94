"""What the voice channel can do, as data: it answers calls and sends nothing on its own."""

from __future__ import annotations

from typing import Final

from bot.channels.capabilities import Capabilities

CHANNEL: Final = "voice"
"""The :attr:`~bot.messages.Address.channel` of every caller."""

VOICE_CAPABILITIES: Final = Capabilities(
    buttons=False,
    max_text_length=3000,  # Amazon Polly voices read at most 3,000 characters per <Say>
    display_name="Voice",
)
"""What the voice channel can do: no buttons, no delivery reports, no sending of its own."""
