"""The channel sections of the config: Telegram, and Twilio's SMS, WhatsApp and voice."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from bot.config.section import Section as _Section


class TelegramConfig(_Section):
    """The Telegram bot (``telegram.*``); a token turns the channel on."""

    token: str | None = None
    webhook_secret: str | None = None
    base_url: str | None = None
    """Another Bot API server (a local one, or a test fake): ``http://127.0.0.1:8081/bot``."""
    messages_per_second: float = Field(default=25, gt=0)


class WhatsAppTemplateConfig(_Section):
    """One approved WhatsApp template (``twilio.whatsapp.templates.<locale>``)."""

    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    """The template's Content SID (``HX`` and 32 hex digits), from Twilio's Content Template
    Builder, approved by WhatsApp for business-initiated messages."""
    variable: Literal["text", "notice"] = "notice"
    """What fills the template's one variable ``{{1}}``: the update's whole ``text``, or a
    short translated ``notice`` that there is news (the person replies to read it)."""


class WhatsAppConfig(_Section):
    """The WhatsApp sender on the same Twilio account (``twilio.whatsapp.*``)."""

    from_number: str | None = None
    """The WhatsApp-enabled sender (``+14145550100``; ``whatsapp:`` is added). Setting it
    turns the WhatsApp channel on."""
    messaging_service_sid: str | None = None
    """Send through this Messaging Service instead of ``from_number`` (its sender pool)."""
    templates: dict[str, WhatsAppTemplateConfig] = Field(default_factory=dict)
    """Per locale: the approved template broadcasts use outside the 24-hour window."""
    window_hours: float = Field(default=24, gt=0, le=24)
    """How long after a person's last message free-form messages may be sent (WhatsApp: 24)."""
    price_per_message: float = Field(default=0.005, ge=0)
    """US dollars per free-form message inside the window (Twilio's per-message fee)."""
    price_per_template: float = Field(default=0.03, ge=0)
    """US dollars per template message outside the window (Twilio's fee plus Meta's)."""
    messages_per_second: float = Field(default=10, gt=0)

    @field_validator("from_number")
    @classmethod
    def _sender_is_e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        bare = value.removeprefix("whatsapp:")
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", bare):
            raise ValueError("write the WhatsApp sender in E.164, such as +14145550100")
        return bare


class VoiceConfig(_Section):
    """Phone calls on the same Twilio account (``twilio.voice.*``)."""

    enabled: bool = False
    """Serve ``POST /twilio/voice``; point the number's "A call comes in" webhook at it."""
    voices: dict[str, str] = Field(
        default_factory=lambda: {"en": "Polly.Joanna-Neural", "es": "Polly.Lupe-Neural"}
    )
    """Per locale: the Twilio text-to-speech voice (``Polly.*``, ``Google.*``)."""
    speech_languages: dict[str, str] = Field(
        default_factory=lambda: {"en": "en-US", "es": "es-US"}
    )
    """Per locale: the BCP-47 language with region that ``<Say>`` and ``<Gather>`` use."""
    dial_pages: list[str] = Field(default_factory=lambda: ["kyr.person"])
    """Pages that connect the caller to ``organization.hotline`` (``<Dial>``) when it is set."""
    gather_timeout: int = Field(default=6, ge=1, le=30)
    """Seconds the call waits for a key or words before saying the choices again."""
    words_per_minute: int = Field(default=150, ge=60, le=300)
    """Speaking rate ``kyrbot check`` assumes when it estimates how long a page takes."""
    max_seconds: int = Field(default=60, ge=10)
    """``kyrbot check`` warns about a page that takes longer than this to say."""

    @field_validator("speech_languages")
    @classmethod
    def _languages_have_a_region(cls, value: dict[str, str]) -> dict[str, str]:
        for locale, language in value.items():
            if not re.fullmatch(r"[a-z]{2,3}-[A-Z0-9]{2,3}", language):
                raise ValueError(
                    f"{locale}: {language!r} is not a language with a region, such as es-US "
                    "(Twilio refuses a bare 'es')"
                )
        return value


class TwilioConfig(_Section):
    """The Twilio account for SMS, WhatsApp and voice (``twilio.*``); credentials turn SMS on."""

    account_sid: str | None = None
    auth_token: str | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str | None = None
    """Another REST server instead of Twilio's, for tests."""
    segments_per_second: float = Field(default=1, gt=0)
    provider_handles_opt_out: bool = True
    default_region: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")
    """The country (ISO 3166 code) of a number that arrives without ``+`` and country code."""
    whatsapp: WhatsAppConfig = WhatsAppConfig()
    voice: VoiceConfig = VoiceConfig()


class ReplyBudgetConfig(_Section):
    """How many replies one sender may get in a window (``sms.reply_budget``)."""

    replies: int = Field(default=20, ge=1)
    window_minutes: int = Field(default=10, ge=1)


class SmsConfig(_Section):
    """How SMS replies are written and what they cost (``sms.*``)."""

    segment_budget: int = Field(default=5, ge=1, le=10)
    fold_accents: dict[str, bool] = Field(default_factory=lambda: {"es": True})
    """Per locale: write á í ó ú as a i o u so Spanish goes as cheaper GSM-7 (é ñ ü ¿ ¡ are
    GSM-7 already). On by default for Spanish; ``{es: false}`` keeps every accent."""
    price_per_segment: float = Field(default=0.0079, ge=0)
    reply_budget: ReplyBudgetConfig = ReplyBudgetConfig()
