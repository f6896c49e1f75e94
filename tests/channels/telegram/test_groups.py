"""Groups and channels: the real PTB client and conversation against the fake Bot API.

In a group the config does not name, the bot says once (in English and Spanish) that it works
only in private chats, then leaves; it stores no group or channel as a contact and never
posts into a channel; a press of a button the bot did not send edits nothing.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import channel_callbacks
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.groups import named_chats, private_chats_notice
from bot.config import Config, parse_config
from bot.content.strings import PRIVATE_CHATS_ONLY
from bot.conversation.service import ConversationService
from bot.conversation.version import Content
from bot.messages import Address
from bot.storage.base import Storage
from tests.fakes.telegram_server import FakeBotApi, SentMessage
from tests.support.paths import ROOT

ANA = 4242
GROUP = -100777
SUPERGROUP = -1001234567
CHANNEL = -1009876543
REPORT_CHAT = -100555


def make_config(fake: FakeBotApi, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "telegram": {"token": fake.token, "base_url": fake.base_url},
        "content": {"dialogs_dir": str(ROOT / "dialogs"), "locales_dir": str(ROOT / "locales")},
        "organizers": {"report_chat_id": REPORT_CHAT},
    }
    data.update(sections)
    return parse_config(data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def channel(
    fake: FakeBotApi, sqlite_service: ConversationService, content: Content
) -> AsyncIterator[TelegramChannel]:
    notice = private_chats_notice(content.translator, content.engine.locales)
    telegram = TelegramChannel(make_config(fake), private_chats_notice=notice)
    await telegram.start(channel_callbacks(sqlite_service))
    try:
        yield telegram
    finally:
        await telegram.stop()


async def settle(fake: FakeBotApi, channel: TelegramChannel, *updates: dict[str, Any]) -> None:
    """Deliver ``updates`` by polling and wait until the bot has handled them all."""
    for update in updates:
        fake.push_update(update)
    await fake.wait_until(
        lambda: any(
            call.method == "getUpdates"
            and (call.params.get("offset") or 0) > updates[-1]["update_id"]
            for call in fake.calls
        )
    )
    await channel.drain()


def notice_in_both_languages(content: Content) -> str:
    english = content.translator.text("en", PRIVATE_CHATS_ONLY)
    spanish = content.translator.text("es", PRIVATE_CHATS_ONLY)
    assert english != spanish, "the Spanish catalog must translate the notice"
    return f"{english}\n\n{spanish}"


async def test_added_to_a_group_the_bot_says_once_in_both_languages_and_leaves(
    fake: FakeBotApi,
    channel: TelegramChannel,
    content: Content,
    sqlite_storage: Storage,
) -> None:
    await settle(
        fake,
        channel,
        fake.added_update(GROUP),
        fake.text_update(GROUP, "/start@kyr_test_bot", chat_type="group", user_id=ANA),
        fake.text_update(GROUP, "hola bot", chat_type="group", user_id=ANA),
    )

    [notice] = fake.sent_to(GROUP)
    assert notice.text == notice_in_both_languages(content)
    assert notice.reply_markup is None
    assert fake.left_chats == [GROUP]
    assert await sqlite_storage.get_contact(Address("telegram", str(GROUP))) is None


@pytest.mark.parametrize(
    "make_update",
    [
        lambda fake: fake.media_update(SUPERGROUP, "photo", chat_type="supergroup"),
        lambda fake: fake.media_update(SUPERGROUP, "dice", chat_type="supergroup"),
        lambda fake: fake.topic_update(SUPERGROUP),
    ],
    ids=["photo", "dice", "forum-topic-opened"],
)
async def test_photos_dice_and_forum_topics_get_no_notice_the_bot_just_leaves(
    fake: FakeBotApi, channel: TelegramChannel, sqlite_storage: Storage, make_update: Any
) -> None:
    await settle(fake, channel, make_update(fake), make_update(fake))

    assert fake.sent == []
    assert fake.left_chats == [SUPERGROUP]
    assert await sqlite_storage.get_contact(Address("telegram", str(SUPERGROUP))) is None


async def test_text_in_a_forum_topic_is_answered_in_that_topic(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    await settle(fake, channel, fake.topic_update(SUPERGROUP, "/start@kyr_test_bot"))

    [send] = fake.calls_to("sendMessage")
    assert send.params["chat_id"] == SUPERGROUP
    assert send.params["message_thread_id"] == 77
    assert fake.left_chats == [SUPERGROUP]


async def test_in_a_channel_the_bot_never_posts_it_only_leaves(
    fake: FakeBotApi, channel: TelegramChannel, sqlite_storage: Storage
) -> None:
    await settle(
        fake, channel, fake.added_update(CHANNEL, chat_type="channel", status="administrator")
    )

    assert fake.sent == []
    assert fake.left_chats == [CHANNEL]
    assert await sqlite_storage.get_contact(Address("telegram", str(CHANNEL))) is None


async def test_a_forwarded_keyboard_pressed_in_a_channel_makes_no_post_and_no_contact(
    fake: FakeBotApi, channel: TelegramChannel, sqlite_storage: Storage
) -> None:
    await settle(fake, channel, fake.text_update(ANA, "/start", language_code="es"))
    [menu] = fake.sent_to(ANA)
    label = menu.labels[0]
    press = fake.press(ANA, label)
    forwarded = copy.deepcopy(press)
    message = forwarded["callback_query"]["message"]
    message["chat"] = {"id": CHANNEL, "type": "channel", "title": "Noticias"}
    message["message_id"] = 9001
    forwarded["update_id"] = fake.next_update_id()

    await settle(fake, channel, forwarded)

    assert fake.sent == [menu]  # nothing posted anywhere, the channel least of all
    assert fake.edits == []
    assert fake.answered_callbacks == [press["callback_query"]["id"]]  # answered quietly
    assert await sqlite_storage.get_contact(Address("telegram", str(CHANNEL))) is None


async def test_a_press_of_data_the_bot_never_sent_is_answered_quietly_and_edits_nothing(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    await settle(fake, channel, fake.text_update(ANA, "/start", language_code="es"))
    [menu] = fake.sent_to(ANA)
    press = fake.press(ANA, menu.labels[0])
    press["callback_query"]["data"] = "n:not.a.button.here"

    await settle(fake, channel, press)

    assert fake.sent == [menu]
    assert fake.edits == []
    assert fake.answered_callbacks == [press["callback_query"]["id"]]


async def test_a_named_chat_is_neither_answered_nor_left(
    fake: FakeBotApi, channel: TelegramChannel, sqlite_storage: Storage
) -> None:
    await settle(
        fake,
        channel,
        fake.added_update(REPORT_CHAT),
        fake.text_update(REPORT_CHAT, "/start@kyr_test_bot", chat_type="group", user_id=ANA),
        fake.media_update(REPORT_CHAT, "dice", chat_type="group"),
    )

    assert fake.sent == []
    assert fake.left_chats == []
    assert await sqlite_storage.get_contact(Address("telegram", str(REPORT_CHAT))) is None


async def test_private_chats_are_answered_as_ever_beside_a_group(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    await settle(
        fake,
        channel,
        fake.text_update(GROUP, "/start@kyr_test_bot", chat_type="group", user_id=ANA),
        fake.text_update(ANA, "/start", language_code="es"),
    )

    [menu] = fake.sent_to(ANA)
    assert menu.labels  # the Spanish menu with its buttons
    assert isinstance(menu, SentMessage)
    assert len(fake.sent_to(GROUP)) == 1


def test_the_named_chats_come_from_config_in_one_place(fake: FakeBotApi) -> None:
    assert named_chats(make_config(fake)) == frozenset({REPORT_CHAT})
    assert named_chats(make_config(fake, organizers={})) == frozenset()


async def test_removed_from_a_group_the_bot_does_nothing(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    await settle(fake, channel, fake.added_update(GROUP, status="left"))
    await asyncio.sleep(0)

    assert fake.sent == []
    assert fake.left_chats == []
