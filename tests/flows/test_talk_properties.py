"""Whatever people type at any step of the talks' conversations (publishing slots, booking,
inviting, cancelling, the note), or send as a talk's button: a re-prompt or a clear refusal,
never a crash; a slot holds one talk at most, a note is only ever the teacher's, and someone who
is neither of a talk's two people changes nothing and sees nothing of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import number
from assistant.domain import Actor, TalkOrigin, TalkSlotStatus, TalkStatus
from assistant.flows.engine import Engine, Outcome
from assistant.services.approvals import Approvals
from assistant.services.talks import ABSENT, CANCEL, HELD, NOTE, OPS, TALK, Handling, Talks
from assistant.storage.models import (
    ConversationState,
    ConversationStatus,
    FunctionalRoom,
    Talk,
    TalkSlot,
)
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

# Monday 14 September 2026, 10:00 on campus.
NOW = datetime(2026, 9, 14, 2, 0, tzinfo=UTC)
# Telegram ids: a counsellor of C1 (the teacher), a student of C1, the floor leader of the
# student's floor, a teacher of another college.
TEACHER, STUDENT, LEADER, STRANGER = 5001, 5002, 5003, 5004
PEOPLE = {TEACHER: "T0005", STUDENT: "2023010001", LEADER: "2023010004", STRANGER: "T0002"}
# The talks set up: one that ended an hour ago (its note may be written), one tomorrow (it may
# be cancelled); and an open slot the day after.
PAST, TOMORROW = 1, 2
# Valid answers that take each conversation to its summary, one per step, and who answers.
WALKS: dict[str, tuple[int, tuple[str, ...]]] = {
    "offer_talk": (TEACHER, ("PSYCH", "2026-09-17", "30", "19:00", "2")),
    "offer_online": (TEACHER, ("online", "Meeting 123", "2026-09-17", "45", "08:30", "1")),
    "book_talk": (STUDENT, ("3", "I would like to talk about my studies")),
    "invite_talk": (
        TEACHER,
        ("2023010001", "online", "Meeting 9", "2026-09-18", "30", "14:00", "Your plans"),
    ),
    "talk_cancel": (STUDENT, ("I have a class then",)),
    "talk_note": (TEACHER, ("We spoke about the exams",)),
}


async def _setup(url: str) -> None:
    async with campus.committed(url) as session:
        ids = await campus.link(session, PEOPLE, NOW)
        room = await session.scalar(select(FunctionalRoom).where(FunctionalRoom.code == "PSYCH"))
        assert room is not None
        for starts_at in (
            NOW - timedelta(hours=2),
            NOW + timedelta(days=1),
            NOW + timedelta(days=2),
        ):
            session.add(
                TalkSlot(
                    teacher_person_id=ids[TEACHER],
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=1),
                    room_id=room.id,
                    status=TalkSlotStatus.OPEN,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        await session.flush()
        for slot in (PAST, TOMORROW):
            session.add(
                Talk(
                    slot_id=slot,
                    teacher_person_id=ids[TEACHER],
                    student_person_id=ids[STUDENT],
                    community_id=1,
                    college_id=1,
                    origin=TalkOrigin.BOOKED,
                    status=TalkStatus.BOOKED,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def _files(url: str) -> tuple[Engine, Talks]:
    loaded = campus.load(url)
    approvals = Approvals(loaded.files.rules, loaded.texts, loaded.settings.language, {})
    return loaded.engine, Talks(loaded.kit(approvals))


async def _walk_to(
    engine: Engine, talks: Talks, session: AsyncSession, walk: str, steps: int
) -> tuple[Outcome, Actor, int]:
    """Open the conversation of ``walk`` and give ``steps`` of its valid answers."""
    chat, answers = WALKS[walk]
    actor = await campus.actor(session, chat)
    preset = None
    name = "offer_talk" if walk == "offer_online" else walk
    if walk == "talk_cancel":
        handling, preset = await talks.cancel_preset(session, actor, TOMORROW, NOW)
        assert handling is Handling.DONE
    elif walk == "talk_note":
        handling, preset = await talks.note_preset(session, actor, PAST, NOW)
        assert handling is Handling.DONE
    conversation = engine.conversations[name]
    outcome = await engine.start(
        session, actor, chat, conversation, now=NOW, language="en", preset=preset
    )
    for answer in answers[:steps]:
        typed = await engine.text(session, actor, chat, answer, now=NOW, language="en")
        assert typed is not None
        outcome = typed
    return outcome, actor, chat


def test_any_text_and_any_button_data_at_any_step_of_the_talks_conversations(
    empty_database_url: str,
) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, talks = _files(empty_database_url)

    def exercise(walk: str, steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_exercise(engine, talks, empty_database_url, walk, steps, text, data, submit))

    run = settings(max_examples=120, deadline=None)(
        given(
            walk=st.sampled_from(sorted(WALKS)),
            steps=st.integers(0, 7),
            text=human_text,
            data=forged_data,
            submit=st.booleans(),
        )(exercise)
    )
    # Every step of every conversation (and its summary) is typed at, whatever is drawn.
    for walk, (_, answers) in WALKS.items():
        for steps in range(len(answers) + 1):
            for text in ("\x00", "\ud800 x" * 40, "2026-02-30"):
                nasty = example(walk=walk, steps=steps, text=text, data="cv:1:1:o:0", submit=True)
                run = nasty(run)
    run()


async def _exercise(
    engine: Engine,
    talks: Talks,
    url: str,
    walk: str,
    steps: int,
    text: str,
    data: str,
    submit: bool,
) -> None:
    async with campus.discarded(url) as session:
        _, actor, chat = await _walk_to(engine, talks, session, walk, steps)
        screen = await campus.type_and_press(engine, session, actor, chat, text, data, NOW)
        if submit:
            buttons = [b for row in screen.buttons for b in row if b.data.endswith(":s:")]
            for _ in range(2 if buttons else 0):
                await engine.press(session, actor, chat, buttons[0].data, now=NOW, language="en")
        holding = await session.execute(
            select(Talk.slot_id, func.count())
            .where(Talk.status.in_([TalkStatus.BOOKED, TalkStatus.HELD, TalkStatus.NO_SHOW]))
            .group_by(Talk.slot_id)
        )
        assert all(count == 1 for _, count in holding), "a slot holds one talk at most"
        teacher = (await campus.actor(session, TEACHER)).person_id
        noted = await session.scalars(select(Talk.teacher_person_id).where(Talk.note.is_not(None)))
        assert set(noted) <= {teacher}
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1


def talk_data() -> st.SearchStrategy[str]:
    """What a talk's button may come back with: real ones, forged ones, anything."""
    return st.one_of(
        st.builds(
            lambda talk, op: f"tk:{talk}:{op}",
            st.sampled_from(["1", "2", "3", "0", "²", "٣", "-1", "99999999999", ""]),
            st.sampled_from([*sorted(OPS), "", "xx", "V"]),
        ),
        st.text(max_size=64).map(lambda text: f"tk:{text}"),
        st.text(max_size=64),
    )


