"""500 people press Sign up for 50 places at the same moment, through the running bot: exactly
50 places, a waiting list of 450 in press order, every popup telling the truth, nobody twice.
Runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import CallbackQueryHandler

from assistant.app import Edge, build_application, running
from assistant.bot.context import BotContext, Deps
from assistant.bot.ratelimit import FloodPolicy
from assistant.config import load_settings
from assistant.domain import (
    PersonStatus,
    SignupStatus,
)
from assistant.sandbox import FakeRequest, FakeTelegram
from assistant.sandbox.state import FakeCallbackQuery, FakeMessage, FakeUser
from assistant.services.activities import ACTIVITY, SIGN_UP
from assistant.storage import inbox, repo
from assistant.storage.db import Database
from assistant.storage.models import ActivitySignup, DormRoom, Person, TelegramAccount
from assistant.texts import Texts
from tests.bot.conftest import START, Chat, Clock
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]

PEOPLE = 500
PLACES = 50


async def residents(campus: Database, tg: FakeTelegram, count: int) -> list[FakeUser]:
    """``count`` students living on floor B1-3, each linked to a Telegram user who has started
    the bot (written straight to the store: linking 500 through invites proves nothing here)."""
    users = []
    async with campus.unit_of_work() as session:
        building = await repo.building_by_code(session, "B1")
        assert building is not None
        floor = await repo.floor_by_number(session, building.id, 3)
        assert floor is not None
        dorm = (
            await session.scalars(select(DormRoom.id).where(DormRoom.floor_id == floor.id))
        ).first()
        college = (await session.scalars(select(Person.college_id).limit(1))).one()
        for n in range(count):
            person = Person(
                number=f"R{n:05d}",
                name=f"住户{n}",
                status=PersonStatus.STUDENT,
                college_id=college,
                dorm_room_id=dorm,
                active=True,
            )
            session.add(person)
            await session.flush()
            user = tg.add_user(f"R{n:05d}", language_code="en")
            user.started_bot = True
            users.append(user)
            session.add(
                TelegramAccount(
                    person_id=person.id, telegram_user_id=user.id, language="en", linked_at=START
                )
            )
    return users


@pytest.fixture
def tg() -> FakeTelegram:
    """A fake Telegram that waits as long as the slowest shared test machine needs for the
    answers: Telegram drops a press's answer after about 15 s, and 500 presses of one
    activity are taken one after another (bench/signup.py times them)."""
    return FakeTelegram(callback_query_ttl=300)


@pytest.fixture
async def fast_edge(campus: Database, tg: FakeTelegram, clock: Clock) -> AsyncIterator[Edge]:
    """The bot with Telegram's flood limits raised: the race is about the store, not the
    pace of the written confirmations (bench/signup.py measures those under the real limits)."""
    settings = load_settings(database_url=campus.url)
    deps = Deps(
        settings=settings,
        db=campus,
        texts=Texts(settings.conversations_dir, campus=settings.tz, clock=clock),
        clock=clock,
    )
    application = build_application(
        deps,
        token=tg.token,
        request=FakeRequest(tg),
        updates_request=FakeRequest(tg),
        flood_policy=FloodPolicy(per_second=100_000, private_burst=10_000),
    )
    async with running(application) as edge:
        yield edge


async def announced(tg: FakeTelegram, campus: Database, invite: Invite) -> int:
    """The C1 counsellor organises a 3-on-3 on the basketball court for floor B1-3 with 50
    places, through /activity; the activity's id once everyone has the announcement."""
    organiser = tg.add_user("T0005", language_code="en")
    chat = Chat(tg, organiser)
    await chat.say(f"/start {await invite('T0005')}")
    await tg.user_send(organiser, "/activity")
    step = await prompt(tg, chat)
    for label in ("3-on-3 basketball", "✔ 3-on-3 basketball", "Somewhere else (type it)"):
        step = await press(tg, chat, step, label)
    for typed in ("Basketball court 2", "2026-09-03"):
        await tg.user_send(organiser, typed)
        step = await prompt(tg, chat)
    step = await press(tg, chat, step, "10:00–12:00")
    await tg.user_send(organiser, str(PLACES))
    step = await prompt(tg, chat)
    for label in ("A floor", "Building 1, floor 3", "Everyone living there", "To each person"):
        step = await press(tg, chat, step, label)
    for label in ("1 day before", "A check-in button", "✔ Submit"):
        step = await press(tg, chat, step, label)
    assert (step.text or "").startswith("Announced activity E-1")
    return 1


