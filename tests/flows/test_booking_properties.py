"""Whatever people type or forge at any step of /book: a re-prompt or a clear answer, no crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor
from assistant.flows.engine import Engine, Outcome
from assistant.storage.models import ConversationState, ConversationStatus
from tests.flows import campus
from tests.flows.test_engine_properties import (
    NOW,
    PEOPLE,
    TELEGRAM_ID,
    forged_data,
    human_text,
)

# What a person answers at each step when they answer well: room kind, room, date, slot,
# purpose, attendees. Buttons are pressed by their position; the date is typed.
WALK = ("press", "press", "date", "press", "Class meeting", "5")

booking_data = st.one_of(
    forged_data,
    st.builds(
        lambda state, version, op, arg: f"cv:{state}:{version}:{op}:{arg}",
        st.integers(1, 3),
        st.integers(1, 12),
        st.sampled_from([*"obxpmdyksunhg"]),
        st.one_of(
            st.integers(-2, 20).map(str),
            st.sampled_from(["20260902", "202609", "x", "08:00", "GROWTH", "reading_room"]),
        ),
    ),
)


async def _walk(
    engine: Engine, session: AsyncSession, steps: int, pick: int, day: int
) -> tuple[Outcome, Actor]:
    """Start /book and give ``steps`` answers, pressing the ``pick``-th button where there are
    buttons and typing the day ``day`` days from now at the date."""
    actor = await campus.actor(session, TELEGRAM_ID)
    conversation = engine.for_command("book")
    assert conversation is not None
    outcome = await engine.start(session, actor, TELEGRAM_ID, conversation, now=NOW, language="en")
    for answer in WALK[:steps]:
        screen = outcome.send[-1]
        options = [b for row in screen.buttons for b in row if b.data.split(":")[3] in "oh"]
        if answer == "press" and options:
            chosen = options[pick % len(options)].data
            outcome = await engine.press(
                session, actor, TELEGRAM_ID, chosen, now=NOW, language="en"
            )
            continue
        text = (NOW + timedelta(days=day)).date().isoformat() if answer == "date" else answer
        typed = await engine.text(session, actor, TELEGRAM_ID, text, now=NOW, language="en")
        assert typed is not None
        outcome = typed
    return outcome, actor


def test_any_text_and_any_button_data_at_any_step_of_booking(empty_database_url: str) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine = campus.load(empty_database_url).engine

    @given(
        steps=st.integers(0, len(WALK)),
        pick=st.integers(0, 12),
        day=st.integers(-2, 20),
        submit=st.booleans(),
        text=human_text,
        data=booking_data,
    )
    @settings(max_examples=80, deadline=None)
    def example(steps: int, pick: int, day: int, submit: bool, text: str, data: str) -> None:
        asyncio.run(_exercise(engine, empty_database_url, steps, pick, day, submit, text, data))

    example()


async def _exercise(
    engine: Engine,
    url: str,
    steps: int,
    pick: int,
    day: int,
    submit: bool,
    text: str,
    data: str,
) -> None:
    async with campus.discarded(url) as session:
        outcome, actor = await _walk(engine, session, steps, pick, day)
        submits = [b for row in outcome.send[-1].buttons for b in row if b.data[-3:] == ":s:"]
        if submit and submits:
            done = await engine.press(
                session, actor, TELEGRAM_ID, submits[0].data, now=NOW, language="en"
            )
            assert done.send and all(screen.text.strip() for screen in done.send)
        typed = await engine.text(session, actor, TELEGRAM_ID, text, now=NOW, language="en")
        active = await session.scalar(
            select(ConversationState.id).where(
                ConversationState.status == ConversationStatus.ACTIVE
            )
        )
        if typed is None:
            assert active is None, "a running conversation always answers"
        else:
            assert typed.send and all(screen.text.strip() for screen in typed.send)
        pressed = await engine.press(session, actor, TELEGRAM_ID, data, now=NOW, language="en")
        assert pressed.send or pressed.toast is not None or pressed.edit is not None
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
