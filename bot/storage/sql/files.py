"""The SQLite files under a running store: still the ones opened, and writable.

A database file deleted or replaced while serving takes every later write with it (they go
to an unlinked file); a ``-wal`` file that cannot be written fails every write; a ``-shm``
file SQLite maps into memory but cannot write ends the process with SIGBUS, without a word
in the log. These checks are a few ``stat`` calls, cheap enough for every message, so the
store notices and refuses work before any of that happens.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.errors import StorageError


def companions(path: Path) -> tuple[Path, Path, Path]:
    """The database file and its ``-wal`` and ``-shm`` files."""
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def identity(path: Path) -> tuple[int, int]:
    """The file's (device, inode): another file at the same path has another."""
    found = path.stat()
    return found.st_dev, found.st_ino


def _writable(file: Path, mode: int) -> bool:
    # Root ignores permission bits; a file with none set was still made read-only on purpose.
    return os.access(file, os.W_OK) and bool(mode & 0o222)


def refuse_unwritable(path: Path) -> None:
    """Before opening: refuse a database, ``-wal`` or ``-shm`` file that cannot be written.

    Raises:
        StorageError: which file.
    """
    for file in companions(path):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            continue  # SQLite makes it
        if not _writable(file, mode):
            raise StorageError(f"{file} is not writable")


def check_open_files(path: Path, opened: tuple[int, int] | None) -> None:
    """While open: the database file is the one opened, and all three files are writable.

    Args:
        path: the database file.
        opened: its :func:`identity` when the store opened it.

    Raises:
        StorageError: what is wrong, naming the file.
    """
    try:
        now = identity(path)
    except FileNotFoundError:
        raise StorageError(f"the database file {path} was deleted") from None
    if now != opened:
        raise StorageError(f"the database file {path} was replaced by another file")
    for file in companions(path):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            raise StorageError(f"{file} was deleted while the database is open") from None
        if not _writable(file, mode):
            raise StorageError(f"{file} is not writable")
