"""A pressed choice means exactly what its button showed, whatever the list holds and however it
changed between showing and pressing: the item itself, or "no longer available" with the list
as it is now; never whatever stands in its place. Typed answers likewise name only what is
offered now. A list redrawn for the same question keeps every item where it stood: one no longer
offered stays there struck through, and no other item ever takes its place."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import fits
from assistant.config import load_settings
from assistant.domain import Actor
from assistant.flows.engine import (
    PAGE_SIZE,
    Engine,
    FlowContext,
    Outcome,
    Registry,
    Screen,
    Submitted,
)
from assistant.flows.spec import Option, read_conversation
from assistant.services import identity
from assistant.services.booking import Bookings
from assistant.storage.models import ConversationState, ConversationStatus, Person
from assistant.texts import Texts
from tests.flows import campus
from tests.flows.test_engine_properties import NOW, PEOPLE, TELEGRAM_ID, human_text

GONE = "That choice is no longer available"
PICK_ONE = """\
id: pick_one
command: pick
title: book_room/title
steps:
  - id: pick
    label: {zh: 选项, en: Item}
    kind: choice
    ask: nominate_star/ask_nominee
    options_from: test.items
  - id: purpose
    label: {zh: 用途, en: Purpose}
    kind: text
    ask: book_room/ask_purpose
summary: nominate_star/summary
submit: test.submit
"""

# Values of every shape a provider may give: the separator, non-ASCII text that overflows 64
# bytes, control characters, half a surrogate pair, nothing at all.
item_values = st.lists(
    st.one_of(
        st.text(max_size=90),
        st.sampled_from(["08:00", "a:b:c", "x" * 70, "成长服务中心" * 5, "\x00", "\ud800", ""]),
    ),
    min_size=1,
    max_size=30,
    unique=True,
)


def items(screen: Screen) -> list[tuple[str, str]]:
    """(label, callback data) of the item buttons of a screen."""
    return [
        (b.label, b.data) for row in screen.buttons for b in row if b.data.split(":")[3] in "oh"
    ]


def places(screen: Screen) -> list[tuple[str, str]]:
    """(label, op) of every place of the list on a screen, struck-through ones (g) included."""
    return [
        (b.label, b.data.split(":")[3])
        for row in screen.buttons
        for b in row
        if b.data.split(":")[3] in "ohg"
    ]


def struck(label: str) -> str:
    """``label`` as a place whose item is no longer offered shows it."""
    return "".join(char + "\u0336" for char in label)


def paging(screen: Screen, label: str) -> str:
    """The data of the paging button ``label`` (‹ or ›)."""
    [data] = [b.data for row in screen.buttons for b in row if b.label == label]
    return data


async def answers(session: AsyncSession) -> tuple[str, dict[str, object]]:
    """The running conversation's step and answers."""
    state = await session.scalar(
        select(ConversationState).where(ConversationState.status == ConversationStatus.ACTIVE)
    )
    assert state is not None
    return state.step, dict(state.answers)


