"""The handoff service on the real conversation, with a recording relay: who gets what, when."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.channels.capabilities import Capabilities
from bot.channels.desk import VolunteerMessage
from bot.config import Config
from bot.conversation.service import ConversationService
from bot.handoff.relay import Delivery
from bot.handoff.service import HandoffService
from bot.messages import Address, Inbound
from bot.storage.base import Storage

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday
PERSON = Address("sms", "+14145550177")
CAPABILITIES = {
    "sms": Capabilities(buttons=False, max_text_length=1600, display_name="SMS"),
    "voice": Capabilities(
        buttons=False, max_text_length=1000, display_name="Voice", text_handoff=False
    ),
}


@dataclasses.dataclass
class RecordingRelay:
    """A RelaySender that records what would be sent."""

    to_person: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    to_group: list[str] = dataclasses.field(default_factory=list)

    async def send_to_person(self, contact_id: int, text: str) -> Delivery:
        self.to_person.append((contact_id, text))
        return Delivery.SENT

    async def send_to_group(self, text: str, *, on_behalf_of: int | None = None) -> None:
        self.to_group.append(text)


def wire(
    service: ConversationService, storage: Storage, config: Config, relay: RecordingRelay | None
) -> HandoffService:
    handoff = HandoffService(
        storage=storage,
        config=config,
        conversation=service,
        sender=relay,
        capabilities=CAPABILITIES,
        clock=lambda: NOW,
    )
    service.hooks = handoff
    return handoff


async def say(service: ConversationService, text: str, address: Address = PERSON) -> str:
    replies = await service.handle(Inbound(address, text, NOW))
    return "\n".join(r.text for r in replies)


async def test_after_repeated_misses_the_bot_offers_a_volunteer_and_1_opens_a_ticket(
    service: ConversationService, storage: Storage, config: Config
) -> None:
    relay = RecordingRelay()
    wire(service, storage, config, relay)
    await say(service, "hello")
    await say(service, "qwxz blorp")
    replies = await service.handle(Inbound(PERSON, "zzkv frob", NOW))
    assert [c.label for c in replies[-1].choices] == ["Write to a volunteer"]
    opened = await say(service, "1")
    assert "A volunteer will read what you write here" in opened
    assert "Write your question now." in opened
    [ticket] = await storage.open_tickets()
    assert ticket.page is None and relay.to_group[0].startswith(
        f"Ticket {ticket.id} · en · SMS · from: menu\n"
    )


async def test_the_command_word_opens_a_ticket_from_the_page_the_person_was_on(
    service: ConversationService, storage: Storage, config: Config
) -> None:
    relay = RecordingRelay()
    wire(service, storage, config, relay)
    await say(service, "hola")
    await say(service, "5")  # judge's warrant or ICE warrant
    await say(service, "VOLUNTARIO")
    [ticket] = await storage.open_tickets()
    assert (ticket.locale, ticket.page) == ("es", "kyr.warrants")


async def test_without_a_volunteers_group_asking_gives_the_phone_and_no_ticket(
    service: ConversationService, storage: Storage, config: Config
) -> None:
    wire(service, storage, config, None)
    await say(service, "hello")
    answer = await say(service, "volunteer")
    assert answer.startswith("Volunteers do not answer messages on this line.")
    assert "call a trusted local immigrant-rights group" in answer
    assert await storage.open_tickets() == []
    assert await say(service, "what is a warrant")  # still the bot answering


async def test_on_voice_asking_for_a_person_gives_the_hotline_to_call(
    service: ConversationService, storage: Storage, config: Config
) -> None:
    relay = RecordingRelay()
    wire(service, storage, config, relay)
    caller = Address("voice", "+14145550178")
    await say(service, "hello", caller)
    answer = await say(service, "volunteer", caller)
    assert answer.startswith("To talk to a person, call a local rapid-response hotline.")
    assert await storage.open_tickets() == [] and relay.to_group == []


async def test_a_volunteers_answer_over_the_sms_budget_is_refused_in_the_group(
    service: ConversationService, storage: Storage, config: Config
) -> None:
    class TooLong(RecordingRelay):
        async def send_to_person(self, contact_id: int, text: str) -> Delivery:
            return Delivery.TOO_LONG

    relay = TooLong()
    handoff = wire(service, storage, config, relay)
    await say(service, "hello")
    await say(service, "volunteer")
    [ticket] = await storage.open_tickets()
    await handoff.on_volunteer(VolunteerMessage("telegram:1", f"{ticket.id} " + "x" * 900, "r"))
    assert relay.to_group[-1].startswith("Too long for this person's phone")
    still = await storage.get_ticket(ticket.id)
    assert still is not None and still.to_person == 0
    assert [e.action for e in await storage.audit_log()] == []  # nothing sent, nothing done
    # ...and the idle clock starts from the person's last message.
    assert await storage.idle_tickets(before=NOW + timedelta(minutes=1)) == [still]
