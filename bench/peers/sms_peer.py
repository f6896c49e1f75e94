"""An aiohttp Twilio SMS webhook as Twilio's documentation teaches: the SMS peer.

What a Python developer would write instead of kyrbot's SMS channel, and what
``bench/sms.py --peer`` measures beside it: an aiohttp route that checks every request's
``X-Twilio-Signature`` with twilio's ``RequestValidator`` (over the public URL, as behind a
proxy), upserts a row per sender in SQLite with the standard ``sqlite3`` module (a message
counter and the last-seen time) and answers with a ``MessagingResponse``. SQLite gets
kyrbot's durability settings (WAL, ``synchronous=NORMAL``). The peer keys its rows by the
phone number as it comes, as such a bot would; kyrbot encrypts it and stores a keyed hash,
part of the cost the comparison charges kyrbot.

Run on its own::

    .venv/bin/python -m bench.peers.sms_peer --auth-token TOKEN --public-url https://...
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from pathlib import Path

from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

SMS_PATH = "/twilio/sms"
REPLY = "Hola. ¿Qué quieres saber?\n\n1 Qué dice SOP 130\n2 Órdenes judiciales\n0 Menú / English"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS contacts ("
    "phone TEXT PRIMARY KEY, messages INTEGER NOT NULL, last_seen REAL NOT NULL)"
)
UPSERT = (
    "INSERT INTO contacts(phone, messages, last_seen) VALUES (?, 1, ?) "
    "ON CONFLICT(phone) DO UPDATE SET messages = messages + 1, last_seen = excluded.last_seen"
)


class SmsPeer:
    """The peer: a validator, a SQLite file and the webhook handler.

    Args:
        auth_token: the Twilio auth token the signatures are made with.
        public_url: the address Twilio posts to (the signature covers it).
        database: the SQLite file.
    """

    def __init__(self, *, auth_token: str, public_url: str, database: Path) -> None:
        self.validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")
        self.db = sqlite3.connect(database)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)
        self.db.commit()

    async def incoming(self, request: web.Request) -> web.Response:
        """An incoming SMS: check the signature, count the sender, answer TwiML."""
        form = await request.post()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not self.validator.validate(self.public_url + request.path_qs, form, signature):
            return web.Response(status=403)
        sender = form.get("From")
        if not isinstance(sender, str):
            return web.Response(status=400)
        self.db.execute(UPSERT, (sender, time.time()))
        self.db.commit()
        response = MessagingResponse()
        response.message(REPLY)
        return web.Response(text=str(response), content_type="text/xml")

    def web_app(self) -> web.Application:
        """An aiohttp application serving :data:`SMS_PATH`."""
        app = web.Application()
        app.router.add_post(SMS_PATH, self.incoming)
        return app

    def close(self) -> None:
        """Close the database."""
        self.db.close()


async def serve(args: argparse.Namespace) -> None:
    """Run the peer on its own until interrupted."""
    peer = SmsPeer(
        auth_token=args.auth_token, public_url=args.public_url, database=Path(args.database)
    )
    runner = web.AppRunner(peer.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(f"peer listening on http://127.0.0.1:{args.port}{SMS_PATH}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        peer.close()


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--public-url", required=True)
    parser.add_argument("--database", default="peer.sqlite3")
    parser.add_argument("--port", type=int, default=8089)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
