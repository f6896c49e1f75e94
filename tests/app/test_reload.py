"""Live reload: good content swaps in, bad content is refused and the old keeps serving."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.app import App
from bot.config import parse_config
from bot.messages import Address, Inbound
from bot.storage import open_storage
from tests.support.keys import TEST_PRIVACY, TEST_VAULT
from tests.support.paths import NOW, ROOT

PERSON = Address("telegram", "4242")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("dialogs", "locales"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def config_for(root: Path):
    return parse_config(
        {
            "content": {
                "dialogs_dir": str(root / "dialogs"),
                "locales_dir": str(root / "locales"),
            },
            "privacy": TEST_PRIVACY,
        }
    )


def edit_dialog(root: Path, change) -> None:
    path = root / "dialogs" / "kyr.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
async def app(project: Path):
    application = App(
        config_for(project),
        storage=open_storage(f"sqlite+aiosqlite:///{project / 'db.sqlite3'}", vault=TEST_VAULT),
    )
    await application.open()
    try:
        yield application
    finally:
        await application.close()


async def say(app: App, text: str, seconds: int = 0):
    from datetime import timedelta

    return await app.service.handle(Inbound(PERSON, text, NOW + timedelta(seconds=seconds)))


async def test_good_content_swaps_in_and_the_conversation_goes_on(app, project):
    await say(app, "english")
    before = await say(app, "warrant", 1)
    assert before[0].node == "kyr.warrants"

    def reword(data):
        data["nodes"]["warrants"]["say"] = "Reloaded text about warrants."

    edit_dialog(project, reword)
    assert app.reload() is True
    [after] = await say(app, "menu", 2)
    assert after.locale == "en"  # the person's language survived the reload
    [again] = await say(app, "warrant", 3)
    assert again.text.startswith("Reloaded text about warrants.")


async def test_bad_content_is_refused_and_the_old_content_keeps_serving(app, project, caplog):
    await say(app, "english")
    [before] = await say(app, "warrant", 1)
    path = project / "dialogs" / "kyr.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n  broken: [\n", encoding="utf-8")
    reported = []
    app.reload_listeners.append(lambda content, error: reported.append(error))
    assert app.reload() is False
    assert reported and "kyr.yaml:" in str(reported[0])
    assert "Reload refused" in caplog.text
    [after] = await say(app, "warrant", 2)
    assert after.text.split("\n\n")[0] == before.text.split("\n\n")[0]


async def test_a_broken_catalog_is_refused_too(app, project):
    po = project / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8") + "\nmsgstr this line has no quotes\n")
    assert app.reload() is False
    assert await say(app, "hola")


async def test_a_session_on_a_node_that_was_removed_returns_to_the_menu(app, project):
    path = project / "dialogs" / "kyr.yaml"
    original = path.read_text(encoding="utf-8")

    def add_a_page(data):
        data["nodes"]["temp_page"] = {"say": "A page that will go.", "keywords": "zebra crossing"}

    edit_dialog(project, add_a_page)
    assert app.reload() is True
    await say(app, "english")
    [page] = await say(app, "zebra crossing", 1)
    assert page.node == "kyr.temp_page"
    path.write_text(original, encoding="utf-8")
    assert app.reload() is True
    [reply] = await say(app, "1", 2)
    menu = app.content.dialogs.node("kyr.menu")
    assert reply.node in (menu.id, menu.choices[0].target)
    assert "A page that will go." not in reply.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_reloads_on_sighup_and_survives_bad_content(project, tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "content": {
                    "dialogs_dir": str(project / "dialogs"),
                    "locales_dir": str(project / "locales"),
                },
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}"},
                "server": {"port": port},
                "privacy": TEST_PRIVACY,
            }
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        path = project / "dialogs" / "kyr.yaml"
        path.write_text(path.read_text(encoding="utf-8") + "\n  broken: [\n", encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "bot", "reload", "--config", str(config)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert result.returncode == 0, result.stderr
        time.sleep(0.5)
        assert process.poll() is None, "a refused reload must not stop the server"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            assert r.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert "Reload refused" in output and "kyr.yaml" in output
    assert process.returncode == 0


def test_reload_without_a_running_server_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "reload"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2 and "no running 'kyrbot serve'" in result.stderr


async def test_a_refused_reload_is_reported_to_the_organizers_chat(project: Path):
    from bot.channels.telegram.adapter import TelegramChannel
    from tests.fakes.telegram_server import FakeBotApi

    async with FakeBotApi() as fake:
        config = parse_config(
            {
                "content": {
                    "dialogs_dir": str(project / "dialogs"),
                    "locales_dir": str(project / "locales"),
                },
                "telegram": {"token": fake.token, "base_url": fake.base_url},
                "organizers": {"telegram_ids": [777], "report_chat_id": 777},
            }
        )
        app = App(
            config,
            storage=open_storage(f"sqlite+aiosqlite:///{project / 'r.sqlite3'}", vault=TEST_VAULT),
        )
        await app.open()
        channel = TelegramChannel(config)
        app.channels = [channel]
        try:
            path = project / "dialogs" / "kyr.yaml"
            path.write_text(path.read_text(encoding="utf-8") + "\n  broken: [\n", "utf-8")
            assert app.reload() is False
            [report] = await fake.wait_for_sent(1, within=10)
        finally:
            await channel.stop()
            await app.close()
    assert report.chat_id == 777
    assert "kyr.yaml:" in report.text and "refused" in report.text
