"""The web server under malformed HTTP: a 400 and one WARNING line, never the bytes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.routes import Route
from bot.web import WebServer, build_web_app

SECRET_BYTES = b"S3CRET-caller-bytes"


async def echo(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


async def broken(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug in a handler")


@pytest.fixture
async def server() -> AsyncIterator[WebServer]:
    running = WebServer(
        build_web_app([Route("POST", "/echo", echo), Route("POST", "/broken", broken)]),
        host="127.0.0.1",
        port=0,
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def exchange(server: WebServer, *chunks: bytes) -> bytes:
    """Send raw bytes (pausing between chunks) and return what the server answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.05)
        return await asyncio.wait_for(reader.read(200), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header " + SECRET_BYTES + b"\x01\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ"
        + SECRET_BYTES
        + b"\r\n",
        b"GET /" + SECRET_BYTES * 600 + b" HTTP/1.1\r\n\r\n",
        b"\x00\x01\x02" + SECRET_BYTES + b"\r\n\r\n",
    ],
    ids=["bad-header", "bad-chunk", "line-too-long", "binary"],
)
async def test_malformed_http_is_a_400_and_one_warning_without_the_bytes(
    server: WebServer, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG)

    answer = await exchange(server, request_bytes)

    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    mine = [r for r in caplog.records if r.name.startswith(("bot.web", "aiohttp"))]
    # One line at most: bytes that are not HTTP at all (TLS on the wrong port, say) are
    # aiohttp's DEBUG noise; every other kind is one WARNING.
    loud = [r.levelno for r in mine if r.levelno >= logging.WARNING]
    assert loud == ([] if request_bytes.startswith(b"\x00") else [logging.WARNING])
    for record in mine:
        assert SECRET_BYTES.decode() not in record.getMessage()
        assert record.exc_info is None


async def test_a_body_badly_chunked_after_the_headers_logs_no_error_nor_the_bytes(
    server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for chunk in (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"4\r\nabcd\r\n",
        b"Z" + SECRET_BYTES + b"\r\n",
    ):
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.05)
    writer.close()  # aiohttp waits for more rather than answer; the client gives up
    await asyncio.sleep(0.1)

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(SECRET_BYTES.decode() not in r.getMessage() for r in caplog.records)


async def test_a_body_cut_short_logs_no_error(
    server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await asyncio.sleep(0.1)

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_bug_in_a_handler_is_still_an_error_with_its_traceback(
    server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await exchange(
        server, b"POST /broken HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )

    assert b" 500 " in answer.split(b"\r\n")[0]
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.exc_info is not None
