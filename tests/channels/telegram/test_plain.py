"""Plain private texts read without PTB's objects: the same event, and nothing else read so."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram.plain import plain_text
from bot.channels.telegram.render import update_to_inbound

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _update(text: str = "hola", **user: Any) -> dict[str, Any]:
    sender = {"id": 42, "is_bot": False, "first_name": "Ana", **user}
    return {
        "update_id": 7,
        "message": {
            "message_id": 100,
            "date": 1_796_145_311,
            "chat": {"id": 42, "type": "private", "first_name": "Ana"},
            "from": sender,
            "text": text,
        },
    }


@pytest.mark.parametrize(
    "data",
    [
        _update(),
        _update("¿qué es una orden judicial? 👮", language_code="es-419"),
        _update("", language_code="en", last_name="López", username="ana", is_premium=True),
        _update("/start"),  # no bot_command entity: Telegram's clients mark every command
        _update("x" * 4096, language_code="es"),
    ],
)
def test_the_event_is_the_one_ptb_objects_give(data: dict[str, Any]):
    plain = plain_text(copy.deepcopy(data))
    assert plain is not None
    expected = update_to_inbound(Update.de_json(data, Bot("1:x")), now=NOW)
    assert plain.inbound(NOW) == expected
    assert plain.chat_id == 42
    assert plain.data == data


def _with(path: str, value: Any) -> dict[str, Any]:
    data = _update()
    *parents, last = path.split(".")
    holder = data
    for key in parents:
        holder = holder[key]
    if value is KeyError:
        del holder[last]
    else:
        holder[last] = value
    return data


@pytest.mark.parametrize(
    "data",
    [
        _with("edited_message", {}),
        _with("message.entities", [{"type": "bot_command", "offset": 0, "length": 6}]),
        _with("message.reply_to_message", {"message_id": 1}),
        _with("message.photo", []),
        _with("message.chat.type", "group"),
        _with("message.chat.id", 43),
        _with("message.chat.id", "42"),
        _with("message.chat.title", "a group"),
        _with("message.chat", KeyError),
        _with("message.from", KeyError),
        _with("message.from.id", True),
        _with("message.from.id", 42.0),
        _with("message.from.is_bot", True),
        _with("message.from.first_name", KeyError),
        _with("message.from.first_name", 5),
        _with("message.from.language_code", None),
        _with("message.from.language_code", ["es"]),
        _with("message.from.is_premium", "yes"),
        _with("message.from.can_join_groups", True),
        _with("message.text", 123),
        _with("message.text", None),
        _with("message.date", 1.5),
        _with("message.date", -1),
        _with("message.date", 10**20),
        _with("message.message_id", "100"),
        _with("update_id", True),
        _with("message", []),
    ],
)
def test_anything_else_goes_through_ptb_and_its_checks(data: dict[str, Any]):
    assert plain_text(data) is None
