"""Volunteers' answers travel like any reply: stored, retried while a provider is down, in order.

The whole bot runs as in :mod:`tests.handoff.world` (real webhooks and clients, fake far ends,
the outbox wired as ``kyrbot serve`` wires it); a test makes the person's provider fail, then
recover, and runs the outbox's retry round itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bot.conversation.version import Content
from tests.fakes.twilio_server import twilio_error
from tests.handoff.test_end_to_end import open_spanish_sms_ticket
from tests.handoff.world import ANA, GROUP, PERSON_CHAT, PERSON_NUMBER, HandoffWorld, ticket_of


def es(content: Content, context: str, msgid: str) -> str:
    return content.translator.gettext("es", context, msgid)


def waiting_rows(tmp_path: Path) -> list[tuple[str, object]]:
    """The outbox rows still held, with whether their text is still there."""
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn:
        return [
            (str(state), payload is not None)
            for state, payload in conn.execute("SELECT status, payload FROM outbox ORDER BY id")
        ]


async def test_an_answer_the_sms_provider_refused_reaches_the_person_once_it_recovers(
    tmp_path: Path, content: Content
) -> None:
    volunteer_said = "QUOKKA-VOLUNTEER-WORDS llame al abogado"
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        await world.text("¿Qué hago ahora?")
        relayed = (await world.wait_for_group(2))[-1]

        world.twilio.enqueue(twilio_error(20500, status=500, message="Internal Server Error"))
        await world.volunteer_says(ANA, volunteer_said, reply_to=relayed)
        assert world.sms_to() == []  # Twilio refused it: nothing reached the person yet
        notice = (await world.wait_for_group(3))[-1]
        assert notice.text.startswith(f"Ticket {ticket}: ")
        assert "10 minutes" in notice.text  # told it is kept and retried, not lost
        assert waiting_rows(tmp_path) == [("pending", True)]

        assert await world.retry_outbox() == 1
        assert world.sms_to() == [f"Persona voluntaria: {volunteer_said}"]
        assert await world.retry_outbox() == 0  # sent once, never twice
        assert world.sms_to() == [f"Persona voluntaria: {volunteer_said}"]
        assert waiting_rows(tmp_path) == []
        # While the bot still runs: no copy of the answer in the database or its -wal file.
        for path in sorted(tmp_path.glob("bot.sqlite3*")):
            assert b"QUOKKA-VOLUNTEER-WORDS" not in path.read_bytes(), path.name

        [opened] = await world.storage.open_tickets()
        assert (opened.id, opened.to_person) == (ticket, 1)  # counted as answered
        await world.volunteer_says(ANA, f"/close {ticket}")
        await world.wait_for_sms(2)
    for path in sorted(tmp_path.glob("bot.sqlite3*")):
        assert b"QUOKKA-VOLUNTEER-WORDS" not in path.read_bytes(), path.name


async def test_an_answer_waits_behind_a_reply_to_the_person_still_in_the_outbox(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        telegram = world.telegram

        async def person_writes(text: str) -> None:
            telegram.push_update(telegram.text_update(PERSON_CHAT, text, language_code="es"))
            await world.settle()

        await person_writes("hola")
        greeted = len(telegram.sent_to(PERSON_CHAT))
        assert greeted >= 1
        # The bot's answer to "voluntario" (what will happen now) cannot reach the person.
        telegram.fail_next("sendMessage", chat_id=PERSON_CHAT, status=502)
        await person_writes("voluntario")
        [new] = [m for m in telegram.sent_to(GROUP) if m.text.startswith("Ticket ")]
        ticket = ticket_of(new)

        await world.volunteer_says(ANA, f"/r {ticket} Hola, le escucho.")
        # The answer must not arrive before the explanation that is still waiting.
        assert len(telegram.sent_to(PERSON_CHAT)) == greeted
        assert "10 minutes" in telegram.sent_to(GROUP)[-1].text

        retried = await world.retry_outbox()
        arrived = [m.text for m in telegram.sent_to(PERSON_CHAT)[greeted:]]
        on_duty = es(
            content,
            "handoff:on_duty",
            "Write your question now. A volunteer will answer here as soon as they can.",
        )
        assert retried == len(arrived)  # each sent once
        assert on_duty in arrived[:-1]  # first what the bot said, then the answer
        assert arrived[-1] == "Persona voluntaria: Hola, le escucho."


async def test_the_number_never_reaches_the_group_when_an_answer_is_retried(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        world.twilio.enqueue(twilio_error(20500, status=500, message="Internal Server Error"))
        await world.volunteer_says(ANA, f"/r {ticket} ¿Sigue ahí?")
        await world.retry_outbox()
        assert world.sms_to() == ["Persona voluntaria: ¿Sigue ahí?"]
        digits = PERSON_NUMBER.lstrip("+")
        for message in world.group_messages():
            assert digits not in message.text and digits[-7:] not in message.text


async def test_an_answer_the_provider_refuses_for_good_is_reported_and_not_kept(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        world.twilio.enqueue(twilio_error(21211, message="Invalid 'To' Phone Number"))
        await world.volunteer_says(ANA, f"/r {ticket} QUOKKA-VOLUNTEER-WORDS")
        assert world.group_messages()[-1].text == (
            f"Ticket {ticket}: your answer could not be delivered."
        )
        assert await world.retry_outbox() == 0  # given up on: never sent later
        assert world.sms_to() == []
        [opened] = await world.storage.open_tickets()
        assert opened.to_person == 0
        for path in sorted(tmp_path.glob("bot.sqlite3*")):
            assert b"QUOKKA-VOLUNTEER-WORDS" not in path.read_bytes(), path.name
