"""Who gets broadcasts: every way in (dialog, /subscribe, JOIN/UNIRSE) and every way out."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from bot.channels.sms.webhook import parse_sms
from bot.conversation.service import ConversationService
from bot.messages import Address, Inbound, InboundKind, Reply
from bot.storage.base import Storage
from tests.support.paths import NOW

_clock = itertools.count(1)
_people = itertools.count(1)


def sms_person() -> Address:
    return Address("sms", f"+1414777{next(_people):04d}")


def telegram_person() -> Address:
    return Address("telegram", str(880_000 + next(_people)))


async def text(service: ConversationService, address: Address, body: str) -> list[Reply]:
    """What a person gets for a message; SMS goes through the adapter's parser first."""
    when = NOW + timedelta(seconds=next(_clock))
    if address.channel == "sms":
        form = {"From": address.id, "Body": body, "MessageSid": f"SM{next(_clock)}"}
        inbound = parse_sms(form, received_at=when).inbound
    else:
        inbound = Inbound(address, body, when)
    return list(await service.handle(inbound))


async def press(service: ConversationService, address: Address, choice: str) -> list[Reply]:
    when = NOW + timedelta(seconds=next(_clock))
    return list(await service.handle(Inbound(address, "", when, choice_id=choice)))


async def command(service: ConversationService, address: Address, name: str) -> list[Reply]:
    when = NOW + timedelta(seconds=next(_clock))
    inbound = Inbound(address, "", when, kind=InboundKind.COMMAND, command=name, locale_hint="es")
    return list(await service.handle(inbound))


async def audience(storage: Storage) -> int:
    return sum(row.count for row in await storage.count_audience())


async def test_subscribing_in_the_dialog_records_consent_and_says_how_to_stop(service, storage):
    person = telegram_person()
    [menu] = await text(service, person, "hello")
    assert "n:kyr.menu_more" in [c.id for c in menu.choices]
    [more] = await press(service, person, "n:kyr.menu_more")
    assert "n:kyr.subscribe" in [c.id for c in more.choices]
    [offer] = await press(service, person, "n:kyr.subscribe")

    [done] = await press(service, person, offer.choices[0].id)

    contact = await storage.get_contact(person)
    assert contact is not None
    assert contact.subscribed
    assert contact.consent_at is not None
    assert contact.consent_at > NOW
    assert 'then "Stop updates"' in done.text
    assert "By SMS you can also send STOP" in done.text
    assert await audience(storage) == 1


async def test_the_subscribe_command_subscribes_and_answers_in_spanish(service, storage):
    person = telegram_person()
    [done] = await command(service, person, "subscribe")

    contact = await storage.get_contact(person)
    assert contact is not None
    assert contact.subscribed
    assert '"Ya no quiero avisos"' in done.text
    assert "BAJA" in done.text


@pytest.mark.parametrize(
    ("word", "how_to_stop"),
    [("JOIN", "send STOP"), ("join", "send STOP"), ("UNIRSE", "enviar BAJA"), ("Únete", "BAJA")],
)
async def test_join_or_unirse_by_sms_subscribes(service, storage, word, how_to_stop):
    person = sms_person()
    first = "hello" if word.lower() == "join" else "hola"
    await text(service, person, first)

    replies = await text(service, person, word)

    contact = await storage.get_contact(person)
    assert contact is not None
    assert contact.subscribed
    assert contact.consent_at is not None
    assert how_to_stop in replies[0].text


async def subscribed(service: ConversationService, person: Address) -> None:
    await text(service, person, "hola")
    await text(service, person, "UNIRSE")


@pytest.mark.parametrize("word", ["STOP", "BAJA", "parar"])
async def test_an_sms_stop_word_takes_someone_off(service, storage, word):
    person = sms_person()
    await subscribed(service, person)

    await text(service, person, word)

    contact = await storage.get_contact(person)
    assert contact is not None
    assert (contact.opted_out, contact.subscribed) == (True, False)
    assert await audience(storage) == 0


async def test_the_unsubscribe_command_takes_someone_off(service, storage):
    person = telegram_person()
    await command(service, person, "subscribe")

    await command(service, person, "unsubscribe")

    contact = await storage.get_contact(person)
    assert contact is not None
    assert not contact.subscribed
    assert await audience(storage) == 0


async def test_stop_updates_in_the_dialog_takes_someone_off(service, storage):
    person = sms_person()
    await subscribed(service, person)

    [done] = await press(service, person, "n:kyr.subscribe_stop")

    contact = await storage.get_contact(person)
    assert contact is not None
    assert not contact.subscribed
    assert "avisos" in done.text
    assert await audience(storage) == 0


@pytest.mark.parametrize("opted_out", [False, True], ids=["telegram-block", "twilio-21610"])
async def test_a_block_or_a_provider_opt_out_takes_someone_off(service, storage, opted_out):
    person = telegram_person() if not opted_out else sms_person()
    await subscribed(service, person)

    # What the Telegram adapter reports for a block, and the SMS adapter for a 21610.
    await service.contact_unreachable(person, opted_out=opted_out)

    assert await audience(storage) == 0
    # Writing in again makes a blocked person reachable; an opt-out needs START.
    await text(service, person, "hola")
    assert await audience(storage) == (0 if opted_out else 1)
