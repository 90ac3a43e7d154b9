"""The short path from an update to its answer: hand-overs instead of reading the store back.

The intake hands stored updates to the dispatcher, and an update's transaction claims the
messages it queued for the sender, so the inbox and the outbox are read only for what the
hand-overs miss. The guarantees stay: a rolled-back update sends nothing, and a message whose
sender died before sending it is sent, once, when its lease ends.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from assistant import app as app_module
from assistant.app import Edge, running
from assistant.bot.intake import Dispatcher
from assistant.bot.sender import Handover, OutboxSender
from assistant.sandbox import FakeTelegram
from assistant.storage import inbox, outbox
from assistant.storage.db import Database
from assistant.storage.models import InboxUpdate, OutboxMessage, OutboxStatus, Priority
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
# Longer than any test: the store is read back only at start and when told to.
NEVER = 3600.0


@dataclass
class Reads:
    """How often the dispatcher read the inbox, and the chats of the rows the sender claimed."""

    pending: int = 0
    claimed: list[int] = field(default_factory=list)


@pytest.fixture
async def quiet_edge(
    campus: Database, tg: FakeTelegram, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Edge, Reads]]:
    """The bot without idle polls, counting its reads of the inbox and claims of the outbox."""
    reads = Reads()
    pending, claim_due = inbox.pending, outbox.claim_due

    async def counted_pending(*args: Any, **kwargs: Any) -> Sequence[inbox.Stored]:
        reads.pending += 1
        return await pending(*args, **kwargs)

    async def counted_claim(*args: Any, **kwargs: Any) -> Sequence[OutboxMessage]:
        rows = await claim_due(*args, **kwargs)
        reads.claimed.extend(row.chat_id for row in rows)
        return rows

    monkeypatch.setattr(inbox, "pending", counted_pending)
    monkeypatch.setattr(outbox, "claim_due", counted_claim)
    monkeypatch.setattr(app_module, "Dispatcher", functools.partial(Dispatcher, idle_poll=NEVER))
    monkeypatch.setattr(
        app_module, "OutboxSender", functools.partial(OutboxSender, idle_poll=NEVER)
    )
    async with running(make_application(campus, tg, clock)) as edge:
        yield edge, reads


async def replies_to(db: Database, chat_id: int) -> list[OutboxMessage]:
    """The messages queued to ``chat_id`` (not its menu)."""
    async with db.unit_of_work() as session:
        result = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.method == "sendMessage")
            .order_by(OutboxMessage.id)
        )
        return list(result.all())


async def test_answers_are_handed_over_not_read_back(
    quiet_edge: tuple[Edge, Reads], person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    _, reads = quiet_edge
    student = await linked(person, invite, STUDENT, language="en")
    assert STUDENT in await student.say("/me")
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    await press(tg, student, categories, "Fraud risk")
    # Read once at start; every update came from the intake, every message from its update.
    assert reads.pending == 1
    assert student.user.id not in reads.claimed


async def test_the_next_question_leaves_before_the_old_buttons_go(
    quiet_edge: tuple[Edge, Reads], person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    question = await press(tg, student, categories, "Fraud risk")
    await tg.wait_for_bot_message(student.user.id, predicate=lambda m: m.edit_date is not None)
    methods = [
        c.method
        for c in tg.calls
        if c.params.get("chat_id") == str(student.user.id) and c.status == 200
    ]
    assert methods[-2:] == ["sendMessage", "editMessageText"]
    assert question.message_id > categories.message_id


async def test_a_commit_that_fails_after_the_claim_sends_the_answer_once(
    quiet_edge: tuple[Edge, Reads],
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    campus: Database,
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    failures: list[int] = []
    failed = asyncio.Event()

    def fail_once(session: Session) -> None:
        claimed = [
            o
            for o in [*session.new, *session.identity_map.values()]
            if isinstance(o, OutboxMessage) and o.status is OutboxStatus.SENDING
        ]
        if claimed and not failures:
            failures.append(len(claimed))
            failed.set()
            raise RuntimeError("the database went away during the commit")

    event.listen(Session, "before_commit", fail_once)
    try:
        await tg.user_send(student.user, "/me")
        await asyncio.wait_for(failed.wait(), 5)
        # Tried again a second later on the bot's clock.
        clock.advance(timedelta(seconds=1))
        quiet_edge[0].dispatcher.kick()
        reply = (await tg.wait_for_bot_message(student.user.id)).text or ""
    finally:
        event.remove(Session, "before_commit", fail_once)
    assert failures == [1] and STUDENT in reply
    # Handled again, and still handed over.
    assert student.user.id not in quiet_edge[1].claimed
    await quiet_edge[0].sender.stop()  # records the send
    rows = await replies_to(campus, student.user.id)
    assert [r.status for r in rows] == [OutboxStatus.SENT] * 2  # linked, /me
    answers = [m for m in tg.messages(student.user.id) if m.sender.is_bot]
    assert len(answers) == 2
    async with campus.unit_of_work() as session:
        me = await session.scalar(select(InboxUpdate).order_by(InboxUpdate.update_id.desc()))
    assert me is not None and me.attempts == 1


async def test_an_answer_whose_sender_died_is_sent_when_its_lease_ends(
    quiet_edge: tuple[Edge, Reads],
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    campus: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edge, reads = quiet_edge
    student = await linked(person, invite, STUDENT, language="en")
    lost, hand_over = asyncio.Event(), edge.sender.hand_over

    def crash(handover: Handover) -> None:
        # The process died between the commit and the first send: nothing holds the rows.
        edge.sender.withdraw(handover)
        lost.set()

    monkeypatch.setattr(edge.sender, "hand_over", crash)
    await tg.user_send(student.user, "/me")
    await asyncio.wait_for(lost.wait(), 5)
    monkeypatch.setattr(edge.sender, "hand_over", hand_over)
    [_, held] = await replies_to(campus, student.user.id)
    assert held.status is OutboxStatus.SENDING and held.claimed_until is not None
    assert held.claimed_until > clock()

    clock.advance(held.claimed_until - clock() + timedelta(seconds=1))
    edge.sender.kick()
    reply = await tg.wait_for_bot_message(student.user.id)
    assert reply.text is not None and STUDENT in reply.text
    assert reads.claimed.count(student.user.id) == 1
    await edge.sender.stop()
    [_, sent] = await replies_to(campus, student.user.id)
    assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 0)
    assert len([m for m in tg.messages(student.user.id) if m.sender.is_bot]) == 2


async def test_a_message_taken_back_in_its_transaction_is_not_claimed(
    db: Database, clock: Clock
) -> None:
    now = clock()
    async with db.unit_of_work() as session:
        kept, dropped, later = (
            outbox.enqueue(session, 1, "sendMessage", {"text": t}, priority=Priority.BULK, now=now)
            for t in ("kept", "dropped", "later")
        )
        later.next_attempt_at = now + timedelta(hours=1)
        await session.flush()
        await session.delete(dropped)
        assert outbox.queued(session, now=now) == [kept]
