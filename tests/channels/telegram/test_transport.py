"""The Bot API client: what reaches the server, and how each transport failure is classed.

Each failure goes through PTB's request wrapper and :func:`send_error`, as a reply would, so
these check what the outbox and broadcasts decide: retry (not sent), or unknown outcome.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.errors import send_error
from bot.channels.telegram.transport import AiohttpRequest
from bot.errors import ChannelUnavailable, OutcomeUnknown, RecipientUnreachable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/botT/{method}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/botT"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    client = AiohttpRequest(connections=1, connect_timeout=0.3, read_timeout=0.3, pool_timeout=0.2)
    await client.initialize()
    yield client
    await client.shutdown()
    await client.shutdown()  # twice is harmless


def _data(**values: str) -> RequestData:
    return RequestData([RequestParameter(name, value, None) for name, value in values.items()])


async def _classify(call: Awaitable[object]) -> type:
    with pytest.raises(TelegramError) as caught:
        await call
    return type(send_error(caught.value))


async def test_a_call_posts_a_form_and_returns_the_result(serve, request_):
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update({k: str(v) for k, v in (await request.post()).items()})
        seen["method"] = request.match_info["method"]
        seen["agent"] = request.headers["User-Agent"]
        return web.json_response({"ok": True, "result": {"message_id": 5}})

    base = await serve(handler)
    markup = json.dumps({"inline_keyboard": [[{"text": "Menú", "callback_data": "m"}]]})
    result = await request_.post(
        f"{base}/sendMessage", _data(chat_id="42", text="¿Qué? & =", reply_markup=markup)
    )
    assert result == {"message_id": 5}
    assert seen["method"] == "sendMessage"
    assert (seen["chat_id"], seen["text"], json.loads(seen["reply_markup"])) == (
        "42",
        "¿Qué? & =",
        json.loads(markup),
    )
    assert "python-telegram-bot" in seen["agent"]


async def test_a_file_goes_as_multipart(serve, request_):
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        seen.update(chat_id=form["chat_id"], name=upload.filename, body=upload.file.read())
        return web.json_response({"ok": True, "result": True})

    base = await serve(handler)
    files = RequestData(
        [
            RequestParameter("chat_id", "42", None),
            RequestParameter.from_input("document", _input_file(b"datos")),
        ]
    )
    assert await request_.post(f"{base}/sendDocument", files) is True
    assert seen == {"chat_id": "42", "name": "a.txt", "body": b"datos"}


def _input_file(content: bytes) -> object:
    from telegram import InputFile

    return InputFile(content, filename="a.txt", attach=False)


async def test_an_error_status_is_telegrams_error(serve, request_):
    async def handler(_request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
        return web.json_response(body, status=403)

    base = await serve(handler)
    call = request_.post(f"{base}/sendMessage", _data(text="x"))
    assert await _classify(call) is RecipientUnreachable


async def test_nobody_listening_means_not_sent(request_):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    call = request_.post(f"http://127.0.0.1:{port}/botT/sendMessage", _data(text="x"))
    assert await _classify(call) is ChannelUnavailable


async def test_no_answer_in_time_means_the_outcome_is_unknown(serve, request_):
    async def handler(_request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"ok": True, "result": True})

    base = await serve(handler)
    with pytest.raises(TimedOut) as caught:
        await request_.post(f"{base}/sendMessage", _data(text="x"))
    assert type(send_error(caught.value)) is OutcomeUnknown


async def test_a_connection_dropped_mid_answer_means_the_outcome_is_unknown(serve, request_):
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"ok": tr')
        assert request.transport is not None
        request.transport.close()
        return response

    base = await serve(handler)
    with pytest.raises(NetworkError) as caught:
        await request_.post(f"{base}/sendMessage", _data(text="x"))
    assert type(send_error(caught.value)) is OutcomeUnknown


async def test_no_free_connection_in_time_means_not_sent(serve, request_):
    release = asyncio.Event()

    async def handler(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"ok": True, "result": True})

    base = await serve(handler)
    holding = asyncio.ensure_future(
        request_.post(f"{base}/sendMessage", _data(text="x"), read_timeout=5)
    )
    await asyncio.sleep(0.05)  # the one connection is taken
    try:
        call = request_.post(f"{base}/sendMessage", _data(text="y"))
        assert await _classify(call) is ChannelUnavailable
    finally:
        release.set()
        assert await holding is True


async def test_a_closed_client_refuses_to_send():
    client = AiohttpRequest(connections=1)
    with pytest.raises(NetworkError):
        await client.post("http://127.0.0.1:9/botT/getMe")


async def test_the_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch):
    lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines.append(await reader.readline())
        while (await reader.readline()).strip():
            pass
        body = b'{"ok": true, "result": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    client = AiohttpRequest(connections=2)
    await client.initialize()
    try:
        assert await client.post("http://bot-api.invalid/botT/getMe") is True
        assert lines == [b"POST http://bot-api.invalid/botT/getMe HTTP/1.1\r\n"]
        with pytest.raises(NetworkError):  # not through the proxy: the name does not resolve
            await client.post("http://direct.invalid/botT/getMe")
    finally:
        await client.shutdown()
        server.close()
        await server.wait_closed()