def test_any_talk_button_from_anyone(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    _, talks = _files(empty_database_url)

    @given(
        presses=st.lists(
            st.tuples(st.sampled_from(sorted(PEOPLE)), talk_data()), min_size=1, max_size=4
        )
    )
    @settings(max_examples=80, deadline=None)
    def pressing(presses: list[tuple[int, str]]) -> None:
        asyncio.run(_press(talks, empty_database_url, presses))

    pressing()


async def _press(talks: Talks, url: str, presses: list[tuple[int, str]]) -> None:
    async with campus.discarded(url) as session:
        for telegram_id, data in presses:
            actor = await campus.actor(session, telegram_id)
            fields = TALK.unpack(data)
            if fields is None or fields["op"] not in OPS:
                continue
            talk_id = number(fields["talk"])
            op = fields["op"]
            outsider = telegram_id in (LEADER, STRANGER)
            if op in (HELD, ABSENT):
                handling = await talks.record(session, actor, talk_id, op == HELD, NOW)
            elif op == CANCEL:
                handling, _ = await talks.cancel_preset(session, actor, talk_id, NOW)
            elif op == NOTE:
                handling, _ = await talks.note_preset(session, actor, talk_id, NOW)
            else:
                handling, view, _ = await talks.card(session, actor, talk_id, NOW)
                assert (view is None) == (handling is not Handling.DONE)
            assert handling in Handling
            if outsider:
                assert handling is Handling.NOT_ALLOWED, "nothing of a talk for outsiders"
        past, tomorrow = (await session.scalars(select(Talk).order_by(Talk.id))).all()
        # Only the teacher records the talk that has begun; nobody records one to come.
        assert past.status in (TalkStatus.BOOKED, TalkStatus.HELD, TalkStatus.NO_SHOW)
        assert tomorrow.status is TalkStatus.BOOKED


SUBMITTED = {
    "offer_talk": "2 talk slots published",
    "offer_online": "Talk slot published",
    "book_talk": "✅ Talk booked",
    "invite_talk": "✅ 郑博嘉 is invited to a talk",
    "talk_cancel": "The talk of Tue 15 Sep",
    "talk_note": "Note saved. Only you and the student's counsellors can read it.",
}


def test_the_walks_reach_each_summary_and_submit(empty_database_url: str) -> None:
    """The answers the examples start from are valid: each walk ends at its summary, and
    submitting it succeeds."""
    asyncio.run(_setup(empty_database_url))
    engine, talks = _files(empty_database_url)

    async def run(walk: str) -> str:
        async with campus.committed(empty_database_url) as session:
            outcome, actor, chat = await _walk_to(engine, talks, session, walk, len(WALKS[walk][1]))
            [submit] = [
                b for row in outcome.send[-1].buttons for b in row if b.data.endswith(":s:")
            ]
            done = await engine.press(session, actor, chat, submit.data, now=NOW, language="en")
            await session.rollback()
            return done.send[-1].text

    for walk, expected in SUBMITTED.items():
        assert asyncio.run(run(walk)).startswith(expected), walk
