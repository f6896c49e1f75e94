"""Typed settings from a YAML file plus environment variables, validated once at start-up."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import Field, ValidationError, field_validator

from bot.config.channels import ReplyBudgetConfig as ReplyBudgetConfig
from bot.config.channels import SmsConfig as SmsConfig
from bot.config.channels import TelegramConfig as TelegramConfig
from bot.config.channels import TwilioConfig as TwilioConfig
from bot.config.channels import VoiceConfig as VoiceConfig
from bot.config.channels import WhatsAppConfig as WhatsAppConfig
from bot.config.channels import WhatsAppTemplateConfig as WhatsAppTemplateConfig
from bot.config.handoff import HandoffConfig as HandoffConfig
from bot.config.handoff import OfficeHoursWindow as OfficeHoursWindow
from bot.config.handoff import parse_days as parse_days
from bot.config.section import Section as _Section
from bot.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DatabaseConfig(_Section):
    """Where the bot keeps its data (``database.*``)."""

    url: str = "sqlite+aiosqlite:///data/kyrbot.sqlite3"
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``."""


class ServerConfig(_Section):
    """The one web server for webhooks and health checks (``server.*``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    """The https address the outside world uses to reach this server (Twilio signs it)."""
    max_body_bytes: int = 65536

    def public_url_is_plain_http(self) -> bool:
        """Whether ``public_url`` is ``http://`` to a host other than this machine.

        Twilio signs the https address it posts to, so behind such a URL no real webhook's
        signature matches; ``http://localhost`` and ``http://127.0.0.1`` are for local tests.
        """
        if not self.public_url:
            return False
        parts = urlsplit(self.public_url)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        return parts.scheme.lower() == "http" and not local


class ContentConfig(_Section):
    """Where dialogs, catalogs and examples are, and review dates (``content.*``)."""

    dialogs_dir: Path = Path("dialogs")
    locales_dir: Path = Path("locales")
    last_reviewed: date | None = None
    """When the content was last checked against public sources; shown on the about page."""
    legal_review: date | None = None
    """When a lawyer last reviewed the content; unset, the about page says it has not been."""
    examples_dir: Path | None = None
    """Labelled example messages for free-text routing; default ``<dialogs_dir>/examples``."""
    cache_dir: Path | None = Path("data/cache")
    """Where the intent model trained from the examples is cached by content hash
    (``null``: train at every start, a few seconds)."""


class SessionConfig(_Section):
    """How long a conversation lasts and when a person is offered (``session.*``)."""

    idle_minutes: int = Field(default=30, ge=1)
    """After this long without a message, the next message starts a fresh greeting."""
    misses_before_handoff: int = Field(default=2, ge=1)
    """How many not-understood messages in a row before the bot offers a person to talk to."""


class RoutingConfig(_Section):
    """Thresholds of free-text routing (``routing.*``); see docs/ROUTING.md."""

    confidence: float = Field(default=0.72, gt=0, le=1)
    """Free-text routing answers a topic only at or above this score (0..1)."""
    margin: float = Field(default=0.06, ge=0, le=1)
    """...and only when the best topic beats the second best by at least this much.

    ``confidence`` and ``margin`` apply to the keyword router, used for a language that has
    no examples yet; the ``model_*`` thresholds apply to the trained intent model."""
    model_confidence: float = Field(default=0.65, gt=0, le=1)
    """The model answers a topic directly at or above this probability..."""
    model_margin: float = Field(default=0.15, ge=0, le=1)
    """...and when it beats the runner-up by this much; otherwise the bot asks back."""
    ask_back: float = Field(default=0.2, ge=0, le=1)
    """Below this probability for the best topic the bot says it did not understand."""
    urgency: float = Field(default=0.075, gt=0, le=1)
    """A message this likely to say "it is happening now" opens the emergency page."""
    language_switch: float = Field(default=0.9, gt=0, le=1)
    """A message of two or more words this surely in another language switches to it."""


class RetentionConfig(_Section):
    """How many days each kind of row is kept (``retention.*``)."""

    session_days: int = Field(default=7, ge=1)
    inbound_id_days: int = Field(default=2, ge=1)
    delivery_days: int = Field(default=90, ge=1)
    ticket_days: int = Field(default=90, ge=1)
    """Closed handoff tickets (counts and times only) are kept this long, for the stats."""


class OutboxConfig(_Section):
    """How long unsent messages are retried (``outbox.*``; see docs/RELIABILITY.md)."""

    reply_retry_minutes: float = Field(default=10, gt=0)
    """A reply to a person is retried this long after it was made, then given up."""
    broadcast_retry_hours: float = Field(default=12, gt=0)
    """A broadcast delivery is retried this long after its first attempt, then failed."""


class PrivacyConfig(_Section):
    """Keys that stand for people in logs and storage (``privacy.*``)."""

    hash_key: str | None = None
    """Key of the keyed hashes that stand for addresses in logs and find contacts in the
    database (the blind index). Set it from ``${ENV}``; required by a database, and it must
    never change there. Without a database, a random key is made at each start."""
    encryption_key: str | None = None
    """The key addresses are encrypted under (``${KYRBOT_KEY}``; ``kyrbot privacy new-key``
    prints one). Required by a database; ``kyrbot privacy rotate-key`` changes it."""
    previous_keys: list[str] = Field(default_factory=list)
    """Keys still accepted for reading while ``kyrbot privacy rotate-key`` runs."""
    retention_days: int = Field(default=90, ge=1)
    """A contact who is not subscribed and has not written for this many days is erased."""


class OrganizersConfig(_Section):
    """Who may broadcast, and where reports go (``organizers.*``)."""

    telegram_ids: list[int] = Field(default_factory=list)
    report_chat_id: int | None = None
    """A Telegram chat that hears about failed content reloads and broadcast reports."""


class ConsoleConfig(_Section):
    """The organizers' web console under ``/console`` (``console.*``); see docs/CONSOLE.md."""

    enabled: bool = False
    """Serve the console from ``kyrbot serve``; organizers log in with links the bot sends."""
    idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """A console session ends after this long without a request."""
    routing_figures: Path = Path("docs/ROUTING.md")
    """The file whose figures table (its last row) the content page shows for routing."""


