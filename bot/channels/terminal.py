"""The terminal channel: a chat on stdin/stdout, shown as the terminal or another channel would."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TextIO

from bot.channels.base import Channel, ChannelCallbacks, DeliveryAttempt
from bot.channels.capabilities import Capabilities
from bot.channels.sms.keywords import classify
from bot.errors import PermanentSendError, SendError
from bot.messages import Address, Inbound, InboundKind, Reply

TERMINAL_ADDRESS = Address("terminal", "local")

Clock = Callable[[], datetime]


def render_terminal(reply: Reply) -> str:
    """Plain numbered text: the choices as ``1. Label``, then the navigation on one line."""
    lines = [reply.text]
    if reply.choices:
        lines.append("")
        lines.extend(f"{i}. {choice.label}" for i, choice in enumerate(reply.choices, 1))
    nav = _nav_line(reply)
    if nav:
        lines.extend(["", nav])
    return "\n".join(lines)


def _nav_line(reply: Reply) -> str:
    parts = []
    for choice in reply.nav:
        if choice.id == "c:menu":
            parts.append(f"0. {choice.label}")
        else:
            parts.append(choice.label)
    return " · ".join(parts)


def render_telegram_preview(reply: Reply) -> str:
    """The text as Telegram shows it, with each inline button drawn as ``[ Label ]``."""
    lines = [reply.text]
    if reply.choices or reply.nav:
        lines.append("")
        lines.extend(f"[ {choice.label} ]" for choice in reply.choices)
        if reply.nav:
            lines.append("  ".join(f"[ {choice.label} ]" for choice in reply.nav))
    return "\n".join(lines)


def render_sms_preview(reply: Reply, *, fold_accents: bool, show_segments: bool) -> str:
    """Exactly the SMS text a phone would get, optionally with its encoding and segment count."""
    from bot.channels.sms.render import render_sms_parts
    from bot.sms_text import segment_info

    parts = render_sms_parts(reply, fold_accents=fold_accents)
    shown = []
    for part in parts:
        shown.append(part)
        if show_segments:
            info = segment_info(part)
            shown.append(f"[{info.encoding}, {info.segments} segment(s), {len(part)} characters]")
    return "\n".join(shown)


def render_whatsapp_preview(reply: Reply) -> str:
    """Exactly the WhatsApp text a phone would get; several messages are shown one by one."""
    from bot.channels.whatsapp.render import render_whatsapp_parts

    return "\n\n".join(render_whatsapp_parts(reply))


def render_voice_preview(reply: Reply, words: Mapping[str, Mapping[str, str]]) -> str:
    """What a call would say for ``reply``, the choices as spoken, each stretch's language."""
    from bot.channels.voice.render import speak, transcript

    return transcript(speak([reply], words))


