"""The migrations produce exactly the schema the models declare, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

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
