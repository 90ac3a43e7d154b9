"""Alembic environment: runs on the connection handed over by assistant.storage.migrate."""

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

from assistant.storage.models import Base, UTCDateTime


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Migrations must not import application types: they outlive the code that wrote them.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `assistant db upgrade`, which supplies the database")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
