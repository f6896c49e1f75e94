"""``kyrbot serve --config`` with a token and ``telegram.base_url`` runs a real conversation.

The server is a real subprocess; Telegram is the fake Bot API server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import yaml

from bot.config import parse_config
from bot.conversation.version import load_content
from tests.fakes.telegram_server import FakeBotApi
from tests.support.keys import TEST_PRIVACY
from tests.support.paths import CONTENT_DIRS, ROOT

CHAT = 5150


async def test_serve_with_a_fake_bot_api_holds_a_spanish_conversation(tmp_path: Path):
    content = load_content(parse_config({"content": dict(CONTENT_DIRS)}))
    menu = content.dialogs.node("kyr.menu")
    spanish_menu = content.translator.gettext("es", menu.say_context, menu.say)
    async with FakeBotApi() as fake:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "telegram": {"token": fake.token, "base_url": f"{fake.base_url}"},
                    "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
                    "server": {"port": 0},
                    "privacy": TEST_PRIVACY,
                    "content": dict(CONTENT_DIRS),
                }
            ),
            encoding="utf-8",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--config",
            str(config),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            fake.push_update(fake.text_update(CHAT, "/start", language_code="es-419"))
            [greeting] = await fake.wait_for_sent(1, within=20)
            assert greeting.text.startswith(spanish_menu.splitlines()[0])
            first = menu.choices[0]
            label = content.translator.gettext("es", menu.choice_context(first), first.label)
            fake.push_update(fake.press(CHAT, label, language_code="es-419"))
            sent = await fake.wait_for_sent(2, within=10)
            target = content.dialogs.node(first.target)
            page = content.translator.gettext("es", target.say_context, target.say)
            assert sent[1].text.startswith(page[:20])
            assert fake.answered_callbacks  # the button press was acknowledged
            fake.push_update(fake.text_update(CHAT, "menú", language_code="es-419"))
            sent = await fake.wait_for_sent(3, within=10)
            assert sent[2].text.startswith(spanish_menu.splitlines()[0])
            assert set(fake.commands) >= {"es", "en"}  # command menus per language
            spanish_menu_command = next(c for c in fake.commands["es"] if c["command"] == "menu")
            assert spanish_menu_command["description"] == content.translator.gettext(
                "es", "telegram:command:menu", "Main menu"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
        log = output.decode()
        assert process.returncode == 0, log
        assert str(CHAT) not in log and fake.token not in log  # no chat id, no token in logs
        assert "Traceback" not in log