class TerminalChannel(Channel):
    """Reads one message per line and writes each reply block; no account, token or server.

    Interactive (a TTY) it greets first and prompts with ``> ``; from a pipe it writes one
    reply block per input line and stops at end of input. With ``as_json`` each input line
    gives one JSON object (the stable format documented in DESIGN.md).
    """

    name: ClassVar[str] = "terminal"
    capabilities = Capabilities(buttons=False, max_text_length=100_000, display_name="Terminal")

    def __init__(
        self,
        *,
        render_as: str = "terminal",
        as_json: bool = False,
        locale_hint: str | None = None,
        fold_accents: Callable[[str], bool] | None = None,
        show_segments: bool = False,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
        clock: Clock | None = None,
        node_of: Callable[[], str | None] | None = None,
        voice_words: Mapping[str, Mapping[str, str]] | None = None,
        audio_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self._render_as = render_as
        self._as_json = as_json
        self._locale_hint = locale_hint
        self._fold = fold_accents or (lambda _locale: False)
        self._show_segments = show_segments
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._interactive = self._stdin.isatty() if interactive is None else interactive
        self._clock = clock or (lambda: datetime.now(UTC))
        self._node_of = node_of
        self._voice_words: Mapping[str, Mapping[str, str]] = voice_words or {}
        self._audio_dir = audio_dir
        self._blocks = 0
        self._done = asyncio.Event()
        # Previewing SMS is being SMS: the same contact channel, so HELP and counters match.
        as_channel = render_as in ("sms", "whatsapp", "voice")
        self._address = Address(render_as, "local") if as_channel else TERMINAL_ADDRESS

    def render(self, reply: Reply) -> str:
        """One reply as the chosen channel would show it."""
        if self._render_as == "sms":
            return render_sms_preview(
                reply, fold_accents=self._fold(reply.locale), show_segments=self._show_segments
            )
        if self._render_as == "telegram":
            return render_telegram_preview(reply)
        if self._render_as == "whatsapp":
            return render_whatsapp_preview(reply)
        if self._render_as == "voice":
            return render_voice_preview(reply, self._voice_words)
        return render_terminal(reply)

    async def start(self, callbacks: ChannelCallbacks) -> None:
        """Run the conversation until end of input (or ``quit`` when interactive).

        The terminal needs nothing but ``callbacks.on_inbound``.
        """
        self._callbacks = callbacks
        handle = callbacks.on_inbound
        if self._interactive and not self._as_json:
            greeting = Inbound(
                self._address,
                self._locale_hint or "",
                self._clock(),
                kind=InboundKind.COMMAND,
                command="start",
                locale_hint=self._locale_hint,
            )
            self._write_block(await handle(greeting))
        while True:
            if self._interactive and not self._as_json:
                self._stdout.write("> ")
                self._stdout.flush()
            line = await asyncio.to_thread(self._stdin.readline)
            if not line:
                break
            text = line.rstrip("\r\n")
            if self._interactive and text.strip().lower() in {"quit", "exit", "salir"}:
                break
            replies = await handle(self._inbound(text))
            if self._as_json:
                self._write_json(text, replies)
            else:
                self._write_block(replies)
        self._done.set()

    def _inbound(self, text: str) -> Inbound:
        """One typed line as the chosen channel would deliver it.

        As SMS or WhatsApp, a whole-message compliance word (STOP, BAJA, START, AYUDA)
        becomes the same command the adapter makes of it.
        """
        if self._render_as == "voice" and text.strip() == "*":
            text = ""  # the star key repeats the page, as on a call
        if self._render_as in ("sms", "whatsapp"):
            keyword = classify(text)
            if keyword is not None:
                return Inbound(
                    self._address,
                    text.strip(),
                    self._clock(),
                    kind=InboundKind.COMMAND,
                    command=keyword.action.value,
                    locale_hint=self._locale_hint,
                )
        return Inbound(self._address, text, self._clock(), locale_hint=self._locale_hint)

    async def stop(self) -> None:
        """Nothing to release: the streams belong to the caller."""
        self._done.set()

    # -- sending (see Channel.send): a message outside a reply, such as a broadcast preview --

    async def _prepare(self, address: Address) -> None:
        """The terminal has one person only."""
        if address != self._address:
            raise PermanentSendError("the terminal has only one person")

    def _render(self, reply: Reply) -> Sequence[Reply]:
        """The reply itself: it is written as one block."""
        return (reply,)

    async def _deliver(self, address: Address, part: Reply, attempt: DeliveryAttempt) -> str:
        """Print the block."""
        self._write_block([part])
        return "terminal"

    def _map_error(self, error: Exception, attempt: DeliveryAttempt) -> SendError | None:
        """Writing to the terminal has no provider errors."""
        return None

    def _write_block(self, replies: Sequence[Reply]) -> None:
        self._write_audio(replies)
        blocks = [self.render(reply) for reply in replies]
        self._stdout.write("\n\n".join(blocks) + "\n\n")
        self._stdout.flush()

    def _write_audio(self, replies: Sequence[Reply]) -> None:
        """With ``audio_dir`` (voice previews), what the call says as WAV files (espeak-ng)."""
        if self._audio_dir is None or self._render_as != "voice":
            return
        from bot.channels.voice.audio import write_audio
        from bot.channels.voice.render import speak

        self._blocks += 1
        speech = speak(list(replies), self._voice_words)
        write_audio(speech, self._audio_dir / f"reply-{self._blocks:03d}")

    def _write_json(self, text: str, replies: Sequence[Reply]) -> None:
        node = self._node_of() if self._node_of is not None else None
        nodes = [r.node for r in replies if r.node]
        record = {
            "input": text,
            "node": nodes[-1] if nodes else node,
            "locale": replies[-1].locale if replies else None,
            "replies": [
                {
                    "text": self.render(reply),
                    "choices": [
                        {"id": c.id, "label": c.label} for c in (*reply.choices, *reply.nav)
                    ],
                }
                for reply in replies
            ],
        }
        self._stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stdout.flush()
