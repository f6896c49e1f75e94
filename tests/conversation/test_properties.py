"""Whatever a person types, the bot answers and stays in a valid state."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation.state import Event, State
from tests.support.paths import NOW

odd_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(["", " ", "\x00", "\u202e\u05e9\u05dc\u05d5\u05dd", "🙂🚓", "1" * 40]),
    st.just("ab 1ñ " * 2_000),  # 10 kB
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(odd_text, min_size=1, max_size=6), start=st.sampled_from([None, "en", "es"]))
def test_any_text_gets_a_reply_and_leaves_a_valid_state(content, texts, start):
    engine = content.engine
    state = State(locale=start)
    for i, text in enumerate(texts):
        result = engine.step(state, Event(now=NOW + timedelta(seconds=i), text=text))
        assert result.replies, "every message gets an answer"
        assert all(reply.lines for reply in result.replies)
        assert result.state is not None
        state = result.state
        assert state.node is None or state.node in engine.dialogs.nodes
        assert all(h in engine.dialogs.nodes for h in state.history)
        assert state.locale is None or state.locale in engine.locales
        assert State.from_json(state.to_json()) == state
