"""The intake acknowledges an update only once it is committed, checked at that very point: the
update has reached the bot, and the commit that stores it fails, or the bot stops right there."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session

from assistant.app import Edge, Webhook, running
from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.storage.db import Database
from assistant.storage.models import InboxStatus, InboxUpdate, OutboxMessage
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import STUDENT, linked
from tests.process.conftest import free_port

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


@contextmanager
def at_storing_commit(action: Callable[[Session], None]) -> Iterator[None]:
    """Run ``action`` just before each commit that stores updates in the inbox."""

    def stores(state: ORMExecuteState) -> None:
        table = getattr(state.statement, "table", None)
        if state.is_insert and getattr(table, "name", None) == InboxUpdate.__tablename__:
            state.session.info["stores_updates"] = True

    def before_commit(session: Session) -> None:
        if session.info.pop("stores_updates", False):
            action(session)

    event.listen(Session, "do_orm_execute", stores)
    event.listen(Session, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(Session, "do_orm_execute", stores)
        event.remove(Session, "before_commit", before_commit)


@contextmanager
def storing_fails(count: int) -> Iterator[asyncio.Event]:
    """The next ``count`` commits that would store updates in the inbox fail; the event is set
    at the first, when the update has reached the bot and is not stored."""
    failed = asyncio.Event()
    left = [count]

    def fail(session: Session) -> None:
        if left[0] > 0:
            left[0] -= 1
            failed.set()
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    with at_storing_commit(fail):
        yield failed


async def handled(db: Database, chat_id: int) -> tuple[list[InboxStatus], int]:
    """The states of the chat's updates in the inbox, and the messages queued to it."""
    async with db.unit_of_work() as session:
        states = (
            await session.scalars(
                select(InboxUpdate.status)
                .where(InboxUpdate.chat_id == chat_id)
                .order_by(InboxUpdate.update_id)
            )
        ).all()
        messages = (
            await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.chat_id == chat_id, OutboxMessage.method == "sendMessage"
                )
            )
        ).all()
    return list(states), len(messages)


async def test_the_offset_stays_before_an_update_whose_store_failed_when_the_bot_stops(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)):
        student = await linked(person, invite, STUDENT, language="en")
        with storing_fails(count=1_000) as failed:
            await tg.user_send(student.user, "/me")
            await asyncio.wait_for(failed.wait(), 5)
        # Stopped between receiving the update and committing it.
    [update] = tg.pending_updates()
    assert update["message"]["text"] == "/me"
    assert await handled(campus, student.user.id) == ([InboxStatus.DONE], 1)

    async with running(make_application(campus, tg, clock)):
        reply = await tg.wait_for_bot_message(student.user.id)
        assert reply.text is not None and STUDENT in reply.text
        await tg.wait_until(lambda: not tg.pending_updates())
    assert await handled(campus, student.user.id) == ([InboxStatus.DONE] * 2, 2)


async def test_a_webhook_delivery_whose_store_failed_is_not_acknowledged(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    server = FakeTelegramServer(tg)
    await server.start()
    port = free_port()
    webhook = Webhook(
        url=f"http://127.0.0.1:{port}/telegram",
        listen_host="127.0.0.1",
        listen_port=port,
        secret="s3cret_for-tests",
    )
    try:
        async with running(make_application(campus, tg, clock), webhook):
            student = await linked(person, invite, STUDENT, language="en")
            with storing_fails(count=1) as failed:
                await tg.user_send(student.user, "/me")
                await asyncio.wait_for(failed.wait(), 5)
                # Telegram was not told it arrived, so it delivers it again.
                reply = await tg.wait_for_bot_message(student.user.id)
            assert reply.text is not None and STUDENT in reply.text
            assert tg.state.webhook is not None
            assert tg.state.webhook.last_error_message == (
                "Wrong response from the webhook: 500 Internal Server Error"
            )
    finally:
        await server.stop()
    assert await handled(campus, student.user.id) == ([InboxStatus.DONE] * 2, 2)


async def test_the_commit_that_stores_an_update_reaches_the_disk(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    levels: list[str] = []

    def durability(session: Session) -> None:
        # How this very commit is made durable, asked on its own connection.
        connection = session.connection()
        probe = (
            "PRAGMA synchronous"
            if connection.dialect.name == "sqlite"
            else ("SHOW synchronous_commit")
        )
        levels.append(f"{connection.dialect.name}:{connection.exec_driver_sql(probe).scalar()}")

    with at_storing_commit(durability):
        assert STUDENT in await student.say("/me")
    # SQLite: FULL (2) syncs the write-ahead log at every commit; NORMAL (1) may lose the last
    # commits to a power cut after Telegram was told the update arrived. PostgreSQL: on.
    assert levels in (["sqlite:2"], ["postgresql:on"])
