"""The HTTP session of an adapter to the bank's CRM (Bitrix24 REST, the signed webhook)."""

from __future__ import annotations

import aiohttp


class HttpClient:
    """Keeps one aiohttp session for the adapter's calls, made on first use.

    An adapter is built while the process is assembled, before its event loop runs, and an
    aiohttp session belongs to the loop it was made in; so the session is made by the first
    call, and made again after `close` (a test or a command that reuses the adapter).
    """

    def __init__(self, *, timeout_seconds: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
