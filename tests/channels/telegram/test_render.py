"""Telegram translation rules, without a server: updates in, keyboards and split text out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import InlineKeyboardButton, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.channels.telegram.errors import retry_after_seconds, send_error
from bot.channels.telegram.render import (
    COMMANDS,
    blocked_address,
    callback_data_fits,
    command_menu,
    render_reply,
    reply_to_markup,
    split_text,
    update_to_inbound,
    utf16_length,
)
from bot.channels.telegram.webhook import validate_webhook_secret
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
)
from bot.messages import Address, Choice, InboundKind, Reply
from tests.fakes.telegram_server import FakeBotApi

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeBotApi:
    """Only the update builders are used here; no server runs."""
    return FakeBotApi()


def inbound(data: dict[str, Any], *, bot_username: str | None = "kyr_test_bot"):
    return update_to_inbound(Update.de_json(data, None), now=NOW, bot_username=bot_username)


# -- update_to_inbound ----------------------------------------------------------------------


def test_text_becomes_text_event_with_update_id_and_language_hint(fake: FakeBotApi) -> None:
    event = inbound(fake.text_update(42, "hola", language_code="es-419", update_id=7))

    assert event is not None
    assert event.address == Address("telegram", "42")
    assert (event.kind, event.text, event.message_id) == (InboundKind.TEXT, "hola", "7")
    assert event.locale_hint == "es-419"
    assert event.received_at == NOW
    assert event.group_chat is False


def test_missing_language_code_gives_no_hint(fake: FakeBotApi) -> None:
    event = inbound(fake.text_update(42, "hola", language_code=None))

    assert event is not None
    assert event.locale_hint is None


@pytest.mark.parametrize("name", COMMANDS)
def test_every_known_command_becomes_a_command_event(fake: FakeBotApi, name: str) -> None:
    event = inbound(fake.text_update(42, f"/{name}"))

    assert event is not None
    assert (event.kind, event.command, event.text) == (InboundKind.COMMAND, name, "")


@pytest.mark.parametrize(
    ("text", "payload"),
    [("/start es", "es"), ("/start en", "en"), ("/start warrants", "warrants"), ("/START", "")],
)
def test_start_deep_link_payload_is_the_event_text(
    fake: FakeBotApi, text: str, payload: str
) -> None:
    event = inbound(fake.text_update(42, text))

    assert event is not None
    assert (event.kind, event.command, event.text) == (InboundKind.COMMAND, "start", payload)


def test_command_addressed_to_this_bot_by_name_is_a_command(fake: FakeBotApi) -> None:
    event = inbound(fake.text_update(-100, "/menu@KYR_test_bot", chat_type="group", user_id=5))

    assert event is not None
    assert (event.kind, event.command, event.group_chat) == (InboundKind.COMMAND, "menu", True)


def test_command_addressed_to_another_bot_is_ignored(fake: FakeBotApi) -> None:
    assert (
        inbound(fake.text_update(-100, "/start@other_bot", chat_type="group", user_id=5)) is None
    )


def test_unknown_command_is_plain_text_for_the_engine(fake: FakeBotApi) -> None:
    event = inbound(fake.text_update(42, "/broadcast hola a todos"))

    assert event is not None
    assert (event.kind, event.command, event.text) == (
        InboundKind.TEXT,
        None,
        "/broadcast hola a todos",
    )


def test_slash_text_without_command_entity_is_plain_text() -> None:
    data = {
        "update_id": 3,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
            "text": "/start",
        },
    }

    event = inbound(data)

    assert event is not None
    assert (event.kind, event.text) == (InboundKind.TEXT, "/start")


def callback(data: str | None, buttons: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 11,
        "date": 0,
        "chat": {"id": 42, "type": "private"},
        "text": "menú",
    }
    if buttons is not None:
        message["reply_markup"] = {
            "inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in buttons]
        }
    query: dict[str, Any] = {
        "id": "q1",
        "chat_instance": "ci",
        "from": {"id": 42, "is_bot": False, "first_name": "Ana", "language_code": "es"},
        "message": message,
    }
    if data is not None:
        query["data"] = data
    return {"update_id": 9, "callback_query": query}


def test_button_press_carries_choice_id_and_the_label_pressed() -> None:
    event = inbound(callback("warrants", [("Qué dice", "what"), ("Órdenes", "warrants")]))

    assert event is not None
    assert (event.kind, event.choice_id, event.text) == (InboundKind.TEXT, "warrants", "Órdenes")
    assert event.address == Address("telegram", "42")
    assert (event.message_id, event.locale_hint) == ("9", "es")


def test_button_press_without_a_findable_label_has_empty_text() -> None:
    event = inbound(callback("warrants"))

    assert event is not None
    assert (event.choice_id, event.text) == ("warrants", "")


def test_button_on_a_message_the_bot_can_no_longer_see_uses_the_person_as_address() -> None:
    data = callback("menu")
    del data["callback_query"]["message"]

    event = inbound(data)

    assert event is not None
    assert (event.address, event.choice_id, event.text) == (Address("telegram", "42"), "menu", "")


def test_button_without_data_is_ignored() -> None:
    assert inbound(callback(None)) is None


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "location"])
def test_media_becomes_media_event(fake: FakeBotApi, kind: str) -> None:
    event = inbound(fake.media_update(42, kind))

    assert event is not None
    assert (event.kind, event.text) == (InboundKind.MEDIA, "")


def test_photo_caption_is_the_media_event_text(fake: FakeBotApi) -> None:
    event = inbound(fake.media_update(42, "photo", caption="mira esto"))

    assert event is not None
    assert (event.kind, event.text) == (InboundKind.MEDIA, "mira esto")


def test_edited_message_is_ignored(fake: FakeBotApi) -> None:
    assert inbound(fake.edited_update(42, "hola otra vez")) is None


def test_service_message_and_channel_post_are_ignored() -> None:
    joined = {
        "update_id": 4,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -100, "type": "group", "title": "Vecinos"},
            "from": {"id": 5, "is_bot": False, "first_name": "Ana"},
            "new_chat_members": [{"id": 999, "is_bot": True, "first_name": "KYR"}],
        },
    }
    post = {
        "update_id": 5,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -200, "type": "channel", "title": "News"},
            "text": "hola",
        },
    }

    assert inbound(joined) is None
    assert inbound(post) is None


def test_supergroup_message_is_marked_group_chat(fake: FakeBotApi) -> None:
    event = inbound(fake.text_update(-1001, "hola", chat_type="supergroup", user_id=5))

    assert event is not None
    assert event.group_chat is True
    assert event.address == Address("telegram", "-1001")


def member_update(status: str, chat_type: str = "private") -> dict[str, Any]:
    user = {"id": 42, "is_bot": False, "first_name": "Ana"}
    bot = {"id": 999, "is_bot": True, "first_name": "KYR"}
    return {
        "update_id": 12,
        "my_chat_member": {
            "chat": {"id": 42, "type": chat_type},
            "from": user,
            "date": 0,
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": (
                {"status": "kicked", "user": bot, "until_date": 0}
                if status == "kicked"
                else {"status": status, "user": bot}
            ),
        },
    }


def test_person_blocking_the_bot_is_reported() -> None:
    update = Update.de_json(member_update("kicked"), None)

    assert blocked_address(update) == Address("telegram", "42")
    assert update_to_inbound(update, now=NOW) is None


def test_person_unblocking_the_bot_is_not_a_block() -> None:
    assert blocked_address(Update.de_json(member_update("member"), None)) is None


# -- rendering ------------------------------------------------------------------------------


def keyboard(reply: Reply) -> list[list[tuple[str, object]]]:
    markup = reply_to_markup(reply)
    assert markup is not None
    return [
        [(b.text, b.callback_data) for b in row if isinstance(b, InlineKeyboardButton)]
        for row in markup.inline_keyboard
    ]


def test_keyboard_has_one_choice_per_row_then_a_navigation_row() -> None:
    reply = Reply(
        text="¿Qué quieres saber?",
        choices=(Choice("what", "Qué dice SOP 130"), Choice("warrants", "Órdenes judiciales")),
        nav=(Choice("menu", "Menú"), Choice("lang", "English")),
    )

    assert keyboard(reply) == [
        [("Qué dice SOP 130", "what")],
        [("Órdenes judiciales", "warrants")],
        [("Menú", "menu"), ("English", "lang")],
    ]


def test_reply_without_choices_has_no_keyboard() -> None:
    assert reply_to_markup(Reply(text="hola")) is None


def test_navigation_only_reply_has_one_row() -> None:
    assert keyboard(Reply(text="x", nav=(Choice("menu", "Menú"),))) == [[("Menú", "menu")]]


def test_callback_data_is_measured_in_utf8_bytes() -> None:
    assert callback_data_fits("a" * 64)
    assert not callback_data_fits("a" * 65)
    assert not callback_data_fits("ñ" * 33)  # 66 bytes
    assert not callback_data_fits("")


def test_too_long_choice_id_is_refused_when_rendering() -> None:
    with pytest.raises(ValueError, match="1-64 bytes"):
        reply_to_markup(Reply(text="x", choices=(Choice("x" * 65, "label"),)))


def test_render_puts_the_keyboard_on_the_last_part_only() -> None:
    reply = Reply(text="uno\n\ndos", choices=(Choice("what", "Qué"),))

    parts = render_reply(reply, limit=4)

    assert [text for text, _ in parts] == ["uno", "dos"]
    assert parts[0][1] is None
    assert parts[1][1] is not None


def test_render_of_empty_text_sends_nothing() -> None:
    assert render_reply(Reply(text="  ", choices=(Choice("what", "Qué"),))) == []


def test_text_with_markup_characters_is_sent_verbatim() -> None:
    text = "<b>no</b> *tampoco* _nada_ [link](http://x) & https://example.org/a_b"

    assert render_reply(Reply(text=text)) == [(text, None)]


# -- splitting ------------------------------------------------------------------------------


def test_short_text_is_one_message() -> None:
    assert split_text("hola") == ["hola"]


def test_empty_text_is_no_message() -> None:
    assert split_text("") == []
    assert split_text("\n\n  ") == []


def test_long_text_splits_at_paragraph_boundaries() -> None:
    paragraphs = [f"Párrafo {i}. " + "palabra " * 100 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)

    chunks = split_text(text)

    assert len(chunks) > 1
    assert all(utf16_length(chunk) <= 4096 for chunk in chunks)
    assert "\n\n".join(chunks) == text  # every cut fell between paragraphs


def test_paragraph_longer_than_limit_splits_between_lines_then_words() -> None:
    assert split_text("aaa bbb\nccc ddd", limit=8) == ["aaa bbb", "ccc ddd"]
    assert split_text("aaa bbb ccc", limit=8) == ["aaa bbb", "ccc"]


def test_word_longer_than_limit_is_cut() -> None:
    assert split_text("abcdefghij", limit=4) == ["abcd", "efgh", "ij"]


def test_emoji_count_as_two_units_and_are_never_cut_in_half() -> None:
    chunks = split_text("😀" * 5, limit=4)

    assert chunks == ["😀😀", "😀😀", "😀"]


def test_limit_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_text("hola", limit=1)


@given(
    st.text(alphabet=st.sampled_from(["a", "ñ", " ", "\n", "😀", "é"]), max_size=300),
    st.integers(min_value=2, max_value=40),
)
def test_split_keeps_every_visible_character_in_order_within_the_limit(
    text: str, limit: int
) -> None:
    chunks = split_text(text, limit)

    assert all(0 < utf16_length(chunk) <= limit for chunk in chunks)
    assert all(chunk == chunk.strip() for chunk in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


# -- commands, config, errors ---------------------------------------------------------------


def test_command_menu_uses_translations_and_falls_back_to_english() -> None:
    menu = dict(command_menu({"menu": "Menú principal", "help": "Ayuda"}))

    assert list(menu) == list(COMMANDS)
    assert menu["menu"] == "Menú principal"
    assert menu["forget"] == "Delete everything the bot knows about you"


@pytest.mark.parametrize("secret", ["a", "A-z_09", "x" * 256])
def test_valid_webhook_secret_is_accepted(secret: str) -> None:
    assert validate_webhook_secret(secret) == secret


@pytest.mark.parametrize("secret", [None, "", "x" * 257, "con espacio", "ñ", "a/b"])
def test_invalid_webhook_secret_is_a_config_error(secret: str | None) -> None:
    with pytest.raises(ConfigError, match=r"telegram\.webhook_secret"):
        validate_webhook_secret(secret)


@pytest.mark.parametrize("value", [3, timedelta(seconds=3)])
def test_retry_after_is_read_in_seconds_without_deprecation_warning(value: Any) -> None:
    assert retry_after_seconds(RetryAfter(value)) == 3.0


def caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "expected", "retryable"),
    [
        (RetryAfter(2), RateLimited, True),
        (Forbidden("Forbidden: bot was blocked by the user"), RecipientUnreachable, False),
        (BadRequest("Chat not found"), RecipientUnreachable, False),
        (BadRequest("Message text is empty"), PermanentSendError, False),
        (ChatMigrated(-1002), PermanentSendError, False),
        (InvalidToken("Unauthorized"), PermanentSendError, False),
        (NetworkError("Bad Gateway"), ChannelUnavailable, True),
        (caused(NetworkError("x"), httpx.ConnectError("refused")), ChannelUnavailable, True),
        (caused(TimedOut(), httpx.ConnectTimeout("slow")), ChannelUnavailable, True),
        (caused(TimedOut("Pool timeout"), httpx.PoolTimeout("busy")), ChannelUnavailable, True),
        (caused(TimedOut(), httpx.ReadTimeout("slow")), OutcomeUnknown, False),
        (caused(NetworkError("x"), httpx.RemoteProtocolError("drop")), OutcomeUnknown, False),
    ],
)
def test_send_errors_say_whether_a_retry_can_help(
    error: Exception, expected: type, retryable: bool
) -> None:
    mapped = send_error(error)  # type: ignore[arg-type]

    assert type(mapped) is expected
    assert mapped.retryable is retryable


def test_rate_limited_carries_retry_after_seconds() -> None:
    mapped = send_error(RetryAfter(7))

    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after == 7.0
