"""SQLite under the async engine with one trip to the connection's thread per statement.

aiosqlite runs each connection on a thread of its own, and SQLAlchemy's adapter makes four
calls per statement (open a cursor, execute, fetch, close), each a round trip between the event
loop and that thread (a queue, a wake-up, a future) that costs more than the statement itself.
Here the cursor is opened, executed, read and closed on the thread in one trip; commit and
rollback are one trip each, and a rollback with no transaction open (the pool's reset after
every commit) none.

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
        result = await self._connection.on_thread(_run, sql, parameters)
        self.description, self._rows, self.rowcount, self.lastrowid = result
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> Self:
        result = await self._connection.on_thread(_run_many, sql, parameters)
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


class Connection(aiosqlite.Connection):
    """aiosqlite's connection with cursors that make one trip per statement."""

    def cursor(self) -> Cursor:  # type: ignore[override]
        # SQLAlchemy enters the cursor (``__aenter__``) rather than awaiting this call.
        return Cursor(self)

    async def on_thread(self, function: Any, *args: Any) -> Any:
        """``function(sqlite3_connection, *args)`` on the connection's thread."""
        # aiosqlite's own queue to its thread, which its public calls use too (not typed).
        return await self._execute(function, self._conn, *args)  # type: ignore[no-untyped-call]

    async def rollback(self) -> None:
        # Read on the loop's thread: safe, as nothing runs on this connection meanwhile.
        if self._conn.in_transaction:
            await super().rollback()


def connect(database: str, **kwargs: Any) -> Connection:
    """A connection as ``aiosqlite.connect`` makes one, to be awaited."""
    # The transaction flag is read on the event loop's thread (see Connection.rollback).
    kwargs["check_same_thread"] = False
    return Connection(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size=64)
