"""Whatever people type at any step of a work log, or send as a duty button: a re-prompt or a
clear refusal, never a crash; a shift is never given away by anyone but its holder, never taken
by anyone outside the pool, and logged at most once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.duty import parsed
from assistant.domain import Actor, ShiftStatus
from assistant.flows.engine import Engine, Outcome
from assistant.services.duty import CANT, TAKE, Duty, Handling
from assistant.storage.models import (
    ConversationState,
    ConversationStatus,
    DutyLog,
    DutyShift,
    FunctionalRoom,
)
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

NOW = datetime(2026, 9, 14, 14, 0, tzinfo=UTC)
# Telegram ids: the holder (a BUS party member), another of the pool, a student outside it, the
# room's counsellor.
HOLDER, POOL, STUDENT, COUNSELLOR = 4242, 4243, 4244, 4245
PEOPLE = {HOLDER: "2023010004", POOL: "2024010003", STUDENT: "2023010001", COUNSELLOR: "T0005"}
# The answers that take a work log to its summary, one per step.
ANSWERS = ("12", "A study session on party history", "The lamp by the door is broken")


async def _setup(url: str) -> None:
    async with campus.committed(url) as session:
        ids = await campus.link(session, PEOPLE, NOW)
        room = await session.scalar(select(FunctionalRoom).where(FunctionalRoom.code == "BUS-ACT"))
        assert room is not None
        # One shift that ended an hour ago (its log is due), one tomorrow (it may be swapped).
        for starts_at in (NOW - timedelta(hours=4), NOW + timedelta(days=1)):
            session.add(
                DutyShift(
                    room_id=room.id,
                    person_id=ids[HOLDER],
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=3),
                    status=ShiftStatus.PLANNED,
                    planned_at=NOW,
                    updated_at=NOW,
                )
            )


def _files(url: str) -> tuple[Engine, Duty]:
    loaded = campus.load(url)
    return loaded.engine, loaded.service(Duty)


async def _walk_to(
    engine: Engine, duty: Duty, session: AsyncSession, steps: int
) -> tuple[Outcome, Actor]:
    """Open the log of the shift that ended and give ``steps`` valid answers (4: the summary)."""
    actor = await campus.actor(session, HOLDER)
    handling, preset = await duty.log_preset(session, actor, 1, NOW)
    assert handling is Handling.DONE
    conversation = engine.conversations["duty_log"]
    outcome = await engine.start(
        session, actor, HOLDER, conversation, now=NOW, language="en", preset=preset
    )
    for answer in ANSWERS[:steps]:
        typed = await engine.text(session, actor, HOLDER, answer, now=NOW, language="en")
        assert typed is not None
        outcome = typed
    if steps > len(ANSWERS):
        screen = outcome.send[-1]
        yes = next(b for row in screen.buttons for b in row if b.data.split(":")[3] == "y")
        outcome = await engine.press(session, actor, HOLDER, yes.data, now=NOW, language="en")
    return outcome, actor


def test_any_text_and_any_button_data_at_any_step_of_a_work_log(
    empty_database_url: str,
) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, duty = _files(empty_database_url)

    @given(steps=st.integers(0, 4), text=human_text, data=forged_data, submit=st.booleans())
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_exercise(engine, duty, empty_database_url, steps, text, data, submit))

    example()


async def _exercise(
    engine: Engine, duty: Duty, url: str, steps: int, text: str, data: str, submit: bool
) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, duty, session, steps)
        screen = await campus.type_and_press(engine, session, actor, HOLDER, text, data, NOW)
        if submit:
            buttons = [b for row in screen.buttons for b in row if b.data.endswith(":s:")]
            if buttons:
                await engine.press(session, actor, HOLDER, buttons[0].data, now=NOW, language="en")
                await engine.press(session, actor, HOLDER, buttons[0].data, now=NOW, language="en")
        logs = await session.scalar(select(func.count()).select_from(DutyLog))
        assert (logs or 0) <= 1
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1


def duty_data() -> st.SearchStrategy[str]:
    """What a duty button may come back with: real ones, forged ones, anything."""
    return st.one_of(
        st.builds(
            lambda shift, op: f"dt:{shift}:{op}",
            st.sampled_from(["1", "2", "3", "0", "²", "٣", "-1", "99999999999", ""]),
            st.sampled_from(["x", "t", "l", "", "xx", "T"]),
        ),
        st.text(max_size=64).map(lambda text: f"dt:{text}"),
        st.text(max_size=64),
    )


def test_any_duty_button_from_anyone(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    _, duty = _files(empty_database_url)

    @given(
        presses=st.lists(
            st.tuples(st.sampled_from(sorted(PEOPLE)), duty_data()), min_size=1, max_size=4
        )
    )
    @settings(max_examples=60, deadline=None)
    def example(presses: list[tuple[int, str]]) -> None:
        asyncio.run(_press(duty, empty_database_url, presses))

    example()


async def _press(duty: Duty, url: str, presses: list[tuple[int, str]]) -> None:
    async with campus.discarded(url) as session:
        holder = (await campus.actor(session, HOLDER)).person_id
        pool = (await campus.actor(session, POOL)).person_id
        for telegram_id, data in presses:
            actor = await campus.actor(session, telegram_id)
            shift_id, op = parsed(data)
            if shift_id is None:
                continue
            if op == CANT:
                handling = await duty.cant_make_it(session, actor, shift_id, NOW)
            elif op == TAKE:
                handling = await duty.take(session, actor, shift_id, NOW)
            else:
                handling, _ = await duty.log_preset(session, actor, shift_id, NOW)
            assert handling in Handling
        shifts = (await session.scalars(select(DutyShift).order_by(DutyShift.id))).all()
        # The shift that ended is neither given away nor taken: it is the holder's.
        assert (shifts[0].person_id, shifts[0].status) == (holder, ShiftStatus.PLANNED)
        tomorrow = shifts[1]
        assert tomorrow.person_id in (holder, pool)
        if tomorrow.person_id == pool:
            assert tomorrow.swapped_from_person_id == holder
        else:
            assert tomorrow.status in (ShiftStatus.PLANNED, ShiftStatus.OFFERED)
