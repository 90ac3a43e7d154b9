"""SQLite under the async engine, with statements run on the event loop's thread.

aiosqlite runs each connection on a thread of its own, and SQLAlchemy's adapter makes four
calls per statement (open a cursor, execute, fetch, close), each a round trip between the event
loop and that thread (a queue, a wake-up, a future) that costs more than the statement itself,
and lets every other task run in between: a transaction of twenty statements then lasts as
long as twenty turns of a busy loop, holding SQLite's one write lock all the while. A statement
on a local file takes microseconds, so here it runs on the loop's thread, cursor opened,
executed, read and closed at once, and a transaction runs without a pause.

Only a wait must not happen there: the connection's busy timeout is zero, and a statement that
finds the write lock taken (another process writing, or a transaction of this one paused at an
``await`` of something else) is run again on the connection's thread with the configured busy
timeout, where waiting blocks nothing. Opening and closing stay on the thread too, and so does a
commit that wrote, which waits for the disk.

The engine gets it through ``connect_args``: SQLAlchemy's aiosqlite dialect calls
``async_creator_fn`` with the arguments it would give ``aiosqlite.connect``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Self

import aiosqlite

_Result = tuple[Any, list[Any], int, int | None]


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Result:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]) -> _Result:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class Cursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor; rows are read with the execute."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = ()) -> Self:
        result = await self._connection.call(_run, sql, parameters)
        self.description, self._rows, self.rowcount, self.lastrowid = result
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> Self:
        result = await self._connection.call(_run_many, sql, parameters)
        self.description, self._rows, self.rowcount, self.lastrowid = result
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = size or self.arraysize
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []


def _patiently(connection: sqlite3.Connection, busy_ms: int, function: Any, *args: Any) -> Any:
    connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
    try:
        return function(connection, *args)
    finally:
        connection.execute("PRAGMA busy_timeout = 0")


def _commit(connection: sqlite3.Connection) -> None:
    connection.commit()


class Connection(aiosqlite.Connection):
    """aiosqlite's connection running statements on the loop's thread (see the module)."""

    def __init__(self, connector: Any, busy_ms: int) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._busy_ms = busy_ms

    def cursor(self) -> Cursor:  # type: ignore[override]
        # SQLAlchemy enters the cursor (``__aenter__``) rather than awaiting this call.
        return Cursor(self)

    async def call(self, function: Any, *args: Any) -> Any:
        """``function(sqlite3_connection, *args)``, waiting on the thread for a taken lock."""
        try:
            return function(self._conn, *args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        # The statement did nothing; run again where the busy handler may wait. aiosqlite's
        # own queue to its thread, which its public calls use too (not typed).
        return await self._execute(  # type: ignore[no-untyped-call]
            _patiently, self._conn, self._busy_ms, function, *args
        )

    async def commit(self) -> None:
        if not self._conn.in_transaction:
            return
        # A commit that wrote waits for the disk (synchronous=FULL): on the connection's thread,
        # where the wait blocks nothing, while the loop goes on answering people.
        await self._execute(_commit, self._conn)  # type: ignore[no-untyped-call]

    async def rollback(self) -> None:
        # The pool's reset after every commit finds no transaction open.
        if self._conn.in_transaction:
            self._conn.rollback()


def connect(database: str, *, timeout: float = 5.0, **kwargs: Any) -> Connection:
    """A connection as ``aiosqlite.connect`` makes one, to be awaited.

    ``timeout`` is how long a statement waits for a taken write lock, on the thread.
    """
    # Used from the loop's thread as well as its own (one at a time).
    kwargs["check_same_thread"] = False
    return Connection(
        lambda: sqlite3.connect(database, timeout=0, **kwargs), busy_ms=int(timeout * 1000)
    )
