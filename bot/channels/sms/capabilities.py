"""What the SMS channel can do and what a text costs by SMS, from config alone (no connection).

The costs are those of the text exactly as the SMS channel sends it (:mod:`.render`): its
segments at ``sms.price_per_segment``, paced at ``twilio.segments_per_second``. The other
rendering, with ``sms.fold_accents`` flipped for the language, is estimated too, so an
organizer sees what folding (or keeping) accents would change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from bot.channels.capabilities import Capabilities, CostEstimate, SendUnit
from bot.channels.sms.render import render_sms_parts
from bot.config import Config
from bot.messages import Reply
from bot.sms_text import MAX_MESSAGE_CHARS, segment_info

CHANNEL: Final = "sms"
"""The :attr:`~bot.messages.Address.channel` of every SMS address."""


def fold_for(fold_accents: Mapping[str, bool], locale: str) -> bool:
    """``sms.fold_accents`` for ``locale``; a regional locale (``es_MX``) falls back to ``es``."""
    if locale in fold_accents:
        return fold_accents[locale]
    return fold_accents.get(re.split(r"[_-]", locale, maxsplit=1)[0], False)


def measure(bodies: Iterable[str]) -> tuple[str, int]:
    """The encoding (``"UCS-2"`` if any body needs it, else ``"GSM-7"``) and segments in all."""
    infos = [segment_info(body) for body in bodies]
    encoding = "UCS-2" if any(info.encoding == "UCS-2" for info in infos) else "GSM-7"
    return encoding, sum(info.segments for info in infos)


@dataclass(frozen=True, slots=True)
class SmsCosts:
    """The SMS :class:`~bot.channels.base.CostModel`: segments of the text as sent.

    Attributes:
        price_per_segment: US dollars per segment (``sms.price_per_segment``).
        fold_accents: ``sms.fold_accents`` as ``(locale, fold)`` pairs.
    """

    price_per_segment: float
    fold_accents: tuple[tuple[str, bool], ...] = ()

    def estimate(self, text: str, locale: str) -> CostEstimate:
        """The bodies, encoding and segments as configured; ``alternative``: folding flipped."""
        folded = fold_for(dict(self.fold_accents), locale)
        other = self._form(text, locale, fold=not folded)
        return replace(self._form(text, locale, fold=folded), alternative=other)

    def _form(self, text: str, locale: str, *, fold: bool) -> CostEstimate:
        bodies = tuple(render_sms_parts(Reply(text=text, locale=locale), fold_accents=fold))
        encoding, segments = measure(bodies)
        return CostEstimate(
            units=float(segments),
            unit_price=self.price_per_segment,
            bodies=bodies,
            encoding=encoding,
            folded=fold,
        )


SMS_CAPABILITIES: Final = Capabilities(
    buttons=False,
    max_text_length=MAX_MESSAGE_CHARS,
    delivery_reports=True,
    display_name="SMS",
    carrier_help=True,
    send_unit=SendUnit.SEGMENTS,
)
"""What every SMS channel can do, whatever the config."""


def sms_capabilities(config: Config) -> Capabilities:
    """The SMS channel's capabilities under ``config``: its rate and its prices."""
    costs = SmsCosts(
        price_per_segment=config.sms.price_per_segment,
        fold_accents=tuple(sorted(config.sms.fold_accents.items())),
    )
    return replace(
        SMS_CAPABILITIES,
        send_rate=config.twilio.segments_per_second,
        costs=costs,
        reply_units_limit=float(config.sms.segment_budget),
    )
