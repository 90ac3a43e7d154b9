"""Whatever people type or forge, at any step: a re-prompt or a clear refusal, never a crash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor
from assistant.flows.engine import Engine, Outcome
from assistant.storage.models import ConversationState, ConversationStatus
from tests.flows import campus

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TELEGRAM_ID = 4242
# The one person linked: a student.
PEOPLE = {TELEGRAM_ID: "2023010001"}

human_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(categories=["So", "Sk", "Cs", "Lo"]), max_size=50),
    st.text(min_size=3000, max_size=6000),
    st.sampled_from(["", " ", "\n", "/", "0", "-1e309", "nan", "是", "no", "2026-02-30"]),
    # Half a surrogate pair, as an escape in Telegram's JSON could carry: no store encodes it.
    st.sampled_from(["\ud800", "A good reason \udfff", "\ude00 and more"]),
    # A NUL, which PostgreSQL's text cannot hold.
    st.sampled_from(["\x00", "A good reason\x00", "000000000\x00"]),
)
forged_data = st.one_of(
    st.text(max_size=64),
    # Digits beyond ASCII pass str.isdigit() but not int().
    st.sampled_from(["cv:²:1:o:0", "cv:1:٣:o:0", "cv:1:1:o:²", "cv:1:1:p:٣"]),
    st.builds(
        lambda state, version, op, arg: f"cv:{state}:{version}:{op}:{arg}",
        st.integers(-5, 10**12),
        st.integers(-5, 10**6),
        st.sampled_from([*"obxpmdyksunhg", "zz", ""]),
        st.text(max_size=12),
    ),
)


async def _walk_to(engine: Engine, session: AsyncSession, steps: int) -> tuple[Outcome, Actor]:
    """Start /report and give ``steps`` valid answers; returns the last outcome and the actor."""
    actor = await campus.actor(session, TELEGRAM_ID)
    conversation = engine.for_command("report")
    assert conversation is not None
    outcome = await engine.start(session, actor, TELEGRAM_ID, conversation, now=NOW, language="en")
    for _ in range(steps):
        screen = outcome.send[-1]
        choices = [b for row in screen.buttons for b in row if b.data.split(":")[3] in "oykh"]
        if choices:
            outcome = await engine.press(
                session, actor, TELEGRAM_ID, choices[0].data, now=NOW, language="en"
            )
        else:
            outcome = await engine.text(
                session,
                actor,
                TELEGRAM_ID,
                "A leaking pipe in the corridor",
                now=NOW,
                language="en",
            )
            assert outcome is not None
    return outcome, actor


def test_any_text_and_any_button_data_at_any_step(empty_database_url: str) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine = campus.load(empty_database_url).engine

    @given(steps=st.integers(0, 6), text=human_text, data=forged_data)
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str) -> None:
        asyncio.run(_exercise(engine, empty_database_url, steps, text, data))

    example()


async def _exercise(engine: Engine, url: str, steps: int, text: str, data: str) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, session, steps)
        await campus.type_and_press(engine, session, actor, TELEGRAM_ID, text, data, NOW)
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
