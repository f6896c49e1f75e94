"""Golden transcripts: whole conversations replayed through the terminal adapter.

Each ``tests/transcripts/*.yaml`` lists what a person types and, for each line, the page
(``node``), the language and the exact text the channel would show. After a reviewed content
change, rewrite the expected text with ``KYRBOT_UPDATE_TRANSCRIPTS=1 make test``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import channel_callbacks
from bot.channels.terminal import TerminalChannel
from bot.channels.voice.words import translated
from bot.conversation.service import ConversationService
from tests.support.content import STABLE as STABLE_TOPICS

FOLDER = Path(__file__).resolve().parents[1] / "transcripts"
UPDATE = os.environ.get("KYRBOT_UPDATE_TRANSCRIPTS") == "1"


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


async def replay(service: ConversationService, transcript: dict[str, Any]) -> list[dict[str, Any]]:
    lines = "".join(f"{turn['in']}\n" for turn in transcript["turns"])
    out = io.StringIO()
    render = transcript.get("render", "terminal")
    words = None
    if render == "voice":
        words = translated(service.content.translator.text, service.content.engine.locales)
    channel = TerminalChannel(
        render_as=render,
        voice_words=words,
        as_json=True,
        locale_hint=transcript.get("lang"),
        stdin=io.StringIO(lines),
        stdout=out,
        interactive=False,
    )
    await channel.start(channel_callbacks(service))
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.stem)
async def test_transcript(path: Path, service: ConversationService) -> None:
    transcript = yaml.safe_load(path.read_text(encoding="utf-8"))
    records = await replay(service, transcript)
    assert len(records) == len(transcript["turns"])
    if UPDATE:
        for turn, record in zip(transcript["turns"], records, strict=True):
            turn["node"] = record["node"]
            turn["locale"] = record["locale"]
            turn["out"] = _Literal("\n\n".join(r["text"] for r in record["replies"]))
        path.write_text(
            yaml.safe_dump(transcript, allow_unicode=True, sort_keys=False, width=1000),
            encoding="utf-8",
        )
        return
    for number, (turn, record) in enumerate(zip(transcript["turns"], records, strict=True), 1):
        where = f"{path.name} turn {number} ({turn['in']!r})"
        assert record["node"] == turn["node"], where
        assert record["locale"] == turn["locale"], where
        shown = "\n\n".join(r["text"] for r in record["replies"])
        assert shown == turn["out"].rstrip("\n"), where


def test_transcripts_visit_every_topic_in_both_languages() -> None:
    stable = set(STABLE_TOPICS)
    seen: dict[tuple[str, str], set[str]] = {}
    for path in FOLDER.glob("*.yaml"):
        transcript = yaml.safe_load(path.read_text(encoding="utf-8"))
        render = transcript.get("render", "terminal")
        for turn in transcript["turns"]:
            if turn.get("node") and turn.get("locale"):
                key = (render, turn["locale"])
                seen.setdefault(key, set()).add(turn["node"].split(".", 1)[1])
    for render in ("sms", "telegram", "whatsapp", "voice"):
        for locale in ("en", "es"):
            missing = stable - seen.get((render, locale), set())
            assert not missing, f"{render}/{locale} transcripts never show {sorted(missing)}"


def test_sms_transcripts_show_every_page_in_both_languages(content) -> None:
    """Every page, situation pages and small talk included, has golden SMS text in en and es."""
    pages = {node_id.split(".", 1)[1] for node_id in content.dialogs.nodes}
    seen: dict[str, set[str]] = {}
    for path in FOLDER.glob("*.yaml"):
        transcript = yaml.safe_load(path.read_text(encoding="utf-8"))
        if transcript.get("render") != "sms":
            continue
        for turn in transcript["turns"]:
            if turn.get("node") and turn.get("locale"):
                seen.setdefault(turn["locale"], set()).add(turn["node"].split(".", 1)[1])
    for locale in ("en", "es"):
        missing = pages - seen.get(locale, set())
        assert not missing, f"sms/{locale} transcripts never show {sorted(missing)}"