class OrganizationConfig(_Section):
    """Facts about whoever runs the bot, used as ``{placeholders}`` in the content.

    An empty value is never shown as a raw ``{brace}``: the content has wording for it.
    """

    org_name: str = ""
    org_phone: str = ""
    org_website: str = ""
    hotline: str = ""
    legal_help: str = ""
    complaint_phone: str = ""
    complaint_address: str = ""
    complaint_website: str = ""

    def unset_numbers(self) -> list[str]:
        """The numbers the emergency and person pages need that are not configured."""
        return [name for name in ("hotline", "org_phone") if not getattr(self, name).strip()]

    def placeholders(self) -> dict[str, str]:
        """Every placeholder name with its configured value ("" when unset)."""
        return {name: str(getattr(self, name)) for name in type(self).model_fields}


PLACEHOLDER_NAMES: frozenset[str] = frozenset(OrganizationConfig.model_fields)


class Config(_Section):
    """The whole configuration. A file lists only what it changes."""

    locales: list[str] = Field(default_factory=lambda: ["en", "es"])
    default_locale: str = "en"
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    content: ContentConfig = ContentConfig()
    session: SessionConfig = SessionConfig()
    routing: RoutingConfig = RoutingConfig()
    retention: RetentionConfig = RetentionConfig()
    outbox: OutboxConfig = OutboxConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    telegram: TelegramConfig = TelegramConfig()
    twilio: TwilioConfig = TwilioConfig()
    sms: SmsConfig = SmsConfig()
    organizers: OrganizersConfig = OrganizersConfig()
    console: ConsoleConfig = ConsoleConfig()
    organization: OrganizationConfig = OrganizationConfig()
    handoff: HandoffConfig = HandoffConfig()

    def volunteer_ids(self) -> frozenset[int]:
        """Who may answer tickets: ``handoff.volunteer_ids``, else ``organizers.telegram_ids``."""
        listed = self.handoff.volunteer_ids
        return frozenset(listed if listed is not None else self.organizers.telegram_ids)

    def configured_telegram_chats(self) -> frozenset[int]:
        """Every group chat the bot belongs in (the volunteers', the organizers' reports).

        The one place that says which Telegram chats are the bot's own: the adapter stays in
        these and handles them as configured, whatever it does with other groups.
        """
        chats = (self.handoff.telegram_chat_id, self.organizers.report_chat_id)
        return frozenset(chat for chat in chats if chat is not None)

    def retention_cutoffs(self, now: datetime) -> dict[str, Any]:
        """What :meth:`Storage.prune <bot.storage.base.Storage.prune>` erases at ``now``."""
        retention = self.retention
        return {
            "sessions_before": now - timedelta(days=retention.session_days),
            "inbound_before": now - timedelta(days=retention.inbound_id_days),
            "deliveries_before": now - timedelta(days=retention.delivery_days),
            "contacts_seen_before": (now - timedelta(days=self.privacy.retention_days)).date(),
        }

    def own_numbers(self) -> list[str]:
        """The organisation's own numbers and ids, which may appear in files (the audit)."""
        values = [str(v) for v in self.organization.placeholders().values()]
        values += [self.twilio.from_number or ""]
        values += [str(i) for i in self.organizers.telegram_ids]
        if self.organizers.report_chat_id is not None:
            values.append(str(self.organizers.report_chat_id))
        if self.telegram.token:
            values.append(self.telegram.token.split(":", 1)[0])  # the bot's own id
        return [v for v in values if v]

    @field_validator("locales")
    @classmethod
    def _locales_start_with_english(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one locale")
        if "en" not in value:
            raise ValueError("'en' must be listed: English is the source language and fallback")
        return value

    def model_post_init(self, __context: Any) -> None:
        """Check what spans sections: the default locale is one of the locales."""
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} is not in locales")
        for key, per_locale in (
            ("twilio.whatsapp.templates", self.twilio.whatsapp.templates),
            ("twilio.voice.voices", self.twilio.voice.voices),
            ("twilio.voice.speech_languages", self.twilio.voice.speech_languages),
        ):
            unknown = sorted(set(per_locale) - set(self.locales))
            if unknown:
                raise ValueError(f"{key}: {', '.join(unknown)} not in locales {self.locales}")


