"""The inbox: incoming updates, stored before they are acknowledged. Nothing here commits."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from assistant.storage.models import InboxStatus, InboxUpdate
from assistant.wellformed import well_formed_json

_CHAT_PATHS = (
    ("message", "chat"),
    ("edited_message", "chat"),
    ("channel_post", "chat"),
    ("my_chat_member", "chat"),
    ("chat_member", "chat"),
    ("chat_join_request", "chat"),
)


def chat_of(payload: dict[str, Any]) -> int | None:
    """The chat an update belongs to, for handling the updates of one chat in order."""
    for key, chat_key in _CHAT_PATHS:
        if key in payload:
            chat = payload[key].get(chat_key) or {}
            return chat.get("id") if isinstance(chat.get("id"), int) else None
    query = payload.get("callback_query")
    if query:
        message = query.get("message") or {}
        chat_id = (message.get("chat") or {}).get("id")
        if isinstance(chat_id, int):
            return chat_id
        sender = (query.get("from") or {}).get("id")
        return sender if isinstance(sender, int) else None
    return None


def sender_of(payload: dict[str, Any]) -> int | None:
    """The Telegram user an update comes from, if it says."""
    for value in payload.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            sender = value["from"].get("id")
            return sender if isinstance(sender, int) else None
    return None


@dataclass(frozen=True)
class Stored:
    """An update to handle, with enough to queue it: stored by this transaction, or pending.

    ``retry_at``: an update that failed before waits until then. ``payload``: the update as
    Telegram sent it, when it was just stored (the dispatcher may queue by what it is about).
    """

    update_id: int
    chat_id: int | None
    retry_at: datetime | None = None
    payload: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@functools.cache
def _store_statement(dialect: str) -> Insert:
    # Run for every batch of updates: built once per dialect.
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(InboxUpdate)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(InboxUpdate.update_id)
    )


async def store(
    session: AsyncSession, payloads: Iterable[dict[str, Any]], now: datetime
) -> list[Stored]:
    """Insert updates not seen before, dropping repeated update_ids; the new ones, in order."""
    rows = [
        {
            "update_id": payload["update_id"],
            "chat_id": chat_of(payload),
            # Kept as every store can keep it, and as Telegram can be sent it back.
            "payload": well_formed_json(payload),
            "status": InboxStatus.PENDING,
            "attempts": 0,
            "received_at": now,
        }
        for payload in payloads
    ]
    if not rows:
        return []
    statement = _store_statement(session.get_bind().dialect.name)
    result = await session.execute(statement, rows)
    new = set(result.scalars().all())
    return [
        Stored(r["update_id"], r["chat_id"], payload=r["payload"])
        for r in rows
        if r["update_id"] in new
    ]


async def pending(session: AsyncSession, *, limit: int) -> Sequence[Stored]:
    """The oldest pending updates."""
    result = await session.execute(
        select(InboxUpdate.update_id, InboxUpdate.chat_id, InboxUpdate.retry_at)
        .where(InboxUpdate.status == InboxStatus.PENDING)
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return [Stored(uid, chat, retry_at) for uid, chat, retry_at in result.all()]


async def with_payloads(session: AsyncSession, rows: Sequence[Stored]) -> list[Stored]:
    """``rows`` with their payloads, read in one statement."""
    if not rows:
        return []
    found = await session.execute(
        select(InboxUpdate.update_id, InboxUpdate.payload).where(
            InboxUpdate.update_id.in_([row.update_id for row in rows])
        )
    )
    payloads = {update_id: payload for update_id, payload in found.all()}
    return [replace(row, payload=payloads.get(row.update_id)) for row in rows]


# Run for every transaction of updates: built once. The rows are marked done as they are read,
# in the transaction that handles them: if handling fails, the rollback leaves them pending. On
# PostgreSQL the inner SELECT skips a row another process is handling (SQLite has one writer and
# no row locks).
_TAKE = (
    update(InboxUpdate)
    .where(
        InboxUpdate.update_id.in_(
            select(InboxUpdate.update_id)
            .where(
                InboxUpdate.update_id.in_(bindparam("take_ids", expanding=True)),
                InboxUpdate.status == InboxStatus.PENDING,
            )
            .with_for_update(skip_locked=True)
        )
    )
    .values(status=InboxStatus.DONE, handled_at=bindparam("now"))
    .returning(InboxUpdate.update_id, InboxUpdate.payload)
    # No InboxUpdate objects are loaded in the session to keep in step.
    .execution_options(synchronize_session=False)
)


async def take(
    session: AsyncSession, update_ids: Sequence[int], *, now: datetime
) -> dict[int, dict[str, Any]]:
    """The payloads of those of the pending updates not handled already nor held by another
    process, by id, marked done as of ``now`` in the caller's transaction (one statement for
    all of them).

    The mark commits with what the handlers did, or is rolled back with it.
    """
    rows = await session.execute(_TAKE, {"take_ids": list(update_ids), "now": now})
    return {update_id: payload for update_id, payload in rows.all()}


async def record_failure(
    session: AsyncSession,
    update_id: int,
    error: str,
    *,
    now: datetime,
    next_try: Callable[[int], datetime | None],
) -> InboxUpdate | None:
    """Count a failed attempt: the update waits until ``next_try(attempts so far)``, or is
    parked when that is None.

    Returns the row afterwards (PENDING with its ``retry_at``, or PARKED), or None when it is
    no longer pending (another process handled it).
    """
    row = await session.get(InboxUpdate, update_id, with_for_update=True)
    if row is None or row.status != InboxStatus.PENDING:
        return None
    row.attempts += 1
    row.last_error = error[:4000]
    row.retry_at = next_try(row.attempts)
    if row.retry_at is None:
        row.status = InboxStatus.PARKED
        row.handled_at = now
    return row


async def parked(session: AsyncSession) -> Sequence[InboxUpdate]:
    """Updates that could not be handled, newest first, for the admins."""
    result = await session.scalars(
        select(InboxUpdate)
        .where(InboxUpdate.status == InboxStatus.PARKED)
        .order_by(InboxUpdate.update_id.desc())
    )
    return result.all()


async def counts(session: AsyncSession) -> dict[InboxStatus, int]:
    """How many updates are in each state."""
    result = await session.execute(
        select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
    )
    return {status: count for status, count in result.all()}


async def retry_parked(session: AsyncSession, update_ids: Sequence[int]) -> int:
    """Put parked updates back in the queue (after a fix); returns how many."""
    result = await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.update_id.in_(update_ids), InboxUpdate.status == InboxStatus.PARKED)
        .values(status=InboxStatus.PENDING, attempts=0, retry_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
