"""Console parts without a browser: login links on an injected clock, charts, figures, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.conversation.service import NOT_UNDERSTOOD_TOPIC, ConversationService
from bot.messages import Address, Inbound
from bot.organizer.web.charts import stacked, svg
from bot.organizer.web.content_pages import routing_figures
from bot.organizer.web.logins import LINK_MINUTES, Logins
from bot.storage import Storage, console_store
from tests.support.paths import ROOT

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


def logins(storage: Storage, clock: Clock, organizers: tuple[int, ...] = (42,)) -> Logins:
    return Logins(
        console_store(storage),
        storage,
        organizers=organizers,
        idle=timedelta(minutes=30),
        now=clock,
    )


async def test_a_link_works_until_its_tenth_minute_and_then_never(storage: Storage):
    clock = Clock()
    service = logins(storage, clock)
    first = await service.make_link(42, "https://bot.example.org/")
    second = await service.make_link(42, "https://bot.example.org")
    assert first is not None and second is not None
    assert first.startswith("https://bot.example.org/console/login/")
    token = first.rsplit("/", 1)[1]
    clock.at = START + timedelta(minutes=LINK_MINUTES) - timedelta(seconds=1)
    assert (await service.log_in(token) or (0, ""))[0] == 42
    assert await service.log_in(token) is None  # used
    clock.at = START + timedelta(minutes=LINK_MINUTES)
    assert await service.log_in(second.rsplit("/", 1)[1]) is None  # expired
    assert await service.make_link(7, "https://bot.example.org") is None  # not an organizer
    actions = [e.action for e in await storage.audit_log()]
    assert actions.count("console_link") == 2 and actions.count("console_login") == 1


async def test_a_session_ends_when_idle_or_when_its_organizer_leaves_the_allow_list(
    storage: Storage,
):
    clock = Clock()
    service = logins(storage, clock)
    link = await service.make_link(42, "http://127.0.0.1:8080")
    assert link is not None
    result = await service.log_in(link.rsplit("/", 1)[1])
    assert result is not None
    _organizer, session = result
    clock.at += timedelta(minutes=29)
    assert await service.session(session) == 42
    clock.at += timedelta(minutes=29)  # used a minute ago: still alive
    assert await service.session(session) == 42
    assert await logins(storage, clock, organizers=()).session(session) is None
    clock.at += timedelta(minutes=31)
    assert await service.session(session) is None
    assert await service.session(None) is None
    assert await service.session("x" * 500) is None


def test_charts_are_svg_with_a_title_and_a_bar_per_value():
    chart = stacked(
        "by-language",
        "Topics <per> week",
        ["1 Dec", "8 Dec"],
        [("English", [3, 0]), ("Español", [1, 2])],
    )
    picture = svg(chart)
    assert picture.startswith("<svg") and 'role="img"' in picture
    assert '<title id="chart-by-language-title">Topics &lt;per&gt; week</title>' in picture
    assert picture.count("<rect") == 3 + 2  # three bars with a value, two legend keys
    assert chart.totals() == [4, 2] and not chart.empty
    assert stacked("x", "t", ["a"], []).empty


def test_routing_figures_are_the_last_row_of_the_figures_table(tmp_path: Path):
    figures = routing_figures(ROOT / "docs" / "ROUTING.md")
    assert figures is not None and figures.header[0] == "date"
    assert len(figures.row) == len(figures.header)
    table = tmp_path / "r.md"
    table.write_text(
        "intro\n\n| date | what | en |\n| --- | --- | --- |\n"
        "| 1 | old | 1% |\n| 2 | **new** | 2% |\n\nafter\n"
    )
    assert routing_figures(table).row == ("2", "new", "2%")  # type: ignore[union-attr]
    assert routing_figures(tmp_path / "missing.md") is None


def test_kyrbot_console_link_prints_a_link_for_an_organizer_and_refuses_anyone_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"},
                "server": {"public_url": "https://bot.example.org"},
                "organizers": {"telegram_ids": [42]},
                "console": {"enabled": True},
            }
        )
    )
    assert main(["console", "link", "--organizer", "42", "--config", str(config)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("https://bot.example.org/console/login/") and len(out) > 60
    assert main(["console", "link", "--organizer", "7", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "refused" in captured.err


async def test_a_message_the_bot_does_not_understand_is_counted_for_the_stats(
    service: ConversationService, storage: Storage
):
    address = Address("sms", "+14145550142")
    now = datetime.now(UTC)
    await service.handle(Inbound(address=address, text="hola", message_id="m1", received_at=now))
    await service.handle(
        Inbound(address=address, text="zzqx vrrp blorf", message_id="m2", received_at=now)
    )
    await service.flush_counters()
    rows = await storage.topic_counts(since=now.date(), until=now.date())
    assert sum(r.count for r in rows if r.node == NOT_UNDERSTOOD_TOPIC) == 1
