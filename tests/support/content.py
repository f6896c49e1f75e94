"""Facts about the shipped content that several tests rely on: stable ids, the menu's choices."""

from __future__ import annotations

from bot.conversation.engine import Engine

STABLE = [
    "menu",
    "sop130",
    "warrants",
    "door",
    "traffic_stop",
    "arrested",
    "not_covered",
    "report",
    "u_visa",
    "emergency",
    "updates",
    "subscribe",
    "about",
]
"""Node names of the main dialog that tests, deep links, counters and translations use."""

MENU = "kyr.menu"


def menu_choice_ids(engine: Engine) -> list[str]:
    menu = engine.dialogs.node(MENU)
    return [c.choice_id for c in menu.choices] + ([f"n:{menu.more}"] if menu.more else [])