def test_a_press_means_its_item_whatever_the_list_became(
    empty_database_url: str, tmp_path: Path
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    offered: list[str] = []

    async def provide(context: FlowContext) -> list[Option]:
        del context
        return [Option(v, {"zh-CN": f"第 {v!r} 项", "en": f"item {v!r}"}) for v in offered]

    async def submit(context: FlowContext) -> Submitted:
        raise AssertionError("never submitted here")

    registry = Registry({"test.items": provide}, {}, {"test.submit": submit})
    path = tmp_path / "pick_one.yaml"
    path.write_text(textwrap.dedent(PICK_ONE), encoding="utf-8")
    conversation, problems = read_conversation(path, registry.catalogue())
    assert conversation is not None, problems
    base = load_settings(database_url=empty_database_url)
    engine = Engine({"pick_one": conversation}, registry, Texts(base.conversations_dir), base.tz)

    @given(values=item_values, data=st.data())
    @settings(max_examples=120, deadline=None)
    def example(values: list[str], data: st.DataObject) -> None:
        chosen = data.draw(st.integers(0, len(values) - 1), "chosen")
        gone = data.draw(st.booleans(), "gone")
        newcomers = data.draw(st.lists(st.text(max_size=20), max_size=5, unique=True), "new")
        kept = [v for v in values if not (gone and v == values[chosen])]
        kept += [v for v in newcomers if v not in values]
        after = data.draw(st.permutations(kept), "after")
        offered[:] = values
        asyncio.run(_press(engine, empty_database_url, offered, values, chosen, after, gone))

    example()


async def _press(
    engine: Engine,
    url: str,
    offered: list[str],
    values: Sequence[str],
    chosen: int,
    after: Sequence[str],
    gone: bool,
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, TELEGRAM_ID)
        conversation = engine.conversations["pick_one"]
        outcome = await engine.start(
            session, actor, TELEGRAM_ID, conversation, now=NOW, language="en"
        )
        screen = outcome.send[-1]
        shown = items(screen)
        # Every page shows its items in order, each button within Telegram's limit.
        for _ in range(chosen // PAGE_SIZE):
            paged = await _go(engine, session, actor, paging(screen, "›"))
            assert paged.edit is not None
            screen = paged.edit
            shown = items(screen)
        start = chosen // PAGE_SIZE * PAGE_SIZE
        expected = [f"item {v!r}" for v in values[start : start + PAGE_SIZE]]
        assert [label for label, _ in shown] == expected
        assert all(fits(data) for _, data in shown)
        label, data = shown[chosen - start]
        # Between showing and pressing, the list changes under the person's finger.
        offered[:] = after
        pressed = await _go(engine, session, actor, data)
        step, given_answers = await answers(session)
        if gone:
            assert (step, given_answers) == ("pick", {})
            # Said in place, on the same message, the list as it is now.
            assert pressed.edit is not None and not pressed.send
            assert pressed.edit.text.startswith(GONE)
            now_shown = [label for label, _ in items(pressed.edit)]
            assert label not in now_shown
            assert set(now_shown) <= {f"item {v!r}" for v in after}
            # Every place keeps its item, or shows it struck through once it is gone; a
            # newcomer only ever takes a place nobody had.
            redrawn = places(pressed.edit)
            for (before, _), (now, op) in zip(shown, redrawn, strict=False):
                assert (now, op) in ((before, "o"), (before, "h"), (struck(before), "g"))
            still = {f"item {v!r}" for v in after if v in values}
            for before, _ in shown:
                assert (before in still) == (before in now_shown)
            newcomers = {f"item {v!r}" for v in after if v not in values}
            assert {now for now, _ in redrawn[len(shown) :]} <= newcomers
        else:
            assert (step, given_answers) == ("purpose", {"pick": values[chosen]})


async def _go(engine: Engine, session: AsyncSession, actor: Actor, data: str) -> Outcome:
    return await engine.press(session, actor, TELEGRAM_ID, data, now=NOW, language="en")


# The slots of the Growth Service Centre on Wednesday 2 September, in campus time.
SLOTS = [f"{h:02}:00" for h in range(8, 22, 2)]
LABELS = [f"{h:02}:00–{h + 2:02}:00" for h in range(8, 22, 2)]


def test_a_slot_taken_between_showing_and_answering_is_never_swapped(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    loaded = campus.load(empty_database_url)
    engine, bookings = loaded.engine, Bookings(loaded.kit())

    @given(
        taken=st.sets(st.sampled_from(SLOTS)),
        chosen=st.integers(0, len(SLOTS) - 1),
        typed=st.one_of(st.none(), st.sampled_from([*SLOTS, *LABELS]), human_text),
    )
    @settings(max_examples=60, deadline=None)
    def example(taken: set[str], chosen: int, typed: str | None) -> None:
        asyncio.run(_book(engine, bookings, empty_database_url, sorted(taken), chosen, typed))

    example()


async def _book(
    engine: Engine,
    bookings: Bookings,
    url: str,
    taken: list[str],
    chosen: int,
    typed: str | None,
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, TELEGRAM_ID)
        conversation = engine.for_command("book")
        assert conversation is not None
        outcome = await engine.start(
            session, actor, TELEGRAM_ID, conversation, now=NOW, language="en"
        )
        for label in ("Growth service centre", "Growth Service Centre"):
            [data] = [d for shown, d in items(outcome.send[-1]) if shown == label]
            outcome = await _go(engine, session, actor, data)
        day = (NOW + timedelta(days=1)).date().isoformat()
        said = await engine.text(session, actor, TELEGRAM_ID, day, now=NOW, language="en")
        assert said is not None
        shown = items(said.send[-1])
        assert [label for label, _ in shown] == LABELS
        # Others book some slots, each a person of their own, while the list is shown.
        others = (await session.scalars(select(Person).where(Person.id != actor.person_id))).all()
        for slot, other in zip(taken, others, strict=False):
            await bookings.create(
                session,
                await identity.person_actor(session, other),
                room_code="GROWTH",
                day=date(2026, 9, 2),
                slot=slot,
                purpose="Study",
                attendees=1,
                now=NOW,
            )
        if typed is None:
            answered = await _go(engine, session, actor, shown[chosen][1])
            wanted: str | None = SLOTS[chosen]
        else:
            reply = await engine.text(session, actor, TELEGRAM_ID, typed, now=NOW, language="en")
            assert reply is not None
            answered = reply
            said_now = typed.strip().casefold()
            named = [s for s, label in zip(SLOTS, LABELS, strict=True) if said_now in (s, label)]
            wanted = named[0] if named else None
        step, given_answers = await answers(session)
        if wanted is not None and wanted not in taken:
            assert (step, given_answers.get("slot")) == ("purpose", wanted)
        else:
            assert step == "slot" and "slot" not in given_answers
            # Pressed: the same message, redrawn; typed: a new one. Either way every slot
            # keeps its place, a taken one struck through.
            again = answered.edit if typed is None else answered.send[-1]
            assert again is not None
            fresh = [label for label, _ in items(again)]
            free = [label for s, label in zip(SLOTS, LABELS, strict=True) if s not in taken]
            assert fresh == free
            assert places(again) == [
                (struck(label), "g") if s in taken else (label, "o")
                for s, label in zip(SLOTS, LABELS, strict=True)
            ]
            if typed is None:
                assert again.text.startswith(GONE)
