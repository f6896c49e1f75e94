"""The TwiML a call gets: ``<Say>`` in the configured voice, ``<Gather>`` for keys and speech.

Built with :class:`twilio.twiml.voice_response.VoiceResponse`. Nothing is recorded: no
``<Record>``, no ``record=`` on ``<Dial>``, and the Gather's ``SpeechResult`` is only ever
passed to the conversation, never logged or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twilio.twiml.voice_response import Gather, VoiceResponse

from bot.channels.voice.render import Speech, Spoken


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How calls sound and listen (``twilio.voice``)."""

    voices: Mapping[str, str]
    languages: Mapping[str, str]
    timeout: int = 6

    def language(self, locale: str) -> str:
        """The BCP-47 language with region for ``locale`` (``es`` -> ``es-US``)."""
        return self.languages.get(locale) or self.languages.get(locale.split("_")[0]) or "en-US"


def _say(target: VoiceResponse | Gather, spoken: Spoken, settings: VoiceSettings) -> None:
    voice = settings.voices.get(spoken.locale)
    if voice:
        target.say(spoken.text, voice=voice, language=settings.language(spoken.locale))
    else:
        target.say(spoken.text, language=settings.language(spoken.locale))


def answer(
    speech: Speech,
    *,
    action: str,
    settings: VoiceSettings,
    before: tuple[Spoken, ...] = (),
    dial: str | None = None,
    dialing: Spoken | None = None,
) -> str:
    """The TwiML document: ``before``, the page, then a Gather that reads the choices.

    With ``dial``, the page is followed by ``dialing`` and a ``<Dial>`` to that number; the
    choices are read again when that call ends.
    """
    response = VoiceResponse()
    for spoken in (*before, *speech.page):
        _say(response, spoken, settings)
    if dial is not None:
        if dialing is not None:
            _say(response, dialing, settings)
        response.dial(dial)
    gather = Gather(
        input="dtmf speech",
        action=action,
        method="POST",
        language=settings.language(speech.locale),
        num_digits=1,
        timeout=settings.timeout,
        finish_on_key="",
        action_on_empty_result=True,
    )
    for spoken in speech.prompt:
        _say(gather, spoken, settings)
    response.append(gather)
    return str(response)


def goodbye(spoken: Spoken, settings: VoiceSettings) -> str:
    """Say ``spoken`` and hang up."""
    response = VoiceResponse()
    _say(response, spoken, settings)
    response.hangup()
    return str(response)
