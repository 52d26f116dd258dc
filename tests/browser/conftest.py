"""Browser tests: Debian's Chromium driven by Playwright against a desk on 127.0.0.1.

Playwright never downloads a browser here (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, no
`playwright install`): it launches /usr/bin/chromium. The tests skip, saying why, only when
that executable or the playwright package is missing; `make test` installs both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from common.settings import PROJECT_ROOT
from tests.web.desk import outbox_notifier
from web.app import build_desk, start_desk

CHROMIUM = os.environ.get("DESK_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
# What works on a machine without network and without a display.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


def _chromium() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not found:
        pytest.skip(f"no Chromium at {CHROMIUM} or on PATH (apt-get install chromium)")
    return found


@pytest.fixture
async def desk_url(app: App) -> AsyncIterator[str]:
    """The desk served on a free loopback port, on the test bot's store and clock."""
    notifier = outbox_notifier(app.crm, app.clock)
    desk = build_desk(app.settings, crm=app.crm, clock=app.clock, notifier=notifier)
    runner = await start_desk(desk, host="127.0.0.1", port=0)
    port = runner.addresses[0][1]  # the free port the OS chose
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(desk_url: str) -> AsyncIterator[Any]:
    """A fresh Chromium page (its own profile directory) with the desk's base URL."""
    executable = _chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (make install)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="desk-chromium-"))
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                base_url=desk_url,
                locale="ru-RU",
                viewport={"width": 1280, "height": 900},
            )
            try:
                yield context.pages[0] if context.pages else await context.new_page()
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
