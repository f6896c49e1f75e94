"""Sending SMS with the real twilio client against a fake REST server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from bot.channels.sms.adapter import SmsChannel
from bot.config import parse_config
from bot.errors import (
    ChannelUnavailable,
    ConfigError,
    OutcomeUnknown,
    PermanentSendError,
    RateLimited,
    RecipientUnreachable,
)
from bot.messages import Address, Choice, Reply
from tests.fakes.twilio_server import (
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM_NUMBER,
    FAKE_SERVICE_SID,
    PUBLIC_URL,
    FakeResponse,
    FakeTwilioServer,
    RecordingSink,
    SmsHarness,
    sms_config,
    twilio_error,
)

ANA = Address(channel="sms", id="+15551230001")
UPDATE = Reply(
    text="Actualización: la regla SOP 130 sigue vigente.",
    nav=(Choice("c:menu", "Menú"),),
    locale="es",
)


@pytest.fixture
async def twilio():
    server = FakeTwilioServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def sink():
    return RecordingSink()


@pytest.fixture
async def channel(twilio, sink):
    sms = SmsChannel(sms_config(api_base_url=twilio.base_url), request_timeout=0.5)
    await sms.start(sink.callbacks)
    yield sms
    await sms.stop()


async def test_send_posts_the_rendered_reply_and_returns_the_sid(twilio, channel):
    sid = await channel.send(ANA, UPDATE)

    assert sid == "SMfake000001"
    [request] = twilio.requests
    assert request.account_sid == FAKE_ACCOUNT_SID
    assert request.auth == (FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN)
    assert request.form == {
        "To": "+15551230001",
        "From": FAKE_FROM_NUMBER,
        "Body": "Actualización: la regla SOP 130 sigue vigente.\n\n0 Menú",
        "StatusCallback": PUBLIC_URL + "/twilio/status",
    }


async def test_send_through_a_messaging_service_sends_no_from(twilio):
    config = sms_config(api_base_url=twilio.base_url, messaging_service=True)
    sms = SmsChannel(config)
    await sms.start(RecordingSink().callbacks)
    try:
        await sms.send(ANA, UPDATE)
    finally:
        await sms.stop()

    form = twilio.requests[0].form
    assert form["MessagingServiceSid"] == FAKE_SERVICE_SID
    assert "From" not in form


async def test_send_folds_accents_when_configured_and_cheaper(twilio):
    config = sms_config(api_base_url=twilio.base_url, fold_accents={"es": True})
    sms = SmsChannel(config)
    await sms.start(RecordingSink().callbacks)
    long_update = Reply(text="Actualización importante. " * 5, locale="es")  # 129 characters
    try:
        await sms.send(ANA, long_update)
    finally:
        await sms.stop()

    assert twilio.requests[0].form["Body"] == ("Actualizacion importante. " * 5).strip()


async def test_twilio_edge_and_region_variables_do_not_redirect_the_client(twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    sms = SmsChannel(sms_config(api_base_url=twilio.base_url))
    await sms.start(RecordingSink().callbacks)
    try:
        sid = await sms.send(ANA, UPDATE)
    finally:
        await sms.stop()

    assert sid == "SMfake000001"


async def test_opted_out_recipient_is_reported_and_recorded(twilio, channel, sink):
    twilio.enqueue(twilio_error(21610, message="Attempt to send to unsubscribed recipient"))

    with pytest.raises(RecipientUnreachable) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.opted_out is True
    assert caught.value.code == "21610"
    assert caught.value.retryable is False
    assert sink.unreachable == [(ANA, True)]


async def test_opted_out_in_the_new_error_format_is_recognised(twilio, channel):
    twilio.enqueue(
        FakeResponse(
            status=400,
            body={
                "type": "https://www.twilio.com/docs/errors/21610",
                "title": "Attempt to send to unsubscribed recipient",
                "status": 400,
                "code": 21610,
            },
        )
    )

    with pytest.raises(RecipientUnreachable) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.opted_out is True


@pytest.mark.parametrize("code", [21211, 21614])
async def test_invalid_or_non_mobile_number_is_unreachable(twilio, channel, sink, code):
    twilio.enqueue(twilio_error(code))

    with pytest.raises(RecipientUnreachable) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.opted_out is False
    assert caught.value.code == str(code)
    assert sink.unreachable == []


@pytest.mark.parametrize(
    "response",
    [
        twilio_error(20429, status=429, message="Too Many Requests"),
        FakeResponse(status=429, body="Too Many Requests"),
    ],
    ids=["code-20429", "bare-429"],
)
async def test_too_many_requests_is_rate_limited_and_retryable(twilio, channel, response):
    twilio.enqueue(response)

    with pytest.raises(RateLimited) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.retryable is True


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_is_channel_unavailable_and_retryable(twilio, channel, status):
    twilio.enqueue(FakeResponse(status=status, body="<html>oops</html>"))

    with pytest.raises(ChannelUnavailable) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.retryable is True


async def test_other_rejection_is_permanent(twilio, channel):
    twilio.enqueue(twilio_error(21602, message="Message body is required"))

    with pytest.raises(PermanentSendError) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.code == "21602"
    assert caught.value.retryable is False


async def test_timeout_after_sending_is_outcome_unknown_not_retried(twilio, channel):
    twilio.enqueue(FakeResponse(delay=5))

    with pytest.raises(OutcomeUnknown) as caught:
        await channel.send(ANA, UPDATE)

    assert caught.value.retryable is False
    assert len(twilio.requests) == 1  # the request did reach the server


async def test_unreachable_server_is_channel_unavailable():
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = SmsChannel(sms_config(api_base_url=f"http://127.0.0.1:{port}"))
    await sms.start(RecordingSink().callbacks)
    try:
        with pytest.raises(ChannelUnavailable) as caught:
            await sms.send(ANA, UPDATE)
    finally:
        await sms.stop()

    assert caught.value.retryable is True


async def test_long_reply_is_sent_as_several_messages_and_returns_the_first_sid(twilio, channel):
    long_reply = Reply(text="\n\n".join(["Párrafo. " * 100] * 2))  # two 900-char paragraphs

    sid = await channel.send(ANA, long_reply)

    assert sid == "SMfake000001"
    assert len(twilio.requests) == 2
    assert all(len(r.form["Body"]) <= 1600 for r in twilio.requests)


async def test_failure_after_a_first_part_was_accepted_is_outcome_unknown(twilio, channel):
    long_reply = Reply(text="\n\n".join(["Párrafo. " * 100] * 2))
    twilio.enqueue(FakeResponse(), FakeResponse(status=500, body="down"))

    with pytest.raises(OutcomeUnknown):
        await channel.send(ANA, long_reply)


async def test_send_before_start_is_channel_unavailable():
    sms = SmsChannel(sms_config())

    with pytest.raises(ChannelUnavailable):
        await sms.send(ANA, UPDATE)


async def test_send_without_a_sender_is_a_permanent_error(twilio):
    config = parse_config(
        {
            "twilio": {
                "account_sid": FAKE_ACCOUNT_SID,
                "auth_token": FAKE_AUTH_TOKEN,
                "api_base_url": twilio.base_url,
            }
        }
    )
    sms = SmsChannel(config)
    await sms.start(RecordingSink().callbacks)
    try:
        with pytest.raises(PermanentSendError):
            await sms.send(ANA, UPDATE)
    finally:
        await sms.stop()

    assert twilio.requests == []


def test_channel_without_credentials_is_a_config_error():
    with pytest.raises(ConfigError, match=r"twilio\.auth_token"):
        SmsChannel(parse_config({"twilio": {"account_sid": FAKE_ACCOUNT_SID}}))


async def test_stop_twice_is_safe(twilio):
    sms = SmsChannel(sms_config(api_base_url=twilio.base_url))
    await sms.start(RecordingSink().callbacks)

    await sms.stop()
    await sms.stop()


def test_channel_describes_itself_as_data():
    assert SmsChannel.name == "sms"
    assert SmsChannel.capabilities.buttons is False
    assert SmsChannel.capabilities.max_text_length == 1600
    assert SmsChannel.capabilities.delivery_reports is True
    routes = SmsChannel(sms_config()).routes()
    assert [(r.method, r.path) for r in routes] == [
        ("POST", "/twilio/sms"),
        ("POST", "/twilio/status"),
    ]


async def test_status_callbacks_update_the_delivery_of_a_sent_message(twilio):
    config = sms_config(api_base_url=twilio.base_url)
    async with SmsHarness(config) as harness:
        sid = await harness.channel.send(ANA, UPDATE)
        callback_url = twilio.requests[0].form["StatusCallback"]
        assert callback_url == PUBLIC_URL + "/twilio/status"
        path = callback_url.removeprefix(PUBLIC_URL)
        base = {"MessageSid": sid, "AccountSid": FAKE_ACCOUNT_SID, "To": ANA.id}
        sent = await harness.post(path, {**base, "MessageStatus": "sent"})
        delivered = await harness.post(path, {**base, "MessageStatus": "delivered"})

    assert (sent.status, delivered.status) == (204, 204)
    assert harness.sink.deliveries == [
        ("sms", sid, "sent", None),
        ("sms", sid, "delivered", None),
    ]


async def test_failed_delivery_carries_the_error_code(twilio):
    config = sms_config(api_base_url=twilio.base_url)
    async with SmsHarness(config) as harness:
        sid = await harness.channel.send(ANA, UPDATE)
        answer = await harness.post(
            "/twilio/status",
            {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30007"},
        )

    assert answer.status == 204
    assert harness.sink.deliveries == [("sms", sid, "undelivered", "30007")]
