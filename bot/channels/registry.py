"""Builds the configured channels from config: with bot.app, the one place that names adapters.

* :func:`describe` gives the capabilities of every channel the bot has, configured here or
  not (a broadcast preview prices SMS on a machine without Twilio credentials; a report names
  every channel found in the database).
* :func:`build_channels` builds the channels the config enables: a token or credentials make
  a channel active. ``kyrbot serve`` and ``kyrbot broadcast send`` both use it.

Adapters are imported only when built, so the command line stays quick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.channels.base import Channel
from bot.channels.capabilities import Capabilities
from bot.channels.sms.capabilities import CHANNEL as SMS
from bot.channels.sms.capabilities import fold_for, sms_capabilities
from bot.channels.telegram.capabilities import CHANNEL as TELEGRAM
from bot.channels.telegram.capabilities import telegram_capabilities
from bot.channels.voice.capabilities import CHANNEL as VOICE
from bot.channels.voice.capabilities import VOICE_CAPABILITIES
from bot.channels.whatsapp.capabilities import CHANNEL as WHATSAPP
from bot.channels.whatsapp.capabilities import whatsapp_capabilities
from bot.config import Config


def describe(config: Config) -> dict[str, Capabilities]:
    """``{channel name: capabilities}`` for every channel the bot has, under ``config``."""
    from bot.channels.terminal import TerminalChannel

    return {
        TELEGRAM: telegram_capabilities(config),
        SMS: sms_capabilities(config),
        WHATSAPP: whatsapp_capabilities(config),
        VOICE: VOICE_CAPABILITIES,
        TerminalChannel.name: TerminalChannel.capabilities,
    }


PREVIEWS: tuple[str, ...] = ("terminal", SMS, TELEGRAM, WHATSAPP, VOICE)
"""How ``kyrbot chat --as`` can show the conversation."""


def fold_accents(config: Config) -> Callable[[str], bool]:
    """Whether SMS text in a locale has its accents folded (``sms.fold_accents``)."""
    return lambda locale: fold_for(config.sms.fold_accents, locale)


def carrier_help_channels(config: Config) -> frozenset[str]:
    """The channels whose HELP is the carriers' short service notice."""
    return frozenset(name for name, caps in describe(config).items() if caps.carrier_help)


def window_channels(config: Config) -> frozenset[str]:
    """The channels with a reply window, whose contacts' last message time is kept."""
    return frozenset(
        name for name, caps in describe(config).items() if caps.reply_window_hours is not None
    )


def build_channels(
    config: Config,
    *,
    command_descriptions: Mapping[str, Mapping[str, str]] | None = None,
    voice_words: Mapping[str, Mapping[str, str]] | None = None,
    notices: Mapping[str, str] | None = None,
    private_chats_notice: str | None = None,
) -> list[Channel]:
    """The channels ``config`` enables, not yet started.

    Args:
        config: the validated configuration.
        command_descriptions: Telegram's command menu per locale, from the catalogs.
        voice_words: what calls say besides the pages, per locale, from the catalogs.
        notices: the WhatsApp template's short notice per locale, from the catalogs.
        private_chats_notice: what Telegram says before leaving a group, from the catalogs.

    Raises:
        ConfigError: an enabled channel is configured wrongly (see each adapter).
    """
    channels: list[Channel] = []
    if config.telegram.token:
        from bot.channels.telegram.adapter import TelegramChannel

        channels.append(
            TelegramChannel(
                config,
                command_descriptions=command_descriptions,
                private_chats_notice=private_chats_notice,
            )
        )
    twilio = config.twilio
    if twilio.account_sid and twilio.auth_token:
        from bot.channels.sms.adapter import SmsChannel

        sms = SmsChannel(config)
        channels.append(sms)
        if twilio.whatsapp.from_number or twilio.whatsapp.messaging_service_sid:
            from bot.channels.whatsapp.adapter import WhatsAppChannel

            whatsapp = WhatsAppChannel(config, notices=notices)
            sms.hand_whatsapp_to(whatsapp.handle_form)
            channels.append(whatsapp)
        if twilio.voice.enabled:
            from bot.channels.voice.adapter import VoiceChannel

            channels.append(VoiceChannel(config, words=voice_words or {}))
    return channels