def sign_up_button(tg: FakeTelegram, user: FakeUser) -> FakeMessage | None:
    return next(
        (m for m in tg.messages(user.id) if any("Sign up" in label for label in labels(m))),
        None,
    )


def labels(message: FakeMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def test_five_hundred_press_sign_up_for_fifty_places_at_once(
    fast_edge: Edge, campus: Database, tg: FakeTelegram, invite: Invite
) -> None:
    users = await residents(campus, tg, PEOPLE)
    activity_id = await announced(tg, campus, invite)
    data = ACTIVITY.pack(activity=activity_id, action=SIGN_UP)
    await tg.wait_until(lambda: all(sign_up_button(tg, user) for user in users), timeout=60)
    messages = [sign_up_button(tg, user) for user in users]
    # Everyone presses before the bot has handled any press: press order is list order.
    queries = await asyncio.gather(
        *(
            tg.user_press(user, message, data)
            for user, message in zip(users, messages, strict=True)
            if message is not None
        )
    )
    answers = await asyncio.gather(
        *(tg.wait_for_callback_answer(query, timeout=120) for query in queries)
    )
    said = [answer.text or "" for answer in answers]

    places = [int(m[1]) for t in said if (m := re.fullmatch(r"Signed up \(place (\d+)\)", t))]
    ranks = [
        int(m[1])
        for t in said
        if (m := re.fullmatch(r"Full: you are number (\d+) on the waiting list", t))
    ]
    assert sorted(places) == list(range(1, PLACES + 1))
    assert sorted(ranks) == list(range(1, PEOPLE - PLACES + 1))

    async with campus.unit_of_work() as session:
        rows = (
            await session.execute(
                select(TelegramAccount.telegram_user_id, ActivitySignup.status)
                .join(TelegramAccount, TelegramAccount.person_id == ActivitySignup.person_id)
                .where(ActivitySignup.activity_id == activity_id)
                .order_by(ActivitySignup.position)
            )
        ).all()
    # Exactly the capacity hold places; the rest wait; one sign-up each.
    assert len(rows) == PEOPLE and len({user for user, _ in rows}) == PEOPLE
    assert [status for _, status in rows] == [SignupStatus.SIGNED_UP] * PLACES + [
        SignupStatus.WAITING
    ] * (PEOPLE - PLACES)
    # Taken in press order: the first 50 pressers have the places, the list follows them.
    assert [user for user, _ in rows] == [user.id for user in users]
    # Each popup says what the store holds.
    order = {user.id: index for index, user in enumerate(users)}
    for user, text in zip(users, said, strict=True):
        index = order[user.id]
        expected = (
            f"Signed up (place {index + 1})"
            if index < PLACES
            else f"Full: you are number {index + 1 - PLACES} on the waiting list"
        )
        assert text == expected


class Fails:
    """Before the access gate: the first two presses of one user raise, as a lock not freed in
    time would (once in its lane's batch, once on its own); every other update goes on."""

    def __init__(self, edge: Edge, user: FakeUser) -> None:
        self.user = user
        self.raised = 0
        self.twice = asyncio.Event()
        edge.application.add_handler(CallbackQueryHandler(self.handle), group=-2)

    async def handle(self, update: Update, context: BotContext) -> None:
        query = update.callback_query
        if query is not None and query.from_user.id == self.user.id and self.raised < 2:
            self.raised += 1
            if self.raised == 2:
                self.twice.set()
            raise RuntimeError("lock wait timeout exceeded")


async def test_a_press_that_fails_in_a_lanes_batch_loses_nothing_and_keeps_the_order(
    fast_edge: Edge, campus: Database, tg: FakeTelegram, invite: Invite, clock: Clock
) -> None:
    users = await residents(campus, tg, 5)
    activity_id = await announced(tg, campus, invite)
    data = ACTIVITY.pack(activity=activity_id, action=SIGN_UP)
    await tg.wait_until(lambda: all(sign_up_button(tg, user) for user in users), timeout=30)
    failing = Fails(fast_edge, users[2])
    messages = [sign_up_button(tg, user) for user in users]
    queries = await asyncio.gather(
        *(
            tg.user_press(user, message, data)
            for user, message in zip(users, messages, strict=True)
            if message is not None
        )
    )
    # The batch was rolled back and handled again one press at a time: those before the
    # failing press are in; it waits for its next try, and the lane's later presses behind it.
    firsts = [await tg.wait_for_callback_answer(q) for q in queries[:2]]
    assert [a.text for a in firsts] == ["Signed up (place 1)", "Signed up (place 2)"]
    await asyncio.wait_for(failing.twice.wait(), 10)
    assert all(tg.state.callback_queries[q].answer is None for q in queries[2:])
    clock.advance(timedelta(seconds=2))
    fast_edge.dispatcher.kick()
    rest = [await tg.wait_for_callback_answer(q) for q in queries[2:]]
    assert [a.text for a in rest] == [f"Signed up (place {n})" for n in (3, 4, 5)]
    async with campus.unit_of_work() as session:
        rows = (
            await session.execute(
                select(TelegramAccount.telegram_user_id)
                .join(ActivitySignup, ActivitySignup.person_id == TelegramAccount.person_id)
                .order_by(ActivitySignup.position)
            )
        ).all()
    assert [user for (user,) in rows] == [u.id for u in users]


async def test_presses_handled_together_take_one_place_each_person(
    fast_edge: Edge, campus: Database, tg: FakeTelegram, invite: Invite
) -> None:
    """Presses taken in one transaction share one turn on the activity's row: a person who
    presses twice before the bot has handled either still holds one place, and the second
    press says so."""
    users = await residents(campus, tg, 3)
    activity_id = await announced(tg, campus, invite)
    data = ACTIVITY.pack(activity=activity_id, action=SIGN_UP)
    await tg.wait_until(lambda: all(sign_up_button(tg, user) for user in users), timeout=30)
    first, second, third = users
    pressing = [first, first, second, third, second]
    messages = {user.id: sign_up_button(tg, user) for user in users}
    queries = await asyncio.gather(
        *(tg.user_press(user, messages[user.id], data) for user in pressing)
    )
    answers = [(await tg.wait_for_callback_answer(q)).text for q in queries]
    assert answers == [
        "Signed up (place 1)",
        "You have already signed up for this.",
        "Signed up (place 2)",
        "Signed up (place 3)",
        "You have already signed up for this.",
    ]
    async with campus.unit_of_work() as session:
        rows = (
            await session.execute(
                select(TelegramAccount.telegram_user_id, ActivitySignup.position)
                .join(ActivitySignup, ActivitySignup.person_id == TelegramAccount.person_id)
                .order_by(ActivitySignup.position)
            )
        ).all()
    assert [user for user, _ in rows] == [first.id, second.id, third.id]

    def confirmations() -> int:
        return sum(
            "You are signed up" in (m.text or "") for user in users for m in tg.messages(user.id)
        )

    # One written confirmation each, however many presses.
    await tg.wait_until(lambda: confirmations() >= 3, timeout=10)
    assert confirmations() == 3


def stored_press(
    tg: FakeTelegram, user: FakeUser, message: FakeMessage, data: str
) -> dict[str, object]:
    """A press of ``message``'s button as Telegram delivers it, known to the fake (so the bot
    can answer it) but not queued for getUpdates: the caller stores it in the inbox itself."""
    query = FakeCallbackQuery(
        id=f"stored-{user.id}",
        user=user,
        message=message.snapshot(),
        data=data,
        created_at=tg.state.clock(),
    )
    tg.state.callback_queries[query.id] = query
    return {
        "update_id": 10_000_000 + tg.state.unique_number(),
        "callback_query": {
            "id": query.id,
            "from": user.to_json(),
            "message": message.to_json(),
            "chat_instance": message.chat.instance,
            "data": data,
        },
    }


async def test_presses_read_back_from_the_inbox_keep_press_order(
    fast_edge: Edge, campus: Database, tg: FakeTelegram, invite: Invite, clock: Clock
) -> None:
    """Presses the dispatcher was not handed but finds in the inbox (stored before a restart,
    or by an intake that has not handed them over yet) keep to their activity's lane."""
    users = await residents(campus, tg, 40)
    activity_id = await announced(tg, campus, invite)
    data = ACTIVITY.pack(activity=activity_id, action=SIGN_UP)
    await tg.wait_until(lambda: all(sign_up_button(tg, user) for user in users), timeout=30)
    updates = []
    for user in users:
        message = sign_up_button(tg, user)
        assert message is not None
        updates.append(stored_press(tg, user, message, data))
    async with campus.unit_of_work() as session:
        await inbox.store(session, updates, clock())
    fast_edge.dispatcher.kick()
    for update in updates:
        await tg.wait_for_callback_answer(update["callback_query"]["id"], timeout=60)
    async with campus.unit_of_work() as session:
        rows = (
            await session.execute(
                select(TelegramAccount.telegram_user_id)
                .join(ActivitySignup, ActivitySignup.person_id == TelegramAccount.person_id)
                .where(ActivitySignup.activity_id == activity_id)
                .order_by(ActivitySignup.position)
            )
        ).all()
    assert [user for (user,) in rows] == [user.id for user in users]
