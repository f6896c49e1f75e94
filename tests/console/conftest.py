"""One console server and one browser for all the console's browser tests (kept few and quick)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.console.harness import ConsoleServer, chromium_path

SCREENSHOTS = os.environ.get("KYRBOT_SCREENSHOTS")
"""A directory: ``make screenshots`` sets it, and the tests save their pages there."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleServer]:
    console = ConsoleServer(tmp_path_factory.mktemp("console"))
    await console.start()
    try:
        yield console
    finally:
        await console.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Any, name: str) -> None:
    """Save the page for docs/CONSOLE.md when ``make screenshots`` asked for it."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
