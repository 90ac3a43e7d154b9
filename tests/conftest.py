"""Shared fixtures: a real database on SQLite or PostgreSQL, migrated once per run.

``ASSISTANT_TEST_DATABASE_URL`` selects the backend. For PostgreSQL the URL names a server and an
existing database to connect through; the run creates a database of its own there and drops it
at the end, so parallel runs never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

# The bot opts into PTB's timedelta durations at start (assistant.cli); the tests run it in-process.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from assistant.storage.db import Database
from assistant.storage.migrate import upgrade
from assistant.storage.models import Base


def pytest_configure(config: pytest.Config) -> None:
    """The bot opts into PTB's timedelta durations at start (assistant.cli); tests run it here."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")


def _pg_admin(url: str, statement: str) -> None:
    async def run() -> None:
        db = Database(url, isolation_level="AUTOCOMMIT")
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a freshly migrated database that lives for the whole test run."""
    configured = os.environ.get("ASSISTANT_TEST_DATABASE_URL", "")
    if configured.startswith("postgresql"):
        name = f"assistant_test_{uuid.uuid4().hex[:12]}"
        _pg_admin(configured, f'CREATE DATABASE "{name}"')
        url = make_url(configured).set(database=name).render_as_string(hide_password=False)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        name = ""

    async def migrate() -> None:
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(migrate())
    yield url
    if name:
        _pg_admin(configured, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _empty(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated database, emptied before each test."""
    database = Database(database_url)
    await _empty(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def empty_database_url(database_url: str) -> str:
    """The URL of the migrated database, emptied, for tests that run their own event loop."""

    async def run() -> None:
        database = Database(database_url)
        try:
            await _empty(database)
        finally:
            await database.dispose()

    asyncio.run(run())
    return database_url
