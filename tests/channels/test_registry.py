"""Channels built from config, and what each can do and costs, as data."""

from __future__ import annotations

import pytest
from telegram.constants import MessageLimit

from bot.channels import registry
from bot.channels.capabilities import SendUnit
from bot.channels.sms.adapter import SmsChannel
from bot.channels.telegram.adapter import TelegramChannel
from bot.channels.telegram.capabilities import MAX_TEXT_LENGTH
from bot.config import parse_config
from tests.fakes.twilio_server import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN


def test_no_token_or_credentials_builds_no_channel():
    assert registry.build_channels(parse_config({})) == []


def test_a_token_and_credentials_build_both_channels_with_rates_from_config():
    config = parse_config(
        {
            "telegram": {"token": "123:ABC", "messages_per_second": 12},
            "twilio": {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "segments_per_second": 3,
            },
        }
    )

    telegram, sms = registry.build_channels(config)

    assert isinstance(telegram, TelegramChannel) and isinstance(sms, SmsChannel)
    assert (telegram.capabilities.send_rate, telegram.capabilities.send_unit) == (
        12,
        SendUnit.MESSAGES,
    )
    assert (sms.capabilities.send_rate, sms.capabilities.send_unit) == (3, SendUnit.SEGMENTS)
    assert telegram.console() is not None and sms.console() is None


def test_every_channel_is_described_without_credentials():
    described = registry.describe(parse_config({}))

    assert {name: c.display_name for name, c in described.items()} == {
        "telegram": "Telegram",
        "sms": "SMS",
        "whatsapp": "WhatsApp",
        "voice": "Voice",
        "terminal": "Terminal",
    }
    assert [name for name, c in described.items() if c.delivery_reports] == ["sms", "whatsapp"]
    assert registry.window_channels(parse_config({})) == {"whatsapp"}


def test_a_whatsapp_sender_and_voice_build_their_channels_next_to_sms():
    config = parse_config(
        {
            "twilio": {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "whatsapp": {"from_number": "+15550100100", "messages_per_second": 20},
                "voice": {"enabled": True},
            },
        }
    )

    names = [channel.name for channel in registry.build_channels(config)]

    assert names == ["sms", "whatsapp", "voice"]


@pytest.mark.parametrize("fold", [False, True])
def test_the_sms_estimate_is_the_text_as_sent_with_folding_flipped_as_alternative(fold: bool):
    config = parse_config({"sms": {"fold_accents": {"es": fold}, "price_per_segment": 0.01}})
    costs = registry.describe(config)["sms"].costs
    spanish = "Información: la política cambió. " * 4 + "Lea más aquí."  # 145 characters

    estimate = costs.estimate(spanish, "es_MX")  # a regional locale follows its language

    other = estimate.alternative
    assert other is not None
    assert (estimate.folded, other.folded) == (fold, not fold)
    assert (estimate.encoding, other.encoding) == (
        ("GSM-7", "UCS-2") if fold else ("UCS-2", "GSM-7")
    )
    assert (estimate.units, other.units) == ((1.0, 3.0) if fold else (3.0, 1.0))
    assert estimate.price == pytest.approx(estimate.units * 0.01)
    assert estimate.text.startswith("Informacion" if fold else "Información")


def test_telegram_sends_one_free_message_per_text():
    estimate = registry.describe(parse_config({}))["telegram"].costs.estimate("Hola", "es")

    assert (estimate.units, estimate.price, estimate.bodies) == (1.0, 0.0, ("Hola",))


def test_telegrams_text_limit_matches_the_library():
    assert MAX_TEXT_LENGTH == MessageLimit.MAX_TEXT_LENGTH
