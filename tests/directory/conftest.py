"""Fixtures of the directory tests: a copy of the small test campus, the import as the CLI runs
it (load, then import, in one unit of work), and a snapshot of every table."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.directory import ImportReport, import_org, load_org
from assistant.storage.db import Database
from assistant.storage.models import Base

DATA = Path(__file__).parent / "data"

Snapshot = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def campus(tmp_path: Path) -> Path:
    """A writable copy of the test campus; the path of its campus.yaml."""
    target = tmp_path / "campus"
    shutil.copytree(DATA, target)
    return target / "campus.yaml"


@pytest.fixture
def run_import(db: Database) -> Callable[[Path], Awaitable[ImportReport]]:
    """Import the campus files at a path the way ``assistant org import`` does."""

    async def run(path: Path) -> ImportReport:
        async with db.unit_of_work() as session:
            return await import_org(session, load_org(path))

    return run


@pytest.fixture
def snapshot(db: Database) -> Callable[[], Awaitable[Snapshot]]:
    """Every row of every table, ordered by primary key."""

    async def take() -> Snapshot:
        async with db.engine.connect() as conn:
            return {
                table.name: [
                    tuple(row)
                    for row in await conn.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in Base.metadata.sorted_tables
            }

    return take
