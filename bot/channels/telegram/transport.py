"""The HTTP client under python-telegram-bot for Bot API calls: aiohttp instead of httpx.

PTB's default request class runs on httpx, whose connection pool (httpcore) re-checks every
open connection, with a ``select`` call on each idle socket, for every request it queues,
and each request passes through anyio's and h11's layers as well. At full load that upkeep
cost more than the conversation and its storage together (a profile of
``bench/telegram.py``: about 40% of the bot's CPU). aiohttp is already the bot's web server
and does the same job for a fraction of that: a free list of kept-alive connections.

:class:`AiohttpRequest` is a PTB ``BaseRequest``, so PTB still builds the calls and maps
HTTP statuses and Telegram's answers to its errors; this class only moves bytes, with the
same defaults as PTB's ``HTTPXRequest`` (5 s to connect, write and read; 1 s waiting for a
free connection) and the same contract for failures: a timeout is ``TimedOut``, any other
transport failure ``NetworkError``, with the aiohttp exception as the cause, from which
:func:`~bot.channels.telegram.errors.send_error` tells "not sent" from "outcome unknown".
Long polling (``getUpdates``) keeps PTB's own client.
"""

from __future__ import annotations

import ssl
from typing import Final
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_FORM: Final = "application/x-www-form-urlencoded"


class AiohttpRequest(BaseRequest):
    """Bot API requests over one aiohttp session with at most ``connections`` connections.

    Args:
        connections: connections kept to the Bot API server at most.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait for the answer (between reads).
        write_timeout: seconds to send a request (with files: ``media_write_timeout``).
        pool_timeout: seconds to wait for a free connection.
        media_write_timeout: seconds to send a request that uploads files.
    """

    def __init__(
        self,
        *,
        connections: int,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._connections = connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again, after :meth:`shutdown`)."""
        if self._session is None or self._session.closed:
            # As httpx did: certifi's certificates (proxies: see _proxy).
            context = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=context),
                headers={"User-Agent": self.USER_AGENT},
                # Bot API answers are JSON; cookies and redirects play no part.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, as httpx.

        Looked up once per server: aiohttp's own ``trust_env`` reads the environment and
        ``~/.netrc`` in a worker thread on every request.
        """
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            proxy = getproxies().get(parts.scheme) or None
            if proxy is not None and parts.hostname and proxy_bypass(parts.hostname):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]

    async def shutdown(self) -> None:
        """Close the session and its connections. Safe to call twice."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request; returns the HTTP status and the body (see ``BaseRequest``).

        Raises:
            TimedOut: a timeout; the cause is aiohttp's ``ConnectionTimeoutError`` when no
                connection could be had (the request was not sent).
            NetworkError: any other transport failure, aiohttp's exception as the cause.
            RuntimeError: not initialized.
        """
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] = {}
        if request_data is not None and files:
            data = _multipart(request_data)
        elif request_data is not None:
            data = urlencode(request_data.json_parameters).encode("ascii")
            headers["Content-Type"] = _FORM
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, self._pool_timeout)
        read = _seconds(read_timeout, self._read_timeout)
        write = _seconds(
            write_timeout, self._media_write_timeout if files else self._write_timeout
        )
        # aiohttp has no write timeout: the whole call is bounded by the sum of the parts.
        parts = [value for value in (connect, pool, read, write) if value is not None]
        timeout = aiohttp.ClientTimeout(
            total=sum(parts) if len(parts) == 4 else None,
            connect=connect + pool if connect is not None and pool is not None else None,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as err:
            raise TimedOut(
                "Timed out getting a connection to the Bot API: the request was not sent"
            ) from err
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}") from err


def _seconds(value: ODVInput[float], default: float) -> float | None:
    if isinstance(value, DefaultValue):
        return default
    return value


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
