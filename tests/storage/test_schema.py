"""The migrations produce exactly the schema the models declare, on every backend."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Enum, inspect

from assistant.storage.db import Database
from assistant.storage.migrate import current_revision, upgrade
from assistant.storage.models import Base


async def test_migrations_match_models(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrade_is_idempotent(db: Database) -> None:
    before = await current_revision(db)
    await upgrade(db)
    assert before is not None
    assert await current_revision(db) == before


async def test_every_enum_column_accepts_exactly_its_words(db: Database) -> None:
    """compare_metadata leaves CHECK constraints out: a word added to an enum needs its own
    migration of the constraint, or the store refuses it."""

    def checks(connection: Connection) -> dict[tuple[str, str], set[str]]:
        inspector = inspect(connection)
        return {
            (table, check["name"]): set(re.findall(r"'([a-z_]+)'", check["sqltext"]))
            for table in inspector.get_table_names()
            for check in inspector.get_check_constraints(table)
        }

    async with db.engine.connect() as conn:
        found = await conn.run_sync(checks)
    wanted = {
        (table.name, f"ck_{table.name}_{column.type.name}"): set(column.type.enums)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Enum)
    }
    assert {key: found.get(key) for key in wanted} == wanted
