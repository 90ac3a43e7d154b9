"""Engine, sessions and the unit of work.

One unit of work per update or per command: it opens a session, and commits everything the work
did in one transaction, or nothing. Repositories only add and query; they never commit.
Work that is cheaper done once for many (taking an activity's places for every press handled
in one transaction) is deferred to the end of the unit of work and settled before its commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from assistant.storage import sqlite

T = TypeVar("T")

_DEFERRED = "deferred"


def defer(
    session: AsyncSession,
    key: Hashable,
    settle_all: Callable[[list[T]], Awaitable[None]],
    item: T,
) -> None:
    """Leave ``item`` to be settled before this unit of work commits, together with every
    other item deferred under ``key`` in it, in the order they were deferred: ``settle_all``
    (the first one given for ``key``) gets them all at once."""
    pending: dict[Hashable, tuple[Any, list[Any]]] = session.info.setdefault(_DEFERRED, {})
    pending.setdefault(key, (settle_all, []))[1].append(item)


async def settle(session: AsyncSession) -> None:
    """Do the work deferred in this unit of work, key by key in the order each was first
    deferred. Settling may defer more; that is settled too."""
    while pending := session.info.pop(_DEFERRED, None):
        for settle_all, items in pending.values():
            await settle_all(items)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for an SQLite or PostgreSQL URL, with the settings each needs."""
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            # Concurrent writers wait for the lock instead of failing at once.
            connect_args={"timeout": 30, "async_creator_fn": sqlite.connect},
            **kwargs,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Every commit reaches the disk before it returns: an update is acknowledged to
            # Telegram, and an answer sent, only after a commit, so a power cut must not take
            # the commit back (NORMAL may lose the last ones). bench/intake.py: about 17% fewer
            # updates a second (docs/architecture.md).
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """The store: an engine and the factory of units of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler (1, 2, 5 ... 100 ms) however soon it is free again: the bot's
        # busiest units of work take turns here instead.
        self._turns = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def unit_of_work(self, *, busy: bool = False) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends, rolled back if it raises.

        ``busy`` marks the units of work that run for every update and every message sent
        (storing, handling, recording): on SQLite they run one at a time, so that they never
        wait on each other's write lock. Nothing inside one may open another.
        """
        if busy and self._turns is not None:
            async with self._turns, self._sessions() as session, session.begin():
                yield session
                await settle(session)
            return
        async with self._sessions() as session, session.begin():
            yield session
            await settle(session)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
