"""Whatever people type or forge while organising an activity, rating it or summarising it, or
whatever button of an activity they press or forge, whoever they are and whenever: a re-prompt
or a clear refusal, never a crash, never an announcement outside the organiser's own places,
never more places than the capacity, never a sign-up twice, never a check-in outside its window,
and check-in opened by the organiser alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import (
    HOLDING_PLACE,
    ActivityStatus,
    Actor,
    Attendance,
    ScopeKind,
    SignupStatus,
)
from assistant.flows.engine import Engine, FlowContext, Outcome, Refused
from assistant.services.activities import (
    ACTIONS,
    CHECK_IN,
    OPEN_CHECK_IN,
    SIGN_UP,
    Activities,
    Answer,
)
from assistant.storage import repo
from assistant.storage.db import settle
from assistant.storage.models import (
    Activity,
    ActivitySignup,
    AuditEntry,
    Booking,
    ConversationState,
    ConversationStatus,
    OutboxMessage,
)
from assistant.wellformed import well_formed
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
# The C1 counsellor organises; people of C1 (building B1) and one of C2 are linked.
COUNSELLOR = 6001
C1_RESIDENTS = {6101: "2023010001", 6102: "2023010002", 6103: "2024010001", 6104: "2022010002"}
C2_RESIDENT = {6201: "2024010006"}
OTHERS = {6002: "T0006", 6003: "T0027", 6004: "2023010004"}
PEOPLE = {COUNSELLOR: "T0005", **C1_RESIDENTS, **C2_RESIDENT, **OTHERS}
IN_C1 = {COUNSELLOR, *C1_RESIDENTS, 6004}
CODES = ["B1-1", "B1-3", "B2-1", "B1", "B2", "C1", "C2", "BUS", "B1-G1", "", "B9-9", "x:y"]


def _files(url: str) -> tuple[Engine, Activities]:
    loaded = campus.load(url)
    return loaded.engine, Activities(loaded.kit())


async def _announced_to(session: AsyncSession) -> set[int]:
    rows = await session.scalars(
        select(OutboxMessage.chat_id).where(OutboxMessage.ref.like("act:%"))
    )
    return set(rows.all())


# /activity ------------------------------------------------------------------------------------


async def _walk_to(engine: Engine, session: AsyncSession, steps: int) -> tuple[Outcome, Actor]:
    """Start /activity as the counsellor and give ``steps`` valid answers (13: the summary):
    the first item of every list, a date typed on a date step, ten places on the number."""
    actor = await campus.actor(session, COUNSELLOR)
    conversation = engine.for_command("activity")
    assert conversation is not None
    outcome = await engine.start(session, actor, COUNSELLOR, conversation, now=NOW, language="en")
    for _ in range(steps):
        screen = outcome.send[-1] if outcome.send else None
        if screen is None:
            break
        buttons = [b for row in screen.buttons for b in row]
        choices = [b for b in buttons if b.data.split(":")[3] == "o"]
        if choices:
            outcome = await engine.press(
                session, actor, COUNSELLOR, choices[0].data, now=NOW, language="en"
            )
            continue
        dated = any(b.data.split(":")[3] == "d" for b in buttons)
        typed = await engine.text(
            session, actor, COUNSELLOR, "2026-09-02" if dated else "10", now=NOW, language="en"
        )
        assert typed is not None
        outcome = typed
    return outcome, actor


def test_any_text_and_any_button_data_at_any_step_of_organising(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine, _ = _files(empty_database_url)

    @given(steps=st.integers(0, 13), text=human_text, data=forged_data, submit=st.booleans())
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_organising(engine, empty_database_url, steps, text, data, submit))

    example()


async def _organising(
    engine: Engine, url: str, steps: int, text: str, data: str, submit: bool
) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, session, steps)
        screen = await campus.type_and_press(engine, session, actor, COUNSELLOR, text, data, NOW)
        if submit:
            await campus.submit_all(engine, session, actor, COUNSELLOR, screen, NOW)
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
        activities = await session.scalar(select(func.count()).select_from(Activity))
        bookings = await session.scalar(select(func.count()).select_from(Booking))
        # A room is booked with its activity and never without one.
        assert (activities or 0) <= 1 and bookings == (
            await session.scalar(
                select(func.count()).select_from(Activity).where(Activity.booking_id.is_not(None))
            )
        )
        assert await _announced_to(session) <= IN_C1


def test_forged_answers_never_announce_beyond_the_organisers_places(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine, activities = _files(empty_database_url)
    conversation = engine.conversations["create_activity"]

    @given(
        kind=st.sampled_from(["party-history-quiz", "sports", "", "nonsense"]),
        place_kind=st.sampled_from(["room", "outside", "", "moon"]),
        room=st.sampled_from(["GROWTH", "BUS-ACT", "ART-ACT", "B2-READ", "", "NOPE"]),
        date=st.sampled_from(["2026-09-02", "2026-09-01", "2027-01-01", "2026-02-30", ""]),
        slot=st.sampled_from(["10:00", "08:00", "20:00", "23:00", "", "x"]),
        capacity=st.one_of(st.integers(-5, 6000), st.floats(allow_nan=True), st.text(max_size=3)),
        scope_kind=st.sampled_from([*(k.value for k in ScopeKind), "", "planet"]),
        scope=st.one_of(st.sampled_from(CODES), st.text(max_size=20)),
        who=st.sampled_from(["everyone", "party_members", "leaders", "", "admins"]),
        channels=st.sampled_from(["people", "groups", "both", "", "fax"]),
        deadline=st.sampled_from(["1", "3", "24", "72", "0", "-1", "x"]),
        attendance=st.sampled_from(["none", "button", "code", "", "retina"]),
        # An action gets its answers from the engine, which keeps typed text storable.
        title=human_text.map(well_formed),
        place=human_text.map(well_formed),
    )
    @settings(max_examples=80, deadline=None)
    def example(**answers: Any) -> None:
        asyncio.run(_submit(activities, conversation, empty_database_url, answers))

    example()


async def _submit(
    activities: Activities, conversation: Any, url: str, answers: dict[str, Any]
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, COUNSELLOR)
        context = FlowContext(session, actor, COUNSELLOR, answers, NOW, "en", conversation)
        try:
            created = await activities.submit(context)
        except Refused:
            assert await session.scalar(select(func.count()).select_from(Activity)) == 0
            assert await session.scalar(select(func.count()).select_from(Booking)) == 0
        else:
            assert created.template in ("activity/created", "activity/created_pending")
            [activity] = (await session.scalars(select(Activity))).all()
            assert 1 <= activity.capacity <= 5000
            assert activity.signup_deadline < activity.starts_at
        assert await _announced_to(session) <= IN_C1


# The buttons of an activity -------------------------------------------------------------------

STARTS = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)
# Those who may press: the organiser, residents of B1 (the audience), one of C2, others.
PRESSERS = [COUNSELLOR, *C1_RESIDENTS, *C2_RESIDENT, *OTHERS]
MOMENTS = [
    NOW,
    STARTS - timedelta(hours=1),
    STARTS - timedelta(minutes=10),
    STARTS + timedelta(minutes=30),
    STARTS + timedelta(hours=2, minutes=1),
]


async def _activity(url: str) -> int:
    """An activity of the counsellor's on the basketball court for building B1, two places,
    attendance by button; two residents already signed up (one with a place, one waiting
    behind a place someone else holds)."""
    async with campus.committed(url) as session:
        organiser = await campus.actor(session, COUNSELLOR)
        building = await repo.building_by_code(session, "B1")
        assert building is not None
        activity = Activity(
            kind="sports",
            title="3-on-3",
            organiser_person_id=organiser.person_id,
            starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=2),
            place="Court 2",
            capacity=2,
            scope_kind=ScopeKind.BUILDING,
            scope_id=building.id,
            audience={"scope_kind": "building", "scope": "B1", "roles": [], "status": []},
            signup_deadline=STARTS - timedelta(hours=3),
            attendance=Attendance.BUTTON,
            status=ActivityStatus.OPEN,
            positions=0,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(activity)
        await session.flush()
        return activity.id


def test_any_press_of_an_activitys_buttons_is_checked_on_the_server(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    _, activities = _files(empty_database_url)
    activity_id = asyncio.run(_activity(empty_database_url))

    @given(
        presses=st.lists(
            st.tuples(
                st.sampled_from(PRESSERS),
                st.sampled_from(sorted(ACTIONS)),
                st.sampled_from(MOMENTS),
                # Callback data passes callbacks.number: nothing beyond a column's ids.
                st.one_of(st.just(activity_id), st.integers(-3, 2**31 - 1)),
            ),
            min_size=1,
            max_size=12,
        )
    )
    @settings(max_examples=80, deadline=None)
    def example(presses: list[tuple[int, str, datetime, int]]) -> None:
        asyncio.run(_pressing(activities, empty_database_url, activity_id, presses))

    example()


async def _pressing(
    activities: Activities,
    url: str,
    activity_id: int,
    presses: list[tuple[int, str, datetime, int]],
) -> None:
    async with campus.discarded(url) as session:
        for presser, action, now, number in sorted(presses, key=lambda p: p[2]):
            actor = await campus.actor(session, presser)
            await _press(activities, session, actor, action, number, now)
            await _holds(session, activity_id)


async def _press(
    activities: Activities,
    session: AsyncSession,
    actor: Actor,
    action: str,
    number: int,
    now: datetime,
) -> None:
    activity = await session.get(Activity, number) if 0 < number < 2**31 else None
    mine = (
        await session.scalar(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == number,
                ActivitySignup.person_id == actor.person_id,
            )
        )
        if activity is not None
        else None
    )
    before = mine.status if mine is not None else None
    refusals = await _refusals(session)
    if action == SIGN_UP:
        press = await activities.sign_up(session, actor, number, now=now)
        await settle(session)
        answer = press.answer
        if answer in (Answer.SIGNED_UP, Answer.WAITING):
            assert activity is not None and now <= activity.signup_deadline
    elif action == OPEN_CHECK_IN:
        answer, _ = await activities.open_check_in(session, actor, number, now=now)
        if activity is not None and actor.person_id != activity.organiser_person_id:
            # Only the organiser opens check-in; anyone else is refused and audited.
            assert answer is Answer.NOT_ALLOWED
            assert await _refusals(session) == refusals + 1
    elif action == CHECK_IN:
        answer = await activities.check_in(session, actor, number, now=now)
        if answer is Answer.DONE:
            assert activity is not None and before is SignupStatus.SIGNED_UP
            opened = activity.checkin_opened_at
            # Only inside the check-in window: from its opening until the end.
            assert opened is not None and opened <= now <= activity.ends_at
    elif action in ("x", "xy"):
        await activities.cancel(session, actor, number, now=now)
    elif action in ("ok", "no"):
        await activities.answer_offer(session, actor, number, action == "ok", now=now)
    elif action == "ics":
        answer, _, data = await activities.calendar(session, actor, number, "en")
        if answer is Answer.DONE:
            assert activity is not None and b"BEGIN:VEVENT" in data
    # Rating and summarising are conversations: their start checks are tested below.


async def _refusals(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "activity.refused")
    )
    return count or 0


async def _holds(session: AsyncSession, activity_id: int) -> None:
    """What must hold after every press: never more places than the capacity, one sign-up a
    person, a check-in only where the person had a place."""
    activity = await session.get(Activity, activity_id)
    assert activity is not None
    held = await session.scalar(
        select(func.count())
        .select_from(ActivitySignup)
        .where(ActivitySignup.activity_id == activity_id, ActivitySignup.status.in_(HOLDING_PLACE))
    )
    assert (held or 0) <= activity.capacity
    people = (
        await session.scalars(
            select(ActivitySignup.person_id).where(ActivitySignup.activity_id == activity_id)
        )
    ).all()
    assert len(people) == len(set(people))


# Rating and the organiser's summary ----------------------------------------------------------


async def _ended(url: str) -> int:
    """An activity that is over: one resident came, one did not."""
    activity_id = await _activity(url)
    async with campus.committed(url) as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        activity.status = ActivityStatus.ENDED
        for position, (telegram_id, status) in enumerate(
            [(6101, SignupStatus.ATTENDED), (6102, SignupStatus.NO_SHOW)], start=1
        ):
            actor = await campus.actor(session, telegram_id)
            session.add(
                ActivitySignup(
                    activity_id=activity_id,
                    person_id=actor.person_id,
                    status=status,
                    position=position,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    return activity_id


def test_any_text_and_button_data_while_rating_or_summarising(empty_database_url: str) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine, _ = _files(empty_database_url)
    activity_id = asyncio.run(_ended(empty_database_url))

    @given(
        who=st.sampled_from([6101, 6102, COUNSELLOR, 6201]),
        conversation=st.sampled_from(["activity_feedback", "activity_summary"]),
        preset=st.one_of(st.just(str(activity_id)), st.text(max_size=8), st.integers()),
        steps=st.integers(0, 2),
        text=human_text,
        data=forged_data,
        submit=st.booleans(),
    )
    @settings(max_examples=80, deadline=None)
    def example(**kwargs: Any) -> None:
        asyncio.run(_feedback(engine, empty_database_url, activity_id, **kwargs))

    example()


async def _feedback(
    engine: Engine,
    url: str,
    activity_id: int,
    *,
    who: int,
    conversation: str,
    preset: object,
    steps: int,
    text: str,
    data: str,
    submit: bool,
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, who)
        outcome = await engine.start(
            session,
            actor,
            who,
            engine.conversations[conversation],
            now=NOW,
            language="zh-CN",
            preset={"activity": preset},
        )
        assert outcome.send and all(s.text.strip() for s in outcome.send)
        for _ in range(steps):
            buttons = [b for row in outcome.send[-1].buttons for b in row]
            choices = [b for b in buttons if b.data.split(":")[3] in ("o", "k")]
            if not choices:
                break
            outcome = await engine.press(
                session, actor, who, choices[0].data, now=NOW, language="zh-CN"
            )
        typed = await engine.text(session, actor, who, text, now=NOW, language="zh-CN")
        pressed = await engine.press(session, actor, who, data, now=NOW, language="zh-CN")
        assert pressed.send or pressed.toast is not None or pressed.edit is not None
        if submit and typed is not None and typed.send:
            screen = (pressed.send or typed.send)[-1]
            await campus.submit_all(engine, session, actor, who, screen, NOW, "zh-CN")
        signups = (await session.scalars(select(ActivitySignup))).all()
        for signup in signups:
            # Only one who came rates, once, from 1 to 5.
            if signup.rating is not None:
                assert signup.status is SignupStatus.ATTENDED and 1 <= signup.rating <= 5
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        if activity.summary is not None:
            assert who == COUNSELLOR
