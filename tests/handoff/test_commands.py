"""What volunteers' messages mean, and when volunteers are on duty."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.desk import VolunteerMessage
from bot.config import HandoffConfig, parse_config
from bot.errors import ConfigError
from bot.handoff.commands import Answer, Close, Ignore, ListTickets, Usage, parse
from bot.handoff.hours import OfficeHours
from bot.handoff.tickets import ALPHABET, new_ticket_id, parse_ticket_id, ticket_id_of

HEAD = "Ticket K7P · es · SMS · from: arrested\nthe person's words"


def said(text: str, command: str | None = None, replied_to: str | None = None) -> VolunteerMessage:
    return VolunteerMessage("telegram:1", text, command, replied_to)


@pytest.mark.parametrize(
    ("message", "meaning"),
    [
        (said("Hola, ¿dónde está?", replied_to=HEAD), Answer("K7P", "Hola, ¿dónde está?")),
        (said("k7p Llame al abogado", "r"), Answer("K7P", "Llame al abogado")),
        (said("Llame al abogado", "r", replied_to=HEAD), Answer("K7P", "Llame al abogado")),
        (said("K7P", "close"), Close("K7P")),
        (said("", "close", replied_to=HEAD), Close("K7P")),
        (said("", "tickets"), ListTickets()),
        (said("", "close"), Usage()),
        (said("K7P", "r"), Usage()),
        (said("", "start"), Usage()),
        (said("who is on tonight?"), Ignore()),
        (said("ok", replied_to="New week, new rota"), Ignore()),
    ],
)
def test_a_volunteers_message_means(message: VolunteerMessage, meaning: object) -> None:
    assert parse(message) == meaning


def test_ticket_ids_are_short_unambiguous_and_read_back() -> None:
    ids = {new_ticket_id() for _ in range(200)}
    assert all(len(i) == 3 and set(i) <= set(ALPHABET) for i in ids)
    assert not set("0O1IL2Z5S8B") & set(ALPHABET)
    assert parse_ticket_id(" k7p ") == "K7P" and parse_ticket_id("K7") is None
    assert ticket_id_of(HEAD) == "K7P" and ticket_id_of("hello there") is None


def hours(**handoff: object) -> OfficeHours:
    return OfficeHours.from_config(HandoffConfig.model_validate(handoff))


def test_no_office_hours_means_always_on_duty() -> None:
    assert hours().on_duty(datetime(2026, 3, 8, 3, 0, tzinfo=UTC))


def test_office_hours_are_read_in_their_time_zone() -> None:
    weekdays = hours(
        office_hours=[{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
        timezone="America/Chicago",
    )
    # Monday 2026-03-02: 15:00 UTC is 09:00 in Chicago (CST); 14:59 UTC is 08:59.
    assert weekdays.on_duty(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    assert not weekdays.on_duty(datetime(2026, 3, 2, 14, 59, tzinfo=UTC))
    assert not weekdays.on_duty(datetime(2026, 3, 7, 18, 0, tzinfo=UTC))  # Saturday
    assert weekdays.describe("en") == "Mon-Fri 9:00-17:00"
    assert weekdays.describe("es") == "lun-vie 9:00-17:00"


@pytest.mark.parametrize(
    ("handoff", "message"),
    [
        ({"office_hours": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}, "weekdays"),
        ({"office_hours": [{"days": "mon", "start": "17:00", "end": "09:00"}]}, "not after"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
    ],
)
def test_bad_office_hours_are_refused_naming_the_key(handoff: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config({"handoff": handoff})
    assert "handoff" in str(raised.value)


def test_volunteers_default_to_the_organizers_and_the_group_is_a_configured_chat() -> None:
    config = parse_config(
        {
            "organizers": {"telegram_ids": [7], "report_chat_id": -5},
            "handoff": {"telegram_chat_id": -9},
        }
    )
    assert config.volunteer_ids() == {7}
    assert config.configured_telegram_chats() == {-5, -9}
    listed = parse_config({"organizers": {"telegram_ids": [7]}, "handoff": {"volunteer_ids": [8]}})
    assert listed.volunteer_ids() == {8}
