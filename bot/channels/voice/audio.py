"""Optional audio of what a call says, through espeak-ng, for authors listening to a page.

Only when ``espeak-ng`` is installed; nothing is downloaded, and a call itself never uses it
(Twilio's voices speak there). The voice is espeak-ng's for the language, not the configured
Twilio voice, so it is a rough guide to length and wording, not to how a call sounds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot.channels.voice.render import Speech


def available() -> bool:
    """Whether ``espeak-ng`` is on the PATH."""
    return shutil.which("espeak-ng") is not None


def write_audio(speech: Speech, path: Path) -> list[Path]:
    """Write one WAV file per stretch of ``speech`` (``path``-1.wav...); [] without espeak-ng."""
    program = shutil.which("espeak-ng")
    if program is None:
        return []
    written = []
    for number, spoken in enumerate(speech.all, 1):
        target = path.with_name(f"{path.name}-{number}.wav")
        subprocess.run(  # noqa: S603 - a fixed program; the text is an argument, not a shell
            [program, "-v", spoken.locale, "-w", str(target), spoken.text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        written.append(target)
    return written
