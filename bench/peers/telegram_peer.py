"""A python-telegram-bot 22 webhook bot as its documentation teaches: the Telegram peer.

What a Python developer would write instead of kyrbot's Telegram channel, and what
``bench/telegram.py --peer`` measures beside it: an ``Application`` built without an
``Updater`` (``.updater(None)``), fed by an aiohttp route that checks the secret header and
puts each update on ``application.update_queue`` (PTB's ``customwebhookbot`` examples, with
aiohttp in place of Starlette, since kyrbot is served by aiohttp too); one
``MessageHandler(filters.TEXT, ...)`` that upserts a row per chat in SQLite with the standard
``sqlite3`` module (a message counter and the last-seen time) and answers with
``reply_text`` and a three-button ``InlineKeyboardMarkup`` (PTB's ``inlinekeyboard.py``
layout). SQLite gets kyrbot's durability settings (WAL, ``synchronous=NORMAL``), so neither
side pays for an fsync the other skips.

PTB processes updates one at a time unless told otherwise; ``concurrent=True`` is
``.concurrent_updates(True)`` (256 at once), the documented switch a developer turns on
for throughput.

Run on its own against the fake Bot API (see ``tests/fakes/telegram_server.py``)::

    .venv/bin/python -m bench.peers.telegram_peer --base-url http://127.0.0.1:8081/bot
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import sqlite3
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/peer/telegram"
REPLY = "SOP 130 es una regla de la policía de Milwaukee. ¿Qué quieres saber?"
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Qué dice SOP 130", callback_data="what"),
            InlineKeyboardButton("Órdenes judiciales", callback_data="warrants"),
        ],
        [InlineKeyboardButton("English", callback_data="lang")],
    ]
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chats ("
    "chat_id INTEGER PRIMARY KEY, messages INTEGER NOT NULL, last_seen REAL NOT NULL)"
)
UPSERT = (
    "INSERT INTO chats(chat_id, messages, last_seen) VALUES (?, 1, ?) "
    "ON CONFLICT(chat_id) DO UPDATE SET messages = messages + 1, last_seen = excluded.last_seen"
)


class PeerBot:
    """The peer: a PTB ``Application``, its SQLite file and its webhook handler.

    Args:
        token: the bot token.
        base_url: the Bot API's base URL (PTB appends the token).
        secret: the webhook's ``secret_token``.
        database: the SQLite file.
        concurrent: ``.concurrent_updates(True)`` instead of PTB's one-at-a-time default.
    """

    def __init__(
        self, *, token: str, base_url: str, secret: str, database: Path, concurrent: bool
    ) -> None:
        self.secret = secret
        self.db = sqlite3.connect(database)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)
        self.db.commit()
        self.application = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .updater(None)
            .concurrent_updates(concurrent)
            .build()
        )
        self.application.add_handler(MessageHandler(filters.TEXT, self.answer))

    async def answer(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Count the message against its chat, then reply with the keyboard."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        self.db.execute(UPSERT, (chat.id, time.time()))
        self.db.commit()
        await message.reply_text(REPLY, reply_markup=KEYBOARD)

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST`` from Telegram: check the secret, queue the update, answer 200."""
        supplied = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), self.secret.encode()):
            return web.Response(status=403)
        data: Any = await request.json()
        await self.application.update_queue.put(Update.de_json(data, self.application.bot))
        return web.Response()

    def web_app(self) -> web.Application:
        """An aiohttp application serving :data:`WEBHOOK_PATH`."""
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self.webhook)
        return app

    async def start(self) -> None:
        """``initialize`` (getMe) and ``start`` the application."""
        await self.application.initialize()
        await self.application.start()

    async def drain(self) -> None:
        """Wait until every queued update is handled and answered."""
        await self.application.update_queue.join()

    async def stop(self) -> None:
        """Stop the application and close the database."""
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        self.db.close()


async def serve(args: argparse.Namespace) -> None:
    """Run the peer on its own until interrupted."""
    bot = PeerBot(
        token=args.token,
        base_url=args.base_url,
        secret=args.secret,
        database=Path(args.database),
        concurrent=args.concurrent,
    )
    await bot.start()
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(f"peer listening on http://127.0.0.1:{args.port}{WEBHOOK_PATH}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await bot.stop()


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--secret", default="peer_secret")
    parser.add_argument("--database", default="peer.sqlite3")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--concurrent", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