def _expand_env(value: Any, path: str, source: str) -> Any:
    if isinstance(value, dict):
        return {
            k: _expand_env(v, f"{path}.{k}" if path else str(k), source) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{source}: {path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(substitute, value)
    return value


def parse_config(data: Any, *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate already-parsed YAML data.

    Args:
        data: the mapping read from the file (``None`` for an empty file).
        source: the file name, for error messages.
        base_dir: directory that relative content paths are resolved against.

    Raises:
        ConfigError: naming the source, the key path and the problem.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    data = _expand_env(data, "", source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{source}: {key}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
    if base_dir is not None:
        content = config.content
        config = config.model_copy(
            update={
                "content": content.model_copy(
                    update={
                        "dialogs_dir": base_dir / content.dialogs_dir,
                        "locales_dir": base_dir / content.locales_dir,
                        "examples_dir": base_dir / content.examples_dir
                        if content.examples_dir is not None
                        else None,
                    }
                )
            }
        )
    return config


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; ``None`` gives the defaults.

    Relative paths in the file are resolved against the current directory, as an operator
    running ``kyrbot serve --config /etc/kyrbot.yaml`` from the project folder expects.

    Raises:
        ConfigError: the file is missing, is not YAML, or fails validation.
    """
    if path is None:
        return parse_config({})
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, source=str(path))
