"""The per-sender reply budget: a sliding window kept in memory, keyed by hashes."""

from __future__ import annotations

from bot.channels.sms.budget import ReplyBudget
from bot.channels.sms.webhook import twiml
from tests.fakes.twilio_server import FakeClock


def test_budget_is_a_sliding_window_per_key():
    clock = FakeClock()
    budget = ReplyBudget(replies=2, window_seconds=60, clock=clock)

    budget.spend("a")
    clock.advance(30)
    budget.spend("a")
    assert budget.exhausted("a")
    assert not budget.exhausted("b")

    clock.advance(30)  # the first reply is now 60 s old and leaves the window
    assert not budget.exhausted("a")
    budget.spend("a")
    assert budget.exhausted("a")


def test_refusal_is_reported_once_per_window():
    clock = FakeClock()
    budget = ReplyBudget(replies=1, window_seconds=60, clock=clock)
    budget.spend("a")

    assert [budget.first_refusal("a") for _ in range(3)] == [True, False, False]
    clock.advance(61)
    assert budget.first_refusal("a")


def test_idle_keys_are_pruned():
    clock = FakeClock()
    budget = ReplyBudget(replies=5, window_seconds=60, clock=clock)
    for i in range(1000):
        budget.spend(f"old{i}")
    clock.advance(120)

    for i in range(1024):
        budget.spend(f"new{i}")

    assert len(budget._sent) <= 1024


def test_twiml_escapes_text_and_drops_characters_xml_cannot_carry():
    assert twiml([]) == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert twiml(["a & b < c", "x\fy\x00"]) == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Message>a &amp; b &lt; c</Message><Message>xy</Message></Response>"
    )


def test_a_flood_of_new_numbers_keeps_the_table_bounded_and_the_looping_one_counted():
    clock = FakeClock()
    budget = ReplyBudget(replies=3, window_seconds=600, clock=clock)
    for _ in range(3):
        budget.spend("looping-bot")
    for i in range(3 * ReplyBudget.MAX_SENDERS):
        budget.spend(f"new{i}")
        budget.first_refusal(f"new{i}")
        if i % 1000 == 0:
            budget.spend("looping-bot")  # still answered now and then: stays recent

    assert len(budget) <= 2 * ReplyBudget.MAX_SENDERS
    assert budget.exhausted("looping-bot")
