"""The outbox: Bot API calls committed with the change that caused them. Nothing here commits."""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.storage.models import (
    GroupChat,
    OutboxMessage,
    OutboxStatus,
    Priority,
    TelegramAccount,
)

UPLOAD_KEYS = frozenset({"upload", "mime_type", "base64"})
"""The keys of a file to upload with a stored call (:func:`upload`)."""

# Where a session keeps the messages its transaction queued (``Session.info``).
_QUEUED = "assistant.outbox.queued"


def enqueue(
    session: AsyncSession,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    *,
    priority: Priority,
    now: datetime,
    ref: str | None = None,
) -> OutboxMessage:
    """Add one call to the outbox; it is sent once the surrounding transaction commits.

    ``ref`` names what the message is about, for :func:`by_ref` to find it again.
    """
    message = OutboxMessage(
        ref=ref,
        chat_id=chat_id,
        method=method,
        payload={"chat_id": chat_id, **payload},
        priority=priority,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    session.info.setdefault(_QUEUED, []).append(message)
    return message


def upload(name: str, data: bytes, mime_type: str) -> dict[str, str]:
    """A file sent with a stored call (a calendar file, a QR code), as the row keeps it: its
    name, type and bytes in base64. The bot uploads it when the call is made."""
    return {"upload": name, "mime_type": mime_type, "base64": base64.b64encode(data).decode()}


def queued(session: AsyncSession, *, now: datetime) -> list[OutboxMessage]:
    """The messages queued through this session, due by ``now`` and not claimed, in order.

    A message deleted again in the same transaction (a cancelled booking's check-in) is not one.
    """
    deleted = session.deleted
    return [
        m
        for m in session.info.get(_QUEUED, [])
        if (inspect(m).pending or inspect(m).persistent)
        and m not in deleted
        and m.status is OutboxStatus.PENDING
        and m.next_attempt_at <= now
    ]


def claim(messages: Sequence[OutboxMessage], *, now: datetime, lease: timedelta) -> None:
    """Claim messages the caller's transaction queued, for ``lease``: they commit already claimed.

    A sender that holds them from the commit on need not claim them in a transaction of its own;
    if it never sends them (it crashed), they are due again when the lease ends, as any claim.
    """
    for message in messages:
        message.status = OutboxStatus.SENDING
        message.claimed_until = now + lease


async def claim_due(
    session: AsyncSession,
    *,
    limit: int,
    now: datetime,
    lease: timedelta,
    held: Collection[int] = (),
) -> Sequence[OutboxMessage]:
    """Take up to ``limit`` due messages, interactive first, oldest first, for ``lease``.

    Rows whose lease ran out (their sender died) are due again, except those in ``held``: the
    caller still has them, sent perhaps but not yet recorded. The claim is a conditional UPDATE,
    so two senders never take the same row.
    """
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                (OutboxMessage.status == OutboxStatus.PENDING)
                & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == OutboxStatus.SENDING)
                & (OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    )
    if held:
        due = due.where(OutboxMessage.id.not_in(held))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    claimed = await session.scalars(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            or_(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.claimed_until < now,
            ),
        )
        .values(status=OutboxStatus.SENDING, claimed_until=now + lease)
        .returning(OutboxMessage),
        execution_options={"synchronize_session": False},
    )
    return sorted(claimed.all(), key=lambda m: (m.priority, m.id))


async def mark_sent_many(
    session: AsyncSession, sent: Sequence[tuple[int, int | None]], *, now: datetime
) -> None:
    """These calls succeeded: (outbox id, Telegram's message id if any), in one statement."""
    if not sent:
        return
    await session.execute(
        update(OutboxMessage),
        [
            {
                "id": message_id,
                "status": OutboxStatus.SENT,
                "sent_at": now,
                "telegram_message_id": telegram_message_id,
                "claimed_until": None,
            }
            # In id order: transactions that update the same rows must lock them in one order.
            for message_id, telegram_message_id in sorted(sent)
        ],
    )


async def bring_up_to_date(
    session: AsyncSession, sent: Sequence[tuple[OutboxMessage, int]], *, now: datetime
) -> bool:
    """Queue an edit for each message rewritten while it was on its way; whether any was.

    ``sent`` pairs the rows just recorded sent, as the sender sent them, with Telegram's message
    ids. :func:`rewrite` replaced the payload of such a row in the outbox only.
    """
    if not sent:
        return False
    as_sent = {row.id: (row, message_id) for row, message_id in sent}
    now_read = await session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.id.in_(as_sent))
    )
    queued = False
    for row_id, payload in now_read.all():
        row, message_id = as_sent[row_id]
        if payload != row.payload:
            enqueue(
                session,
                row.chat_id,
                "editMessageText",
                {**payload, "message_id": message_id},
                priority=Priority.INTERACTIVE,
                now=now,
            )
            queued = True
    return queued


