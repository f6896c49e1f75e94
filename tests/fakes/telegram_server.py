"""A fake Telegram Bot API server on 127.0.0.1 for tests, demos and benchmarks.

It speaks just enough of the Bot API for python-telegram-bot's real ``Application`` to run
against it (``ApplicationBuilder().base_url(fake.base_url)``): getMe, deleteWebhook,
getUpdates (long polling with a short wait), sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setWebhook, setMyCommands, leaveChat. It records
what the bot sent, so a test asserts what the person would see, and can be scripted to fail
(a 429 flood limit with ``retry_after``, a 403 from a person who blocked the bot, a 502,
an answer lost after the message was delivered), made slow (``send_delay``), and taken
down altogether for a while (``down``).

PTB posts ``application/x-www-form-urlencoded`` bodies whose non-string values are
JSON-encoded, and empty bodies for calls without parameters; a JSON body is accepted too.

Run on its own, it is a way to try the Telegram channel without a Telegram account::

    .venv/bin/python -m tests.fakes.telegram_server --port 8081
    # then, in another terminal, a config with
    #   telegram: {token: "123456:TEST-token", base_url: "http://127.0.0.1:8081/bot"}
    .venv/bin/kyrbot serve --config that.yaml

Each line typed into the fake is a message from one person; a number presses that button
of the bot's latest keyboard; ``/photo`` sends a photo. The bot's messages are printed with
their buttons numbered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAKE_TOKEN = "123456:TEST-token"
"""An obviously fake token (real ones are 8-10 digits, a colon and 35 characters)."""

_TEXT_FIELDS = frozenset(
    {
        "text",
        "url",
        "secret_token",
        "callback_query_id",
        "language_code",
        "inline_message_id",
        "parse_mode",
        "caption",
    }
)
"""Parameters that are strings: never JSON-decode them (a text "123" must stay a string)."""


@dataclass
class ApiCall:
    """One request the bot made: the method and its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentMessage:
    """A message the bot sent (or edited), as the person's Telegram app would show it."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """The inline keyboard as rows of ``(label, callback_data)``."""
        if not self.reply_markup:
            return []
        return [
            [(button["text"], button.get("callback_data", "")) for button in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    @property
    def labels(self) -> list[str]:
        """Every button label, row by row."""
        return [label for row in self.buttons for label, _ in row]


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    status: int
    description: str
    retry_after: int | None
    after: int = 0


class FakeBotApi:
    """A scriptable Bot API server. Use as ``async with FakeBotApi() as fake:``.

    Args:
        token: the only token accepted (others get 401 like Telegram).
        username: the bot's username, returned by getMe.
        max_poll_wait: the longest a getUpdates call waits for an update, whatever
            ``timeout`` the bot asked for, so tests and shutdowns stay fast.
        clock: what stamps each call and message (``at``); a test on a fake timer passes
            its clock, to see when sends happened in that timer's time.
    """

    def __init__(
        self,
        *,
        token: str = FAKE_TOKEN,
        username: str = "kyr_test_bot",
        max_poll_wait: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.username = username
        self.bot_id = 999
        self.max_poll_wait = max_poll_wait
        self.clock = clock
        self.calls: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        """Every sendMessage that succeeded, in order."""
        self.edits: list[SentMessage] = []
        """Every editMessageText / editMessageReplyMarkup, in order."""
        self.answered_callbacks: list[str] = []
        self.left_chats: list[int] = []
        """Every chat the bot left (leaveChat), in order."""
        self.commands: dict[str | None, list[dict[str, str]]] = {}
        """setMyCommands by language_code (``None`` for the default)."""
        self.webhook: dict[str, Any] | None = None
        """The last setWebhook parameters; ``None`` after deleteWebhook."""
        self.blocked: set[int] = set()
        """Chats whose person blocked the bot: every send to them gets 403."""
        self.polls_waiting = 0
        """getUpdates calls waiting for an update (long polls not answered yet)."""
        self.send_delay = 0.0
        """Seconds every sendMessage takes to answer, after the message is delivered."""
        self.lost_answers: dict[int | None, int] = {}
        """Per chat id (``None``: any chat), how many sendMessage answers to lose: the message
        is delivered, then the connection is closed without an answer (like a timeout)."""
        self.down: Callable[[], bool] = lambda: False
        """While this says True, every call is answered 502 (the Bot API is down)."""
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._new_message = asyncio.Event()
        self._failures: list[_Failure] = []
        self._message_ids = itertools.count(100)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, *, port: int = 0) -> None:
        """Listen on ``port`` (default: a random free one) of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Stop listening; a getUpdates call still waiting is answered at once."""
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The value for ``telegram.base_url`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- scripting ------------------------------------------------------------------------

    def fail_next(
        self,
        method: str = "sendMessage",
        *,
        chat_id: int | None = None,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        after: int = 0,
    ) -> None:
        """Make the next matching call fail once (first matching rule wins).

        ``status=429, retry_after=1`` is a flood limit, ``403`` a blocked bot, ``502`` a
        gateway error (PTB raises ``NetworkError``), ``400`` a bad request. With ``after=n``
        the first ``n`` matching calls succeed and the one after fails.
        """
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                403: "Forbidden: bot was blocked by the user",
                400: "Bad Request: message text is empty",
            }.get(status, "Bad Gateway")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(
            _Failure(method, chat_id, status, description, retry_after, after=after)
        )

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every recorded call of ``method``."""
        return [call for call in self.calls if call.method == method]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """The messages sent to ``chat_id``, in order."""
        return [message for message in self.sent if message.chat_id == chat_id]

    async def wait_for_sent(self, count: int, *, within: float = 5.0) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent in total; return them all.

        Raises:
            TimeoutError: fewer arrived in time (the message says how many).
        """
        deadline = time.monotonic() + within
        while len(self.sent) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"expected {count} sent messages, got {len(self.sent)}")
            self._new_message.clear()
            try:
                await asyncio.wait_for(self._new_message.wait(), remaining)
            except TimeoutError:
                continue
        return list(self.sent)

    async def wait_until(self, predicate: Callable[[], object], *, within: float = 5.0) -> None:
        """Poll ``predicate()`` until true, or raise TimeoutError."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.01)

    # -- updates a person would cause -----------------------------------------------------

    def next_update_id(self) -> int:
        """A fresh update id."""
        return next(self._update_ids)

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` for getUpdates (polling mode) and return it."""
        self._updates.append(update)
        self._new_update.set()
        return update

    def text_update(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = "es",
        chat_type: str = "private",
        user_id: int | None = None,
        update_id: int | None = None,
        reply_to: SentMessage | None = None,
    ) -> dict[str, Any]:
        """An update with a text message; ``/commands`` get their ``bot_command`` entity.

        ``reply_to``: a message the bot sent in this chat, which this one replies to.
        """
        message = self._message_base(chat_id, chat_type, user_id, language_code)
        message["text"] = text
        if reply_to is not None:
            message["reply_to_message"] = self._message_json(
                self._messages[(reply_to.chat_id, reply_to.message_id)]
            )
        if text.startswith("/"):
            length = len(text.split()[0].encode("utf-16-le")) // 2
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"update_id": update_id or self.next_update_id(), "message": message}

    def media_update(
        self,
        chat_id: int,
        kind: str = "photo",
        *,
        language_code: str | None = "es",
        chat_type: str = "private",
        caption: str | None = None,
    ) -> dict[str, Any]:
        """An update with a photo, sticker, voice note or location instead of text."""
        message = self._message_base(chat_id, chat_type, None, language_code)
        if kind == "photo":
            message["photo"] = [
                {"file_id": "ph1", "file_unique_id": "u1", "width": 90, "height": 90}
            ]
        elif kind == "sticker":
            message["sticker"] = {
                "file_id": "st1",
                "file_unique_id": "u2",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        elif kind == "voice":
            message["voice"] = {"file_id": "vo1", "file_unique_id": "u3", "duration": 3}
        elif kind == "location":
            message["location"] = {"latitude": 43.04, "longitude": -87.91}
        elif kind == "dice":
            message["dice"] = {"emoji": "🎲", "value": 4}
        else:
            raise ValueError(f"unknown media kind {kind!r}")
        if caption is not None:
            message["caption"] = caption
        return {"update_id": self.next_update_id(), "message": message}

    def added_update(
        self, chat_id: int, *, chat_type: str = "group", by: int = 4242, status: str = "member"
    ) -> dict[str, Any]:
        """A ``my_chat_member`` update: someone added the bot to a group or channel."""
        bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "KYR Test"}
        new_member: dict[str, Any] = {"status": status, "user": bot_user}
        if status == "administrator":
            new_member.update(
                dict.fromkeys(
                    (
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                    ),
                    False,
                )
            )
        return {
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": {"id": chat_id, "type": chat_type, "title": "Vecinos"},
                "from": self._user(by, "es"),
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": bot_user},
                "new_chat_member": new_member,
            },
        }

    def topic_update(self, chat_id: int, text: str | None = None) -> dict[str, Any]:
        """A message in a forum topic of a supergroup: a text, or the topic being opened."""
        message = self._message_base(chat_id, "supergroup", 4242, "es")
        message["chat"]["is_forum"] = True
        message["message_thread_id"] = 77
        message["is_topic_message"] = True
        if text is None:
            message["forum_topic_created"] = {"name": "Vecinos", "icon_color": 7322096}
        else:
            message["text"] = text
        return {"update_id": self.next_update_id(), "message": message}

    def edited_update(self, chat_id: int, text: str) -> dict[str, Any]:
        """An update saying the person edited an earlier message."""
        message = self._message_base(chat_id, "private", None, "es")
        message["text"] = text
        message["edit_date"] = int(time.time())
        return {"update_id": self.next_update_id(), "edited_message": message}

    def press(
        self,
        chat_id: int,
        label_or_data: str,
        *,
        language_code: str | None = "es",
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """A callback update: the person presses a button on the latest message showing it.

        ``label_or_data`` matches a button's label or its callback data.

        Raises:
            LookupError: no message sent to ``chat_id`` has such a button.
        """
        for message in reversed(self.sent_to(chat_id)):
            current = self._messages[(chat_id, message.message_id)]
            for row in current.buttons:
                for label, data in row:
                    if label_or_data in (label, data):
                        return {
                            "update_id": update_id or self.next_update_id(),
                            "callback_query": {
                                "id": f"cbq{next(self._callback_ids)}",
                                "chat_instance": f"ci{chat_id}",
                                "data": data,
                                "from": self._user(chat_id, language_code),
                                "message": self._message_json(current),
                            },
                        }
        raise LookupError(f"no button {label_or_data!r} in chat {chat_id}")

    # -- the API --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _read_params(request)
        self.calls.append(ApiCall(method, params, at=self.clock()))
        if self.down():
            return _error(502, "Bad Gateway")
        for index, failure in enumerate(self._failures):
            if failure.method == method and failure.chat_id in (None, _int(params.get("chat_id"))):
                if failure.after:
                    failure.after -= 1
                    break
                del self._failures[index]
                return _error(failure.status, failure.description, failure.retry_after)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        response: web.Response = await handler(params)
        if method == "sendMessage" and response.status == 200:
            if self.send_delay:
                await asyncio.sleep(self.send_delay)
            if self._lose_answer(_int(params.get("chat_id"))):
                assert request.transport is not None
                request.transport.close()  # delivered, but the bot never hears so
        return response

    def _lose_answer(self, chat_id: int | None) -> bool:
        for key in (chat_id, None):
            if self.lost_answers.get(key, 0) > 0:
                self.lost_answers[key] -= 1
                return True
        return False

    async def _api_getMe(self, _params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "KYR Test",
                "username": self.username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _api_deleteWebhook(self, _params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = params
        return _ok(True)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        self.commands[params.get("language_code")] = params.get("commands", [])
        return _ok(True)

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = _int(params.get("offset")) or 0
        limit = _int(params.get("limit")) or 100
        wait = min(float(params.get("timeout") or 0), self.max_poll_wait)
        # Telegram forgets updates below the offset: the bot has confirmed them.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and wait > 0:
            self._new_update.clear()
            self.polls_waiting += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), wait)
            finally:
                self.polls_waiting -= 1
        # Only select after waiting: a poll cancelled by a stopping bot still ends here, and
        # must not drop what was queued for the next one.
        return _ok([u for u in self._updates if u["update_id"] >= offset][:limit])

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = _int(params.get("chat_id"))
        text = params.get("text")
        if chat_id is None:
            return _error(400, "Bad Request: chat_id is empty")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not text or not str(text).strip():
            return _error(400, "Bad Request: message text is empty")
        if len(str(text).encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        message = SentMessage(chat_id, next(self._message_ids), str(text), markup, self.clock())
        self.sent.append(message)
        self._messages[(chat_id, message.message_id)] = message
        self._new_message.set()
        return _ok(self._message_json(message))

    async def _api_editMessageText(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, text=str(params.get("text", "")))

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, text=None)

    def _edit(self, params: dict[str, Any], *, text: str | None) -> web.Response:
        key = (_int(params.get("chat_id")) or 0, _int(params.get("message_id")) or 0)
        current = self._messages.get(key)
        if current is None:
            return _error(400, "Bad Request: message to edit not found")
        edited = SentMessage(
            current.chat_id,
            current.message_id,
            current.text if text is None else text,
            params.get("reply_markup"),
            self.clock(),
        )
        if (edited.text, edited.reply_markup) == (current.text, current.reply_markup):
            return _error(400, "Bad Request: message is not modified")
        self._messages[key] = edited
        self.edits.append(edited)
        return _ok(self._message_json(edited))

    async def _api_leaveChat(self, params: dict[str, Any]) -> web.Response:
        chat_id = _int(params.get("chat_id"))
        if chat_id is None:
            return _error(400, "Bad Request: chat_id is empty")
        self.left_chats.append(chat_id)
        return _ok(True)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.answered_callbacks:
            return _error(400, "Bad Request: query is too old and response timeout expired")
        self.answered_callbacks.append(query_id)
        return _ok(True)

    # -- JSON shapes ----------------------------------------------------------------------

    def _user(self, user_id: int, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Ana"}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _message_base(
        self, chat_id: int, chat_type: str, user_id: int | None, language_code: str | None
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Ana"
        else:
            chat["title"] = "Vecinos"
        sender = user_id if user_id is not None else abs(chat_id)
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(sender, language_code),
        }

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "group"},
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "KYR Test",
                "username": self.username,
            },
            "text": message.text,
        }
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _read_params(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        data = await request.json()
        return dict(data) if isinstance(data, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue  # file uploads: not used by the bot
        if key in _TEXT_FIELDS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# -- a person at the keyboard ---------------------------------------------------------------


async def _chat(port: int, chat_id: int, language_code: str) -> None:
    fake = FakeBotApi()
    await fake.start(port=port)
    print(f"Fake Telegram Bot API on {fake.base_url}  (token {fake.token})")
    print("Point telegram.base_url at it and start the bot. Type messages; a number presses")
    print("that button of the latest keyboard; /photo sends a photo; Ctrl-D quits.\n")
    loop = asyncio.get_running_loop()
    shown = 0

    async def show_replies() -> None:
        nonlocal shown
        while True:
            await asyncio.sleep(0.05)
            while shown < len(fake.sent):
                message = fake.sent[shown]
                shown += 1
                print(f"\nbot> {message.text}")
                for number, label in enumerate(message.labels, start=1):
                    print(f"     [{number}] {label}")

    printer = asyncio.create_task(show_replies())
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text == "/photo":
                fake.push_update(fake.media_update(chat_id, "photo", language_code=language_code))
            elif text.isdigit() and fake.sent_to(chat_id):
                latest = next((m for m in reversed(fake.sent_to(chat_id)) if m.labels), None)
                labels = latest.labels if latest else []
                if not 1 <= int(text) <= len(labels):
                    print(f"(no button {text})")
                    continue
                update = fake.press(chat_id, labels[int(text) - 1], language_code=language_code)
                fake.push_update(update)
            else:
                fake.push_update(fake.text_update(chat_id, text, language_code=language_code))
    finally:
        printer.cancel()
        await fake.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the fake with one person chatting through stdin."""
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API to chat with the bot.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--chat-id", type=int, default=1001)
    parser.add_argument("--lang", default="es", help="the person's Telegram language_code")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_chat(args.port, args.chat_id, args.lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
