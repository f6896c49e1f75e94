"""The relay's group sends: in order, and never over the group's limit, however many tickets."""

from __future__ import annotations

from bot.channels.telegram.adapter import TelegramChannel
from bot.config import parse_config
from bot.handoff.relay import ChannelRelay
from bot.messages import Address
from bot.storage import MemoryStorage
from tests.fakes.telegram_server import FakeBotApi
from tests.fakes.timer import FakeTimer

GROUP = -1009


async def test_a_flood_of_tickets_reaches_the_group_in_order_within_twenty_a_minute() -> None:
    timer = FakeTimer()
    async with FakeBotApi(clock=timer.now) as fake:
        config = parse_config(
            {
                "telegram": {"token": fake.token, "base_url": fake.base_url},
                "handoff": {"telegram_chat_id": GROUP},
            }
        )
        bot = TelegramChannel(config, timer=timer)
        relay = ChannelRelay(
            channels={"telegram": bot},
            group_channel=bot,
            group=Address("telegram", str(GROUP)),
            contacts=MemoryStorage(),
            per_minute=20,
            timer=timer,
        )
        try:
            for n in range(45):
                await relay.send_to_group(f"Ticket {n:02d}")
            await relay.flush()
        finally:
            await relay.close()
            await bot.stop()
        sent = fake.sent_to(GROUP)
    assert [m.text for m in sent] == [f"Ticket {n:02d}" for n in range(45)]
    times = [m.at for m in sent]
    # Any 21 messages in a row span at least a minute: never more than 20 in one.
    assert all(times[i + 20] - times[i] >= 60.0 - 1e-6 for i in range(len(times) - 20))
    assert times[-1] - times[0] < 45 * 3.0 + 1  # and no slower than the limit needs
