"""Whatever people type or forge while nominating a Star, or pressing a Pick button: a re-prompt
or a clear refusal, never a crash, never a second nomination, never a pick by the wrong person."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.stars import STAR_SURE, number_of
from assistant.domain import Actor
from assistant.flows.engine import Engine, Outcome
from assistant.services.stars import Picking, Selector
from assistant.storage.models import (
    AuditEntry,
    ConversationState,
    ConversationStatus,
    StarAward,
    StarNomination,
)
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
# Telegram ids of the people acting: a nominating student, the Service Centre, and people of
# other roles who may not pick (floor leader, counsellor, Organisation Department, expert, admin).
STUDENT = 4242
CENTRE = 4243
OTHERS = {4244: "2023010004", 4245: "T0005", 4246: "T0016", 4247: "T0022", 4248: "T0027"}
PEOPLE = {STUDENT: "2023010001", CENTRE: "T0019", **OTHERS}


def pick_data(nomination_id: int) -> st.SearchStrategy[str]:
    """Callback data a pick's "yes" may come back with: the real one, forged ones, anything."""
    return st.one_of(
        st.just(f"sty:{nomination_id}"),
        st.text(max_size=20).map(lambda text: f"sty:{text}"),
        st.integers(-5, 10**12).map(lambda number: f"sty:{number}"),
        st.text(max_size=64),
    )


async def _walk_to(engine: Engine, session: AsyncSession, steps: int) -> tuple[Outcome, Actor]:
    """Start /nominate and give ``steps`` valid answers (2: at the summary)."""
    actor = await campus.actor(session, STUDENT)
    conversation = engine.for_command("nominate")
    assert conversation is not None
    outcome = await engine.start(session, actor, STUDENT, conversation, now=NOW, language="en")
    for _ in range(steps):
        screen = outcome.send[-1]
        choices = [b for row in screen.buttons for b in row if b.data.split(":")[3] == "o"]
        if choices:
            outcome = await engine.press(
                session, actor, STUDENT, choices[0].data, now=NOW, language="en"
            )
        else:
            typed = await engine.text(
                session, actor, STUDENT, "Tutors the whole floor in maths", now=NOW, language="en"
            )
            assert typed is not None
            outcome = typed
    return outcome, actor


def test_any_text_and_any_button_data_at_any_step_of_a_nomination(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine = campus.load(empty_database_url).engine

    @given(steps=st.integers(0, 2), text=human_text, data=forged_data, submit=st.booleans())
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_exercise(engine, empty_database_url, steps, text, data, submit))

    example()


async def _exercise(
    engine: Engine, url: str, steps: int, text: str, data: str, submit: bool
) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, session, steps)
        screen = await campus.type_and_press(engine, session, actor, STUDENT, text, data, NOW)
        if submit:
            # Whatever was typed, Submit on the screen now shown stores at most one.
            await campus.submit_all(engine, session, actor, STUDENT, screen, NOW)
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
        count = await session.scalar(select(func.count()).select_from(StarNomination))
        assert (count or 0) <= 1


def test_any_pick_data_from_anyone_is_checked_on_the_server(empty_database_url: str) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    loaded = campus.load(empty_database_url)
    engine, selector = loaded.engine, loaded.service(Selector)
    nomination_id = asyncio.run(_nominated(engine, empty_database_url))

    @given(presser=st.sampled_from(sorted(PEOPLE)), data=pick_data(nomination_id))
    @settings(max_examples=80, deadline=None)
    def example(presser: int, data: str) -> None:
        asyncio.run(_pick(selector, empty_database_url, presser, data))

    example()


async def _nominated(engine: Engine, url: str) -> int:
    """The student's nomination, committed, for picks to name; returns its id."""
    async with campus.committed(url) as session:
        outcome, actor = await _walk_to(engine, session, 2)
        [submit] = [b for row in outcome.send[-1].buttons for b in row if b.data.endswith(":s:")]
        await engine.press(session, actor, STUDENT, submit.data, now=NOW, language="en")
        [nomination] = (await session.scalars(select(StarNomination))).all()
        return nomination.id


async def _pick(selector: Selector, url: str, presser: int, data: str) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, presser)
        picked = await selector.pick(
            session, actor, number_of(STAR_SURE, data, "nomination"), now=NOW, language="en"
        )
        awards = (await session.scalars(select(StarAward))).all()
        refusals = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "star.refused"))
        ).all()
        if presser == CENTRE:
            assert picked.handling in (Picking.DONE, Picking.GONE)
            assert len(awards) == (picked.handling is Picking.DONE)
            assert refusals == []
        else:
            assert picked.handling is Picking.NOT_ALLOWED and picked.reason
            assert awards == [] and len(refusals) == 1
