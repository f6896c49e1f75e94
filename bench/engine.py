"""Engine steps/s, messages/s through the conversation service with SQLite, and start-up time.

Run: ``.venv/bin/python bench/engine.py``. Targets: >= 10,000 engine steps/s and >= 1,000
messages/s on one core; start-up (load + validate dialogs, catalogs and examples, load the
intent model from its cache) under 1 s; a cold build (training the model) under 10 s.

The mixed stream is numbers, commands and free text; the free text is drawn from the
held-out messages (``tests/data/heldout``), and the text-keyed normalisation cache is
cleared before every step, so no answer comes from a cache keyed by the message. (The intent
model keeps one weight row per word it has seen, keyed by the word: see docs/ROUTING.md.)
Compare with main in the same run on a busy machine: ``cd <main checkout> && <venv>/python
bench/engine.py``, then this one.

Options: ``--cpu`` also gives engine steps per CPU second, measured in chunks of 2,000 steps
(median and 90th percentile of the chunks): CPU time counts only this process, so it is far
less noisy than wall time on a shared machine. ``--engine-only`` skips the cold build, the
start-up and the service. ``--tree DIR`` measures another checkout (its code, content and
held-out set) with this script, for a before/after comparison with the same options.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _root() -> Path:
    # Read before the imports below, which must come from the measured tree.
    at = sys.argv.index("--tree") + 1 if "--tree" in sys.argv else 0
    if 0 < at < len(sys.argv):
        return Path(sys.argv[at]).resolve()
    return Path(__file__).resolve().parents[1]


ROOT = _root()
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.conversation.matching import normalize  # noqa: E402
from bot.conversation.service import ConversationService  # noqa: E402
from bot.conversation.state import Event, State  # noqa: E402
from bot.conversation.version import load_content  # noqa: E402
from bot.messages import Address, Inbound  # noqa: E402
from bot.privacy import AddressVault  # noqa: E402
from bot.storage import open_storage  # noqa: E402

MIXED = [
    # numbers and buttons
    "1",
    "2",
    "3",
    "0",
    "4",
    "1",
    "2",
    # global commands in both languages
    "menu",
    "menú",
    "atrás",
    "back",
    "ayuda",
    "help",
    "english",
    "español",
    "inicio",
    "volver",
    # keywords and emergency words
    "ICE",
    "migra",
    "orden judicial",
    "warrant",
    "traffic stop",
    "me paró la policía",
    # free text, both languages, some unanswerable
    "what if police stop me in my car",
    "qué hago si tocan la puerta los de inmigración",
    "se llevaron a mi esposo ayer que hago",
    "how do i file a complaint about an officer",
    "cual es el clima mañana",
    "do you sell bus tickets",
    "hola buenas tardes",
    "la policia puede preguntar mis papeles",
    "u visa victim of crime",
]
FREE_TEXT_SHARE = 0.5
"""Half the steps are free text drawn from the held-out messages."""
START = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def heldout() -> list[str]:
    found = []
    for path in sorted((ROOT / "tests" / "data" / "heldout").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.extend(text for texts in data["examples"].values() for text in texts)
    return found


def stream(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    free = heldout()
    return [
        rng.choice(free) if rng.random() < FREE_TEXT_SHARE else rng.choice(MIXED) for _ in range(n)
    ]


def config(cache_dir: Path | None = ROOT / "data" / "cache"):
    return parse_config(
        {
            "content": {
                "dialogs_dir": str(ROOT / "dialogs"),
                "locales_dir": str(ROOT / "locales"),
                "cache_dir": str(cache_dir) if cache_dir is not None else None,
            }
        }
    )


def bench_cold_build() -> float:
    """Load content with an empty model cache: the model is trained."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        load_content(config(Path(scratch)))
        return time.perf_counter() - started


def bench_startup(runs: int = 7) -> float:
    timings = []
    cfg = config()
    load_content(cfg)  # fills the cache if the examples changed
    for _ in range(runs):
        started = time.perf_counter()
        load_content(cfg)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


CHUNK = 2_000
"""Steps per CPU-time measurement (``--cpu``)."""


def bench_engine(n: int = 30_000) -> tuple[float, list[float]]:
    """Steps per wall second over the whole stream, and steps per CPU second of each chunk."""
    content = load_content(config())
    engine = content.engine
    texts = stream(n)
    states = [State(locale=random.Random(i).choice(["en", "es"])) for i in range(50)]
    clear = normalize.cache_clear
    chunks: list[float] = []
    started = time.perf_counter()
    cpu = time.process_time()
    for i, text in enumerate(texts):
        clear()
        who = i % len(states)
        result = engine.step(states[who], Event(now=START + timedelta(seconds=i), text=text))
        states[who] = result.state or State()
        if (i + 1) % CHUNK == 0:
            now = time.process_time()
            chunks.append(CHUNK / (now - cpu) if now > cpu else float("inf"))
            cpu = now
    return n / (time.perf_counter() - started), chunks


async def bench_service(n: int = 5_000, contacts: int = 100, concurrency: int = 50) -> float:
    content = load_content(config())
    with tempfile.TemporaryDirectory() as scratch:
        storage = open_storage(
            f"sqlite+aiosqlite:///{Path(scratch) / 'bench.sqlite3'}",
            vault=AddressVault.throwaway(),
        )
        await storage.open()
        service = ConversationService(content=content, storage=storage)
        texts = stream(n, seed=11)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                address = Address("sms", f"+1555010{i % contacts:04d}")
                await service.handle(
                    Inbound(address, texts[i], START + timedelta(seconds=i), message_id=f"SM{i}")
                )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await service.flush_counters()
        await storage.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cpu", action="store_true", help="also steps per CPU second")
    parser.add_argument("--engine-only", action="store_true", help="only the engine steps")
    parser.add_argument("--tree", type=Path, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    if args.tree is not None:
        os.chdir(ROOT)
    if not args.engine_only:
        cold = bench_cold_build()
        startup = bench_startup()
        print(
            f"cold build (load + validate + train the intent model): {cold:.1f} s  (target < 10 s)"
        )
        print(
            f"start-up (load + validate dialogs, catalogs, examples; model from cache; median of"
            f" 7): {startup * 1000:.0f} ms  (target < 1,000 ms)"
        )
    steps, chunks = bench_engine()
    print(f"engine: {steps:,.0f} steps/s on a mixed stream  (target >= 10,000)")
    if args.cpu:
        ordered = sorted(chunks)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        print(
            f"engine, steps per CPU second in chunks of {CHUNK:,}: median"
            f" {statistics.median(ordered):,.0f}, 90th percentile {p90:,.0f}"
        )
    if not args.engine_only:
        messages = asyncio.run(bench_service())
        print(f"conversation service with SQLite: {messages:,.0f} messages/s  (target >= 1,000)")


if __name__ == "__main__":
    main()
