"""``App.serve`` wires the handoff: the volunteers' group and a person on Telegram, one process."""

from __future__ import annotations

import asyncio

from bot.app import App
from bot.storage import MemoryStorage
from tests.conftest import make_config
from tests.fakes.telegram_server import FakeBotApi

GROUP = -100777
VOLUNTEER = 4242
PERSON = 8080


async def test_serve_relays_a_telegram_person_to_the_volunteers_group_and_back() -> None:
    async with FakeBotApi() as fake:
        config = make_config(
            telegram={"token": fake.token, "base_url": fake.base_url},
            server={"port": 0},
            handoff={"telegram_chat_id": GROUP, "volunteer_ids": [VOLUNTEER]},
        )
        app = App(config, storage=MemoryStorage())
        ready = asyncio.Event()
        serving = asyncio.ensure_future(app.serve(ready=lambda _app: ready.set()))
        try:
            await asyncio.wait_for(ready.wait(), 60)
            fake.push_update(fake.text_update(PERSON, "/start en"))
            fake.push_update(fake.text_update(PERSON, "volunteer"))
            await fake.wait_until(lambda: fake.sent_to(GROUP), within=20)
            fake.push_update(fake.text_update(PERSON, "Can someone help?"))
            await fake.wait_until(lambda: len(fake.sent_to(GROUP)) >= 2, within=20)
            relayed = fake.sent_to(GROUP)[-1]
            assert relayed.text.endswith("\nCan someone help?")
            fake.push_update(
                fake.text_update(
                    GROUP,
                    "Yes. What happened?",
                    chat_type="supergroup",
                    user_id=VOLUNTEER,
                    reply_to=relayed,
                )
            )
            await fake.wait_until(
                lambda: fake.sent_to(PERSON)[-1].text == "Volunteer: Yes. What happened?",
                within=20,
            )
        finally:
            app.stop()
            await asyncio.wait_for(serving, 30)
