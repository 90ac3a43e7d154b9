"""Whatever people type or forge asking the Red Service Team for help, thanking a volunteer, or
pressing its buttons: a re-prompt or a clear refusal, never a crash; one request per
conversation, offered only to the volunteers of the student's own community; taken by at most
one of them, never by anyone else; done, with hours, only once and only by the student."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.red_service import parsed
from assistant.domain import Actor, ServiceStatus
from assistant.flows.engine import Engine, Outcome
from assistant.services.red_service import TAKE, THANKS, Handling, Team
from assistant.storage import repo
from assistant.storage.models import (
    ConversationState,
    ConversationStatus,
    OutboxMessage,
    Person,
    ServiceRequest,
)
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

# Monday 14 September 2026, 09:00 on campus.
NOW = datetime(2026, 9, 14, 1, 0, tzinfo=UTC)
# Telegram ids: the student (B1, community 1), two of its volunteers, its team leader, the
# student's roommate, a volunteer of community 2.
STUDENT, LI, ZHOU, LEADER, ROOMMATE, ELSEWHERE = 4301, 4302, 4303, 4304, 4305, 4306
PEOPLE = {
    STUDENT: "2023010001",
    LI: "2021010004",
    ZHOU: "2024010004",
    LEADER: "2023010009",
    ROOMMATE: "2023010002",
    ELSEWHERE: "2021010008",
}
VOLUNTEERS = {LI, ZHOU}
# What walks /service to its summary, one per typed step (the others are pressed).
TYPED = ("My phone will not start", "tomorrow", "Building 1, room 101")


async def _setup(url: str) -> None:
    """The campus, everyone linked, two requests of the student (one open, one taken by the
    first volunteer) and one open request the first volunteer made themselves."""
    async with campus.committed(url) as session:
        ids = await campus.link(session, PEOPLE, NOW)
        student = await session.get(Person, ids[STUDENT])
        assert student is not None
        home = await repo.place_of_room(session, student.dorm_room_id)
        assert home is not None
        starts_at = NOW + timedelta(days=1, hours=3)
        for requester, volunteer in ((STUDENT, None), (STUDENT, ids[LI]), (LI, None)):
            session.add(
                ServiceRequest(
                    requester_person_id=ids[requester],
                    community_id=home.community.id,
                    kind="phone",
                    detail="My phone will not start",
                    place="B1-101",
                    window="noon",
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=1, minutes=30),
                    status=ServiceStatus.TAKEN if volunteer else ServiceStatus.OPEN,
                    routed_by="default",
                    offered_to=["service_volunteer"],
                    volunteer_person_id=volunteer,
                    taken_at=NOW if volunteer else None,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def _files(url: str) -> tuple[Engine, Team]:
    loaded = campus.load(url)
    return loaded.engine, loaded.service(Team)


async def _walk_to(engine: Engine, session: AsyncSession, steps: int) -> tuple[Outcome, Actor]:
    """Start /service as the student and give ``steps`` valid answers (5: at the summary)."""
    actor = await campus.actor(session, STUDENT)
    conversation = engine.for_command("service")
    assert conversation is not None
    outcome = await engine.start(session, actor, STUDENT, conversation, now=NOW, language="en")
    typed = iter(TYPED)
    for _ in range(steps):
        screen = outcome.send[-1]
        choices = [b for row in screen.buttons for b in row if b.data.split(":")[3] == "o"]
        step = await session.scalar(
            select(ConversationState.step).where(
                ConversationState.status == ConversationStatus.ACTIVE
            )
        )
        if choices and step in ("kind", "window"):
            outcome = await engine.press(
                session, actor, STUDENT, choices[0].data, now=NOW, language="en"
            )
        else:
            answered = await engine.text(
                session, actor, STUDENT, next(typed), now=NOW, language="en"
            )
            assert answered is not None
            outcome = answered
    return outcome, actor


async def _carded(session: AsyncSession) -> set[int]:
    """The chats that got a card of a request asked for in the example."""
    rows = await session.scalars(
        select(OutboxMessage.chat_id).where(OutboxMessage.ref.like("rs:%:offer"))
    )
    return set(rows.all())


def test_any_text_and_any_button_data_at_any_step_of_asking_for_help(
    empty_database_url: str,
) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, _ = _files(empty_database_url)

    @given(steps=st.integers(0, 5), text=human_text, data=forged_data, submit=st.booleans())
    @settings(max_examples=60, deadline=None)
    def asking(steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_ask(engine, empty_database_url, steps, text, data, submit))

    asking()


async def _ask(engine: Engine, url: str, steps: int, text: str, data: str, submit: bool) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, session, steps)
        screen = await campus.type_and_press(engine, session, actor, STUDENT, text, data, NOW)
        if submit:
            for row in screen.buttons:
                for button in row:
                    if button.data.endswith(":s:"):
                        await engine.press(
                            session, actor, STUDENT, button.data, now=NOW, language="en"
                        )
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
        asked = (await session.scalars(select(ServiceRequest).where(ServiceRequest.id > 3))).all()
        assert len(asked) <= 1
        for request in asked:
            assert request.kind in ("phone", "computer", "waste_sorting", "other")
            assert request.window in ("noon", "afternoon", "evening")
            assert request.ends_at > NOW
        assert await _carded(session) <= VOLUNTEERS


def test_any_text_and_any_button_data_thanking_a_volunteer(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, team = _files(empty_database_url)

    @given(text=human_text, data=forged_data, skip=st.booleans(), twice=st.booleans())
    @settings(max_examples=60, deadline=None)
    def thanking(text: str, data: str, skip: bool, twice: bool) -> None:
        asyncio.run(_thank(engine, team, empty_database_url, text, data, skip, twice))

    thanking()


async def _thank(
    engine: Engine, team: Team, url: str, text: str, data: str, skip: bool, twice: bool
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, STUDENT)
        pressed, preset = await team.done_preset(session, actor, 2, NOW)
        assert pressed.handling is Handling.DONE
        conversation = engine.conversations[THANKS]
        outcome = await engine.start(
            session, actor, STUDENT, conversation, now=NOW, language="en", preset=preset
        )
        if skip:
            skipper = [b for row in outcome.send[-1].buttons for b in row if ":k:" in b.data]
            outcome = await engine.press(
                session, actor, STUDENT, skipper[0].data, now=NOW, language="en"
            )
        else:
            typed = await engine.text(session, actor, STUDENT, text, now=NOW, language="en")
            assert typed is not None and typed.send
            assert all(screen.text.strip() for screen in typed.send)
            outcome = typed
        forged = await engine.press(session, actor, STUDENT, data, now=NOW, language="en")
        assert forged.send or forged.toast is not None or forged.edit is not None
        submit = [
            b
            for screen in (*outcome.send, *forged.send)
            for row in screen.buttons
            for b in row
            if b.data.endswith(":s:")
        ]
        for button in submit[: 2 if twice else 1]:
            done = await engine.press(session, actor, STUDENT, button.data, now=NOW, language="en")
            assert done.send or done.toast is not None
        request = await session.get(ServiceRequest, 2)
        assert request is not None
        if request.status is ServiceStatus.DONE:
            assert request.hours == 1.0 and request.done_at == NOW
        else:
            assert request.status is ServiceStatus.TAKEN and request.hours is None
        thanked = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == LI, OutboxMessage.method == "sendMessage")
        )
        assert (thanked or 0) <= 1, "the volunteer is thanked once at most"


def service_data() -> st.SearchStrategy[str]:
    """What a Red Service Team button may come back with: real ones, forged ones, anything."""
    return st.one_of(
        st.builds(
            lambda request, op: f"rs:{request}:{op}",
            st.sampled_from(["1", "2", "3", "0", "²", "٣", "-1", "99999999999", ""]),
            st.sampled_from(["t", "d", "", "tt", "T", "x"]),
        ),
        st.text(max_size=64).map(lambda text: f"rs:{text}"),
        st.text(max_size=64),
    )


def test_any_red_service_button_from_anyone(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    _, team = _files(empty_database_url)

    @given(
        presses=st.lists(
            st.tuples(st.sampled_from(sorted(PEOPLE)), service_data()), min_size=1, max_size=5
        )
    )
    # Every time: both volunteers press for the open request, and one presses for their own.
    @example(presses=[(ZHOU, "rs:1:t"), (LI, "rs:1:t"), (LI, "rs:3:t")])
    @settings(max_examples=80, deadline=None)
    def pressing(presses: list[tuple[int, str]]) -> None:
        asyncio.run(_press(team, empty_database_url, presses))

    pressing()


async def _press(team: Team, url: str, presses: list[tuple[int, str]]) -> None:
    async with campus.discarded(url) as session:
        volunteers = {(await campus.actor(session, t)).person_id for t in VOLUNTEERS}
        for telegram_id, data in presses:
            actor = await campus.actor(session, telegram_id)
            request_id, op = parsed(data)
            if request_id is None:
                continue
            if op == TAKE:
                outcome = await team.take(session, actor, request_id, NOW)
            else:
                outcome, preset = await team.done_preset(session, actor, request_id, NOW)
                # Done only asks (the thanks conversation); it never finishes anything.
                assert bool(preset) == (outcome.handling is Handling.DONE)
            assert outcome.handling in Handling
        open_one = await session.get(ServiceRequest, 1)
        taken_one = await session.get(ServiceRequest, 2)
        assert open_one is not None and taken_one is not None
        # The open request is taken by one volunteer of its community, or by nobody.
        if open_one.status is ServiceStatus.TAKEN:
            assert open_one.volunteer_person_id in volunteers
        else:
            assert open_one.status is ServiceStatus.OPEN
            assert open_one.volunteer_person_id is None
        # The one already taken stays with the volunteer who took it.
        li = (await campus.actor(session, LI)).person_id
        assert taken_one.status is ServiceStatus.TAKEN
        assert taken_one.volunteer_person_id == li
        # A volunteer who asked never takes their own request.
        own = await session.get(ServiceRequest, 3)
        assert own is not None and own.volunteer_person_id != li
