"""Scheduled firings: planned once by key, claimed once by a conditional update, tried again
after a failure, failed for good after too many."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from assistant.domain import MissedPolicy
from assistant.storage.models import Firing, FiringStatus


@functools.cache
def _plan_statement(dialect: str) -> Insert:
    # Run for every report and reminder planned: built once per dialect.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Firing).on_conflict_do_nothing(index_elements=["key"]).returning(Firing.id)


async def plan(
    session: AsyncSession,
    firings: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
) -> int:
    """Store each firing (``key``, ``kind``, ``due_at``, optional ``payload`` and ``missed``)
    unless its key is already planned; returns how many were new."""
    rows = [
        {
            "key": f["key"],
            "kind": f["kind"],
            "due_at": f["due_at"],
            "payload": dict(f.get("payload", {})),
            "missed": f.get("missed", MissedPolicy.LATE_ONCE),
            "status": FiringStatus.PENDING,
            "created_at": now,
            "next_attempt_at": f["due_at"],
            "attempts": 0,
        }
        for f in firings
    ]
    if not rows:
        return 0
    statement = _plan_statement(session.get_bind().dialect.name)
    new = 0
    # Bounded statements: PostgreSQL allows 65,535 parameters in one.
    for start in range(0, len(rows), 5000):
        new += len((await session.scalars(statement, rows[start : start + 5000])).all())
    return new


async def replan(
    session: AsyncSession, kind: str, wanted: Iterable[Mapping[str, Any]], *, now: datetime
) -> int:
    """Make the pending future firings of ``kind`` exactly ``wanted`` (as for :func:`plan`):
    new ones are stored, those no longer wanted removed; the past is left as it is. Returns how
    many were stored or removed."""
    wanted = list(wanted)
    keys = {f["key"] for f in wanted}
    planned = await session.scalars(
        select(Firing.key).where(
            Firing.kind == kind, Firing.status == FiringStatus.PENDING, Firing.due_at > now
        )
    )
    stale = [key for key in planned if key not in keys]
    if stale:
        await session.execute(delete(Firing).where(Firing.key.in_(stale)))
    return await plan(session, wanted, now=now) + len(stale)


async def due(session: AsyncSession, now: datetime, *, limit: int) -> Sequence[Firing]:
    """Pending firings to try by ``now`` (due, and not waiting to be tried again), earliest
    first; on PostgreSQL rows another instance is firing are skipped rather than waited for."""
    result = await session.scalars(
        select(Firing)
        .where(Firing.status == FiringStatus.PENDING, Firing.next_attempt_at <= now)
        .order_by(Firing.next_attempt_at, Firing.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return result.all()


async def claim(
    session: AsyncSession,
    due: Sequence[Firing],
    status: FiringStatus,
    now: datetime,
    *,
    error: str | None = None,
) -> list[int]:
    """Move the pending firings among ``due`` to ``status`` (with ``error``: as a failed try that
    says so); returns the ids this call moved (those someone else moved first are left out)."""
    if not due:
        return []
    values: dict[str, Any] = {"status": status, "fired_at": now}
    if error is not None:
        values.update(attempts=Firing.attempts + 1, last_error=error)
    result = await session.scalars(
        update(Firing)
        .where(Firing.id.in_([f.id for f in due]), Firing.status == FiringStatus.PENDING)
        .values(values)
        .returning(Firing.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.all())


async def record_failure(
    session: AsyncSession,
    claimed: Sequence[Firing],
    error: str,
    now: datetime,
    *,
    retry_at: datetime | None,
) -> None:
    """Count a failed try of firings this transaction claimed, and keep ``error``: pending
    again from ``retry_at``, or failed for good without one."""
    values: dict[str, Any] = {
        "attempts": Firing.attempts + 1,
        # The end of a traceback says what went wrong.
        "last_error": error[-4000:],
    }
    if retry_at is None:
        values.update(status=FiringStatus.FAILED, fired_at=now)
    else:
        values.update(status=FiringStatus.PENDING, fired_at=None, next_attempt_at=retry_at)
    await session.execute(
        update(Firing)
        .where(Firing.id.in_([f.id for f in claimed]))
        .values(values)
        .execution_options(synchronize_session=False)
    )


async def again(session: AsyncSession, fired: Sequence[Firing], at: datetime) -> None:
    """Make firings this transaction fired pending again, due ``at`` with a fresh count of
    tries: one row that comes back until its work is done."""
    if not fired:
        return
    await session.execute(
        update(Firing)
        .where(Firing.id.in_([f.id for f in fired]))
        .values(
            status=FiringStatus.PENDING,
            due_at=at,
            next_attempt_at=at,
            fired_at=None,
            attempts=0,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


async def failed(session: AsyncSession) -> Sequence[Firing]:
    """Firings that failed for good, earliest due first, for the admins."""
    result = await session.scalars(
        select(Firing)
        .where(Firing.status == FiringStatus.FAILED)
        .order_by(Firing.due_at, Firing.id)
    )
    return result.all()


async def rearm(session: AsyncSession, keys: Sequence[str] | None, now: datetime) -> list[str]:
    """Make failed firings pending again, to be tried from ``now`` with a fresh count of tries;
    those of ``keys``, or all of them when ``keys`` is None. Returns the keys re-armed."""
    statement = update(Firing).where(Firing.status == FiringStatus.FAILED)
    if keys is not None:
        statement = statement.where(Firing.key.in_(keys))
    result = await session.scalars(
        statement.values(
            status=FiringStatus.PENDING, attempts=0, next_attempt_at=now, fired_at=None
        )
        .returning(Firing.key)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.all())


async def counts(session: AsyncSession) -> dict[FiringStatus, int]:
    """How many firings are in each state."""
    result = await session.execute(select(Firing.status, func.count()).group_by(Firing.status))
    return {status: count for status, count in result.all()}


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending firing is to be tried."""
    return await session.scalar(
        select(func.min(Firing.next_attempt_at)).where(Firing.status == FiringStatus.PENDING)
    )
