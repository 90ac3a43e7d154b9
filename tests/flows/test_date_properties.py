"""Dates as people type them: any text is a day or nothing, never an error; each way of writing
a day means that day; and at /book's date, whatever is typed is either a day the booking may
have or a re-prompt that says what is wrong, with the calendar again."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.flows.dates import parse_day
from assistant.flows.engine import Engine
from assistant.storage.models import ConversationState, ConversationStatus
from tests.flows import campus
from tests.flows.test_engine_properties import NOW, PEOPLE, TELEGRAM_ID, human_text

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WEEKDAYS_ZH = "一二三四五六日"
WEEKDAYS_EN = ["mon", "tuesday", "Wed", "thu", "FRIDAY", "sat", "Sun."]
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def written(day: date) -> list[str]:
    """``day`` written with its year, every way people do."""
    return [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02}.{day.day:02}",
        f"{day:%Y%m%d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{MONTHS[day.month - 1]} {day.day}, {day.year}",
        f"{day.day} {MONTHS[day.month - 1].upper()} {day.year}",
        # Full-width, as a Chinese keyboard may type it.
        f"{day.year}年{day.month}月{day.day}日".translate(
            {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}
        ),
    ]


def without_year(day: date) -> list[str]:
    """``day`` written without its year."""
    return [
        f"{day.month}月{day.day}日",
        f"{day.month}月{day.day}号",
        f"{day.month}-{day.day}",
        f"{day.month}/{day.day}",
        f"{MONTHS[day.month - 1]} {day.day}",
        f"{day.day}th {MONTHS[day.month - 1].lower()}",
        f"  {MONTHS[day.month - 1]}. {day.day} ",
    ]


@given(
    text=st.one_of(human_text, st.text(alphabet="0123456789-/.年月日号周下星期天 ", max_size=14))
)
@settings(max_examples=300, deadline=None)
@example(text="2026-02-30")
@example(text="2月29日")
@example(text="0000-01-01")
@example(text="99999999")
def test_any_text_is_a_day_or_nothing(text: str) -> None:
    found = parse_day(text, date(2026, 12, 5))
    assert found is None or isinstance(found, date)


@given(day=days, today=days, form=st.integers(0, 7))
@settings(max_examples=200, deadline=None)
def test_a_day_with_its_year_is_that_day(day: date, today: date, form: int) -> None:
    assert parse_day(written(day)[form], today) == day


@given(today=days, ahead=st.integers(0, 364), form=st.integers(0, 6))
@settings(max_examples=200, deadline=None)
def test_a_day_without_its_year_is_the_next_one_to_come(today: date, ahead: int, form: int) -> None:
    day = today + timedelta(days=ahead)
    if (day.month, day.day) == (2, 29):
        return
    assert parse_day(without_year(day)[form], today) == day


@given(today=days, weekday=st.integers(0, 6), next_week=st.booleans())
@settings(max_examples=200, deadline=None)
def test_a_weekday_is_the_next_one_from_today(today: date, weekday: int, next_week: bool) -> None:
    said = f"{'下' if next_week else ''}{['周', '星期', '礼拜'][weekday % 3]}{WEEKDAYS_ZH[weekday]}"
    found = parse_day(said, today)
    assert found is not None and found.weekday() == weekday
    monday = today - timedelta(days=today.weekday())
    if next_week:
        assert monday + timedelta(days=7) <= found < monday + timedelta(days=14)
    else:
        assert today <= found < today + timedelta(days=7)
        assert parse_day(WEEKDAYS_EN[weekday], today) == found


def test_today_tomorrow_and_the_day_after() -> None:
    today = date(2026, 12, 31)
    for said, ahead in (("今天", 0), ("明天", 1), ("后天", 2), ("Today", 0), ("tomorrow", 1)):
        assert parse_day(said, today) == today + timedelta(days=ahead)
    assert parse_day("the day after tomorrow", today) == date(2027, 1, 2)


# What /book's date question says when it does not take a day: each is where a re-prompt starts.
REPROMPTS = (
    "That is not a date I can read.",
    "That day has passed",
    "That day is beyond the booking window",
    "Rooms of this kind cannot be booked on that day",
    "You already hold",
    "This room has no free slot left that day",
)
typed_dates = st.one_of(
    human_text,
    st.builds(lambda d, f: (written(d) + without_year(d))[f], days, st.integers(0, 14)),
    st.builds(
        lambda ahead, f: (written(NOW.date() + timedelta(days=ahead)))[f],
        st.integers(-3, 20),
        st.integers(0, 7),
    ),
    st.sampled_from(["今天", "明天", "后天", "周五", "下周日", "today", "tomorrow", "fri", "Sun"]),
)


def test_whatever_is_typed_at_the_date_is_a_day_in_the_window_or_a_clear_reprompt(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine = campus.load(empty_database_url).engine

    @given(
        typed=typed_dates,
        room=st.sampled_from(
            [
                ("Growth service centre", "Growth Service Centre"),
                ("Reading room", "Building 1 Reading Room"),
            ]
        ),
    )
    @settings(max_examples=120, deadline=None)
    def example(typed: str, room: tuple[str, str]) -> None:
        asyncio.run(_type(engine, empty_database_url, typed, room))

    example()


async def _type(engine: Engine, url: str, typed: str, room: tuple[str, str]) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, TELEGRAM_ID)
        conversation = engine.for_command("book")
        assert conversation is not None
        outcome = await engine.start(
            session, actor, TELEGRAM_ID, conversation, now=NOW, language="en"
        )
        for label in room:
            buttons = [b for row in outcome.send[-1].buttons for b in row]
            [data] = [b.data for b in buttons if b.label == label]
            outcome = await engine.press(session, actor, TELEGRAM_ID, data, now=NOW, language="en")
        answered = await engine.text(session, actor, TELEGRAM_ID, typed, now=NOW, language="en")
        assert answered is not None and len(answered.send) == 1
        state = await _state(session)
        screen = answered.send[0]
        today = NOW.date()
        if state.step == "slot":
            day = date.fromisoformat(state.answers["date"])
            assert today <= day <= today + timedelta(days=14)
            assert parse_day(typed, today) == day
        else:
            assert state.step == "date" and "date" not in state.answers
            assert screen.text.startswith(REPROMPTS)
            assert "Which day?" in screen.text
            assert any(b.data.split(":")[3] == "d" for row in screen.buttons for b in row)


async def _state(session: AsyncSession) -> ConversationState:
    state = await session.scalar(
        select(ConversationState).where(ConversationState.status == ConversationStatus.ACTIVE)
    )
    assert state is not None
    return state
