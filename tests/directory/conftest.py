"""Fixtures of the directory tests: a copy of the small test campus, the import as the CLI runs
it (load, then import, in one unit of work), and a snapshot of every table."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.config import REPO_ROOT
from assistant.directory import ImportReport, import_org, load_org
from assistant.rules import CAMPUS_TIMEZONE
from assistant.rules.roles import RoleRules, read_role_rules
from assistant.storage.db import Database
from assistant.storage.models import Base

DATA = Path(__file__).parent / "data"
HOLDERS = read_role_rules(REPO_ROOT / "rules", CAMPUS_TIMEZONE)
"""Who may hold which role, as the shipped rules/roles.yaml says."""

Snapshot = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def campus(tmp_path: Path) -> Path:
    """A writable copy of the test campus; the path of its campus.yaml."""
    target = tmp_path / "campus"
    shutil.copytree(DATA, target)
    return target / "campus.yaml"


@pytest.fixture
def run_import(db: Database) -> Callable[[Path], Awaitable[ImportReport]]:
    """Import the campus files at a path the way ``assistant org import`` does, with the
    shipped rules of who may hold which role (or ``holders``)."""

    async def run(path: Path, holders: RoleRules = HOLDERS) -> ImportReport:
        async with db.unit_of_work() as session:
            return await import_org(session, load_org(path, holders))

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
