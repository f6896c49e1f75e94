"""Replies rendered straight to ``sendMessage`` parameters: what PTB's objects would send."""

from __future__ import annotations

import json
from typing import Any

import pytest
from telegram.error import TelegramError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.render import NO_PREVIEW, render_reply, reply_to_markup
from bot.channels.telegram.wire import keyboard_json, send_message, send_parameters, wire_parts
from bot.messages import Choice, Reply

REPLY = Reply(
    text="¿Qué quieres saber? «SOP 130» 👮\n\nElige una opción.",
    choices=(Choice("what", "Qué dice SOP 130"), Choice("warrants", "Órdenes judiciales")),
    nav=(Choice("c:menu", "Menú"), Choice("c:lang", "English")),
    locale="es",
)


def _decoded(parameters: dict[str, str]) -> dict[str, Any]:
    return {
        name: value if name == "text" else json.loads(value) for name, value in parameters.items()
    }


@pytest.mark.parametrize("reply", [REPLY, Reply(text="hola"), Reply(text="x " * 3000)])
def test_the_parameters_are_those_send_message_would_post(reply: Reply):
    ptb_parts = render_reply(reply)
    ours = wire_parts(reply)
    assert [text for text, _ in ours] == [text for text, _ in ptb_parts]
    for (text, markup), part in zip(ptb_parts, ours, strict=True):
        # What Bot.send_message hands its request object, with no defaults configured.
        values = {"chat_id": 4242, "text": text, "link_preview_options": NO_PREVIEW}
        if markup is not None:
            values["reply_markup"] = markup
        ptb = RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])
        assert _decoded(send_parameters(4242, part).json_parameters) == _decoded(
            ptb.json_parameters
        )


def test_the_keyboard_has_one_choice_per_row_then_the_navigation():
    keyboard = keyboard_json(REPLY)
    assert keyboard is not None
    markup = reply_to_markup(REPLY)
    assert markup is not None
    assert json.loads(keyboard) == markup.to_dict()
    assert [len(row) for row in json.loads(keyboard)["inline_keyboard"]] == [1, 1, 2]
    assert keyboard_json(Reply(text="hola")) is None


def test_an_overlong_choice_id_is_refused():
    with pytest.raises(ValueError, match="bytes of UTF-8"):
        wire_parts(Reply(text="x", choices=(Choice("ñ" * 33, "label"),)))


class _Request:
    def __init__(self, answer: object) -> None:
        self.answer = answer

    async def post(self, url: str, request_data: RequestData) -> object:
        return self.answer


class _Bot:
    base_url = "http://127.0.0.1:9/botTOKEN"

    def __init__(self, answer: object) -> None:
        self.request = _Request(answer)


async def test_the_message_id_is_read_from_the_answer():
    assert await send_message(_Bot({"message_id": 7, "chat": {}}), 1, ("hola", None)) == 7  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", [{}, {"message_id": "7"}, {"message_id": True}, [1], True])
async def test_an_answer_without_a_message_id_is_a_telegram_error(answer: object):
    with pytest.raises(TelegramError):
        await send_message(_Bot(answer), 1, ("hola", None))  # type: ignore[arg-type]
