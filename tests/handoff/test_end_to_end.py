"""A person and the volunteers talk through a ticket: real webhooks, real clients, fake far ends.

What the person sees arrives as TwiML (answers to their own SMS) or by Twilio's REST API
(what volunteers write, sent later); what volunteers see is every message the bot sent to
the group on the fake Bot API.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.conversation.version import Content
from bot.sms_text import fold_accents as fold
from tests.handoff.world import (
    ANA,
    BEN,
    GROUP,
    MALLORY,
    PERSON_CHAT,
    PERSON_NUMBER,
    HandoffWorld,
    last_with,
    ticket_of,
)


def es(content: Content, context: str, msgid: str) -> str:
    return content.translator.gettext("es", context, msgid)


async def open_spanish_sms_ticket(world: HandoffWorld) -> str:
    """The SMS person opens the "someone was arrested" page, then asks for a volunteer."""
    await world.text("hola")
    await world.text("4")  # Someone was arrested
    answer = await world.text("voluntario")
    assert any("Escriba su pregunta ahora" in part for part in answer), answer
    [new] = await world.wait_for_group(1)
    return ticket_of(new)


async def test_a_spanish_sms_person_and_a_volunteer_talk_through_a_ticket_and_close_it(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        [new] = world.group_messages()
        assert new.text.startswith(f"Ticket {ticket} · es · SMS · from: arrested\n")

        silent = await world.text("Se llevaron a mi hermano esta mañana, ¿qué hago?")
        assert silent == []  # relayed: the bot itself says nothing
        relayed = (await world.wait_for_group(2))[-1]
        assert relayed.text == (
            f"Ticket {ticket} · es · SMS · from: arrested\n"
            "Se llevaron a mi hermano esta mañana, ¿qué hago?"
        )

        await world.volunteer_says(ANA, "Hola. ¿Sabe dónde lo detuvieron?", reply_to=relayed)
        [answer] = await world.wait_for_sms(1)
        assert answer == "Persona voluntaria: Hola. ¿Sabe dónde lo detuvieron?"

        await world.text("En la calle, cerca de la casa")
        await world.wait_for_group(3)
        await world.volunteer_says(ANA, f"/r {ticket.lower()} Gracias. Llame al abogado.")
        assert (await world.wait_for_sms(2))[
            -1
        ] == "Persona voluntaria: Gracias. Llame al abogado."

        await world.volunteer_says(ANA, f"/close {ticket}")
        closing = (await world.wait_for_sms(3))[-1]
        assert closing == fold(
            es(
                content,
                "handoff:closed_by_volunteer",
                "The volunteer ended this chat. Send MENU for the topics, or VOLUNTEER to write "
                "again.",
            )
        )
        assert world.group_messages()[-1].text == f"Ticket {ticket} is closed."

        after = await world.text("gracias")  # no longer relayed: the bot answers itself
        assert after and world.group_messages()[-1].text == f"Ticket {ticket} is closed."

        row = await world.storage.get_ticket(ticket)
        assert row is not None and row.status == "closed" and row.close_reason == "volunteer"
        assert (row.to_volunteers, row.to_person, row.claimed_by) == (2, 2, f"telegram:{ANA}")
        audit = [(e.actor, e.action, e.detail) for e in await world.storage.audit_log()]
        assert (f"telegram:{ANA}", "handoff.close", {"ticket": ticket}) in audit
        assert audit.count((f"telegram:{ANA}", "handoff.answer", {"ticket": ticket})) == 2


async def test_two_volunteers_race_to_answer_and_only_the_first_reaches_the_person(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        await world.text("¿Hay alguien?")
        relayed = (await world.wait_for_group(2))[-1]
        push = world.telegram.push_update
        update = world.telegram.text_update
        push(update(GROUP, "Sí, aquí Ana.", chat_type="supergroup", user_id=ANA, reply_to=relayed))
        push(update(GROUP, "Aquí Ben.", chat_type="supergroup", user_id=BEN, reply_to=relayed))
        await world.settle()

        assert await world.wait_for_sms(1) == ["Persona voluntaria: Sí, aquí Ana."]
        told = last_with(world.group_messages(), lambda t: "another volunteer" in t)
        assert told.text == (
            f"Ticket {ticket} is being answered by another volunteer; nothing of yours was sent."
        )
        await world.volunteer_says(BEN, f"/r {ticket} Ben otra vez")
        assert world.sms_to() == ["Persona voluntaria: Sí, aquí Ana."]  # still nothing of Ben's


async def test_someone_in_the_group_who_is_not_a_volunteer_never_reaches_the_person(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        sent_before = len(world.group_messages())
        await world.volunteer_says(MALLORY, f"/r {ticket} dime tu dirección")
        await world.volunteer_says(MALLORY, "/tickets")
        assert world.sms_to() == []
        assert len(world.group_messages()) == sent_before  # not even an answer in the group


async def test_outside_office_hours_the_bot_says_so_gives_the_hotline_and_opens_no_ticket(
    tmp_path: Path, content: Content
) -> None:
    later = (datetime.now(UTC).weekday() + 3) % 7  # never today, even across midnight
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[later]
    hours = [{"days": day, "start": "09:00", "end": "17:00"}]
    async with HandoffWorld(
        tmp_path, content, office_hours=hours, timezone="America/Chicago"
    ) as w:
        await w.text("hola")
        answer = "\n".join(await w.text("voluntario"))
        assert "Ahora no hay ninguna persona voluntaria de turno (" in answer
        assert "9:00-17:00" in answer
        assert "llame a una linea local de respuesta rapida" in answer  # SMS folds accents
        assert await w.storage.open_tickets() == []
        await w.settle()
        assert w.group_messages() == []
        assert await w.text("¿Hay alguien?")  # not relayed: the bot answers


async def test_forget_me_during_a_ticket_closes_it_erases_it_and_tells_the_group(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        await world.text("Tengo miedo")
        await world.wait_for_group(2)

        answer = await world.text("borrar")
        assert answer and answer[0].startswith("Listo. Borré todo lo que tenia guardado")
        notice = (await world.wait_for_group(3))[-1]
        assert notice.text == f"Ticket {ticket} closed: the person erased their data."
        assert await world.storage.get_ticket(ticket) is None  # erased with the contact
        assert await world.storage.tickets_since(datetime.now(UTC) - timedelta(days=1)) == []

        await world.volunteer_says(ANA, f"/r {ticket} ¿Sigue ahí?")
        assert world.sms_to() == []
        assert world.group_messages()[-1].text == f"There is no open ticket {ticket}."


async def test_a_ticket_left_idle_closes_with_a_message_to_the_person(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content, idle_minutes=20) as world:
        ticket = await open_spanish_sms_ticket(world)
        world.clock.offset = timedelta(minutes=19)
        assert await world.handoff.close_idle() == 0
        world.clock.offset = timedelta(minutes=21)
        assert await world.handoff.close_idle() == 1
        [closing] = await world.wait_for_sms(1)
        assert closing.startswith("Este chat con una persona voluntaria termino")  # folded
        await world.settle()
        assert world.group_messages()[-1].text == (
            f"Ticket {ticket} closed: nobody wrote for 20 minutes."
        )


async def test_menu_or_salir_ends_the_chat_and_the_bot_answers_again(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        answer = await world.text("SALIR")
        assert answer[0].startswith("Usted salio del chat con la persona voluntaria")
        assert (await world.wait_for_group(2))[-1].text == (
            f"Ticket {ticket}: the person left the chat."
        )
        assert await world.storage.open_tickets() == []


async def test_an_emergency_word_shows_the_emergency_page_and_keeps_the_volunteer(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        answer = "\n".join(await world.text("emergencia"))
        emergency = content.dialogs.node("kyr.emergency")
        page = es(content, emergency.say_context, emergency.say)
        assert page.split(".")[0].replace("á", "a") in answer.replace("á", "a")
        flagged = (await world.wait_for_group(2))[-1]
        assert flagged.text.startswith(f"Ticket {ticket} · es · SMS")
        assert "EMERGENCY WORD" in flagged.text
        assert [t.id for t in await world.storage.open_tickets()] == [ticket]


async def test_nothing_sent_to_the_group_carries_a_number_or_a_chat_id(
    tmp_path: Path, content: Content, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with HandoffWorld(tmp_path, content) as world:
        sms_ticket = await open_spanish_sms_ticket(world)
        await world.text("Mi número es privado")
        # A person on Telegram asks too, and writes.
        world.telegram.push_update(world.telegram.text_update(PERSON_CHAT, "/start en"))
        world.telegram.push_update(world.telegram.text_update(PERSON_CHAT, "volunteer"))
        await world.settle()
        world.telegram.push_update(world.telegram.text_update(PERSON_CHAT, "Is anyone there?"))
        await world.settle()
        tg_ticket = ticket_of(last_with(world.group_messages(), lambda t: "Is anyone there?" in t))
        await world.volunteer_says(ANA, f"/r {tg_ticket} Yes, I am here.")
        await world.volunteer_says(ANA, "/tickets")
        await world.volunteer_says(ANA, f"/close {sms_ticket}")
        await world.volunteer_says(ANA, f"/close {tg_ticket}")
        assert world.telegram.sent_to(PERSON_CHAT)[-2].text == "Volunteer: Yes, I am here."

        payloads = [
            str(call.params)
            for call in world.telegram.calls
            if str(call.params.get("chat_id")) == str(GROUP)
        ]
        assert len(payloads) >= 7
        digits = re.sub(r"\D", "", PERSON_NUMBER)
        forbidden = {PERSON_NUMBER, digits, digits[1:], digits[-7:], str(PERSON_CHAT)}
        contact_ids = {str(t.contact_id) for t in await world.storage.open_tickets()}
        hits = [(p, f) for p in payloads for f in forbidden if f in re.sub(r"[\s-]", "", p)]
        assert hits == []
        assert contact_ids == set()  # both closed
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (*forbidden, "Mi número es privado", "Is anyone there?", "Yes, I am here."):
        assert secret not in logged


async def test_the_database_holds_no_relayed_text_afterwards(
    tmp_path: Path, content: Content
) -> None:
    person_said = "ZEBRA-PERSON-WORDS mi hermano"
    volunteer_said = "QUOKKA-VOLUNTEER-WORDS llame"
    async with HandoffWorld(tmp_path, content) as world:
        ticket = await open_spanish_sms_ticket(world)
        await world.text(person_said)
        relayed = (await world.wait_for_group(2))[-1]
        await world.volunteer_says(ANA, volunteer_said, reply_to=relayed)
        await world.wait_for_sms(1)
        await world.volunteer_says(ANA, f"/close {ticket}")
    files = sorted(tmp_path.glob("bot.sqlite3*"))
    assert files
    for path in files:
        raw = path.read_bytes()
        for marker in (b"ZEBRA-PERSON-WORDS", b"QUOKKA-VOLUNTEER-WORDS", b"hermano"):
            assert marker not in raw, (path.name, marker)


async def test_a_message_the_group_did_not_get_is_reported_to_the_person(
    tmp_path: Path, content: Content
) -> None:
    async with HandoffWorld(tmp_path, content) as world:
        await open_spanish_sms_ticket(world)
        world.telegram.fail_next("sendMessage", chat_id=GROUP, status=400)
        assert await world.text("¿Me oyen?") == []
        [told] = await world.wait_for_sms(1)
        assert told.startswith("Su mensaje no pudo llegar a una persona voluntaria")
        assert "llame a una" in told
