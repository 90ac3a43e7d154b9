"""Planning what happens at the moments of an ``at``: reminders, scheduled broadcasts, and any
such rule file to come.

A sweep plans the moments each item is due in the coming weeks as firings of one kind, keyed by
item and moment (planning again stores nothing new, and an item changed in its file loses its
future firings); the firing's payload names the item, which is looked up again when it comes
due, and, for an item due before what it is about (a reminder days before a meeting), that
moment as ``event_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.rules.calendar import Calendar
from assistant.rules.timed import Timed
from assistant.schedule import Job, firings
from assistant.texts import Texts

HORIZON = timedelta(days=35)
"""How far ahead the moments are planned as firings."""


def key(kind: str, item: Timed, moment: datetime) -> str:
    """The firing key of ``item`` at ``moment``."""
    return f"{kind}:{item.id}:{moment.astimezone(UTC).isoformat(timespec='minutes')}"


def planner(kind: str, items: Mapping[str, Timed], calendar: Calendar, campus: tzinfo) -> Job:
    """The sweep that keeps the firings of ``kind`` of the next :data:`HORIZON` in line with
    ``items`` (payload ``{kind: item id}``)."""

    async def plan(session: AsyncSession, now: datetime) -> int:
        # By key: a moment written twice in a file (weeks [2, 2]) is one firing.
        wanted: dict[str, dict[str, Any]] = {
            key(kind, item, due): {
                "key": key(kind, item, due),
                "kind": kind,
                "due_at": due,
                "missed": item.missed,
                "payload": {kind: item.id}
                | ({} if event == due else {"event_at": event.astimezone(UTC).isoformat()}),
            }
            for item in items.values()
            for due, event in item.occasions(calendar, now, now + HORIZON, campus)
        }
        return await firings.replan(session, kind, wanted.values(), now=now)

    return plan


def missing_templates(items: Iterable[Timed], texts: Texts) -> list[str]:
    """One line per item whose template is missing in a language, for the start-up check."""
    return [
        f"{item.file}:{item.line} [{item.id}]: no template '{item.template}' in "
        f"conversations/templates/{language}/"
        for item in items
        for language in texts.languages()
        if item.template not in texts.names(language)
    ]