async def renew(session: AsyncSession, message_ids: Sequence[int], *, until: datetime) -> None:
    """Extend the lease on rows a sender still holds.

    On PostgreSQL a row another transaction has locked is skipped, not waited for: that is the
    sender recording it as sent, which needs no lease, and the two waiting on each other's rows
    in different orders would deadlock.
    """
    held = select(OutboxMessage.id).where(
        OutboxMessage.id.in_(message_ids), OutboxMessage.status == OutboxStatus.SENDING
    )
    if session.get_bind().dialect.name == "postgresql":
        held = held.with_for_update(skip_locked=True)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(held))
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )


async def mark_retry(
    session: AsyncSession, message_id: int, error: str, *, at: datetime, attempts: int
) -> None:
    """A transient failure: try again at ``at``."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=OutboxStatus.PENDING,
            attempts=attempts,
            next_attempt_at=at,
            claimed_until=None,
            last_error=error[:4000],
        )
    )


async def mark_failed(
    session: AsyncSession, message_id: int, error: str, *, status: OutboxStatus, now: datetime
) -> None:
    """A final failure (``FAILED``), or a recipient who blocked the bot (``UNREACHABLE``)."""
    row = await session.get(OutboxMessage, message_id)
    if row is None:
        return
    row.status = status
    row.claimed_until = None
    row.last_error = error[:4000]
    if status is OutboxStatus.UNREACHABLE:
        await session.execute(
            update(TelegramAccount)
            .where(
                TelegramAccount.telegram_user_id == row.chat_id,
                TelegramAccount.unreachable_since.is_(None),
            )
            .values(unreachable_since=now)
        )
        await session.execute(
            update(GroupChat)
            .where(GroupChat.chat_id == row.chat_id, GroupChat.unreachable_since.is_(None))
            .values(unreachable_since=now)
        )


async def counts(session: AsyncSession) -> dict[OutboxStatus, int]:
    """How many messages are in each state."""
    result = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: count for status, count in result.all()}


async def unreachable(session: AsyncSession) -> Sequence[tuple[int, str | None]]:
    """(chat id, error) of every recipient Telegram refused, for the admins' report."""
    result = await session.execute(
        select(OutboxMessage.chat_id, func.max(OutboxMessage.last_error))
        .where(OutboxMessage.status == OutboxStatus.UNREACHABLE)
        .group_by(OutboxMessage.chat_id)
        .order_by(OutboxMessage.chat_id)
    )
    return [(chat, error) for chat, error in result.all()]


async def release(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Hand claimed rows back to the outbox as they were: never tried (the sender is stopping),
    or refused with the token, which is no fault of theirs."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, claimed_until=None)
    )


async def move_chat(
    session: AsyncSession, old: int, new: int, *, claimed: Collection[int] = ()
) -> int:
    """Address to chat ``new`` what still waits for chat ``old`` (a group that became a
    supergroup), and the ``claimed`` rows a sender gives back, pending again; how many moved.

    Rows another sender holds are left to it: sending them, it learns of the new chat too.
    """
    rows = await session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == old,
            or_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.id.in_(claimed)),
        )
        .order_by(OutboxMessage.id)
        .with_for_update()
    )
    moved = 0
    for row in rows:
        row.chat_id = new
        row.payload = {**row.payload, "chat_id": new}
        row.status = OutboxStatus.PENDING
        row.claimed_until = None
        moved += 1
    return moved


async def by_ref(session: AsyncSession, prefix: str) -> Sequence[OutboxMessage]:
    """Every message whose ``ref`` starts with ``prefix``, oldest first, locked for an update."""
    result = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.ref.startswith(prefix, autoescape=True))
        .order_by(OutboxMessage.id)
        .with_for_update()
    )
    return result.all()


def rewrite(
    session: AsyncSession, row: OutboxMessage, payload: dict[str, Any], *, now: datetime
) -> None:
    """Bring a message the bot queued earlier (a card) to ``payload`` (text, buttons).

    Still waiting: its payload is replaced, so it leaves as it should read now. On its way (the
    sender holds it): its payload is replaced too, and the sender, recording it sent, finds that
    it no longer reads as sent and queues the edit (:func:`bring_up_to_date`). Already sent: an
    edit is queued. Failed or unreachable: left as it is.
    """
    if row.telegram_message_id is None:
        if row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            row.payload = {"chat_id": row.chat_id, **payload}
        return
    enqueue(
        session,
        row.chat_id,
        "editMessageText",
        {"message_id": row.telegram_message_id, **payload},
        priority=Priority.INTERACTIVE,
        now=now,
    )
