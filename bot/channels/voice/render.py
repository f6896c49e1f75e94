"""What a call says for the bot's replies: the page read aloud, then each choice and its key.

Pure and free of the twilio package: ``kyrbot chat --as voice``, ``kyrbot check`` and the
TwiML builder (:mod:`.twiml`) all use it. Pages read badly aloud as written, so a voice
rendering rule applies to every page: a web address is said as its site ("the website
aclu.org"), list bullets become sentences, line breaks become pauses. Keys: 1-9 the choices,
0 the menu, * repeats, # the other language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bot.messages import Reply

MENU_KEY: Final = "0"
REPEAT_KEY: Final = "*"
LANGUAGE_KEY: Final = "#"
_URL: Final = re.compile(r"\bhttps?://(?:www\.)?([^/\s]+)\S*|\bwww\.([^/\s]+)\S*")
_BULLET: Final = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s+", re.MULTILINE)
_SPACES: Final = re.compile(r"[ \t]+")
_WORD: Final = re.compile(r"\w+")

Words = Mapping[str, Mapping[str, str]]
"""``{locale: {name: text}}`` from :func:`bot.channels.voice.words.translated`."""


@dataclass(frozen=True, slots=True)
class Spoken:
    """One stretch of speech in one language (its voice and recognizer come from config)."""

    locale: str
    text: str


@dataclass(frozen=True, slots=True)
class Speech:
    """Everything one answer says, and what the keys mean while the caller chooses.

    Attributes:
        page: the pages' text, read first.
        prompt: the choices and keys, read while the call listens.
        locale: the language the call listens in.
        language_choice: the choice id ``#`` picks (another language), if any.
        nodes: the pages shown, for the hotline rule.
    """

    page: tuple[Spoken, ...]
    prompt: tuple[Spoken, ...]
    locale: str
    language_choice: str | None = None
    nodes: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[Spoken, ...]:
        """Page and prompt, in order."""
        return (*self.page, *self.prompt)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?:;…" else text + "."


def aloud(text: str, words: Mapping[str, str]) -> str:
    """``text`` as it reads well aloud: web addresses as their site, bullets as sentences."""
    link = words.get("link", "{site}")

    def site(match: re.Match[str]) -> str:
        return link.replace("{site}", (match.group(1) or match.group(2)).rstrip(".,;:)"))

    text = _URL.sub(site, text)
    text = _BULLET.sub("", text)
    paragraphs = [
        " ".join(_sentence(line) for line in p.splitlines() if line.strip())
        for p in text.split("\n\n")
    ]
    return _SPACES.sub(" ", " ".join(p for p in paragraphs if p)).strip()


def _language_prompt(reply: Reply, words: Words) -> tuple[Spoken, ...]:
    said: list[Spoken] = []
    for n, choice in enumerate(reply.choices, 1):
        locale = choice.id.split(":", 1)[1]
        own = words.get(locale, {})
        prompt = own.get("language_prompt", "")
        press = own.get("press", "{label}: {n}.")
        said.append(Spoken(locale, f"{prompt} {press.format(label=choice.label, n=n)}".strip()))
    return tuple(said)


def speak(replies: Sequence[Reply], words: Words, *, default_locale: str = "en") -> Speech:
    """What the call says for ``replies``: each page's text, then the last page's choices."""
    if not replies:
        return Speech((), (), default_locale)
    last = replies[-1]
    if last.choices and all(c.id.startswith("l:") for c in last.choices):
        return Speech((), _language_prompt(last, words), default_locale)
    locale = last.locale
    own = words.get(locale, {})
    page = tuple(
        Spoken(reply.locale, aloud(reply.spoken or reply.text, words.get(reply.locale, own)))
        for reply in replies
        if reply.text.strip()
    )
    press = own.get("press", "{label}: {n}.")
    lines = [press.format(label=c.label, n=n) for n, c in enumerate(last.choices, 1)]
    language_choice = None
    other: list[Spoken] = []
    for choice in last.nav:
        if choice.id == "c:menu":
            lines.append(own.get("menu_key", ""))
        elif choice.id.startswith("l:"):
            language_choice = choice.id
            target = choice.id.split(":", 1)[1]
            other.append(Spoken(target, words.get(target, {}).get("language_key", "")))
    lines.append(own.get("repeat_key", ""))
    lines.append(own.get("say_it", ""))
    prompt = (Spoken(locale, " ".join(line for line in lines if line)), *other)
    nodes = tuple(reply.node for reply in replies if reply.node)
    return Speech(page, tuple(s for s in prompt if s.text), locale, language_choice, nodes)


def seconds(text: str, words_per_minute: int) -> float:
    """About how long ``text`` takes to say at ``words_per_minute``."""
    return len(_WORD.findall(text)) * 60.0 / words_per_minute


def transcript(speech: Speech) -> str:
    """What the call says, as text: one paragraph per stretch, its language in brackets."""
    return "\n\n".join(f"[{s.locale}] {s.text}" for s in speech.all)
