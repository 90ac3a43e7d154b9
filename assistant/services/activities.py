"""Activities (活动): the year's fixed activities reminded to their owners, and activities people
sign up for.

The fixed activities of ``rules/activities.yaml`` are planned like reminders
(:func:`assistant.services.timed.planner`, kind ``activity.plan``): before each one's window
opens, its owners (an office, every counsellor, a college's party organisation) are told to
schedule it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Language, ScopeKind
from assistant.rules import Rules
from assistant.rules.activities import FixedActivity
from assistant.schedule import Handler
from assistant.services import timed
from assistant.services.kit import Kit, Names
from assistant.storage import outbox
from assistant.storage.models import (
    College,
    Community,
    Firing,
    Person,
    Priority,
    RoleAssignment,
    TelegramAccount,
)
from assistant.texts import Texts, pick_language

log = logging.getLogger(__name__)

PLAN = "activity.plan"
"""The kind of the firing that reminds a fixed activity's owners to schedule it."""


async def owners(session: AsyncSession, activity: FixedActivity) -> list[int]:
    """The active people who schedule ``activity``: holders of its owner's roles, over its
    college (or a community the college leads) when it names one."""
    query = (
        select(RoleAssignment.person_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(Person.active, RoleAssignment.role.in_(activity.owner.roles))
    )
    if activity.owner.college is not None:
        college = await session.scalar(
            select(College.id).where(College.code == activity.owner.college)
        )
        if college is None:
            log.warning(
                "%s:%s [%s]: no college %r on the campus; nobody reminded",
                activity.file,
                activity.line,
                activity.id,
                activity.owner.college,
            )
            return []
        led = select(Community.id).where(Community.college_id == college)
        query = query.where(
            or_(
                and_(
                    RoleAssignment.scope_kind == ScopeKind.COLLEGE,
                    RoleAssignment.scope_id == college,
                ),
                and_(
                    RoleAssignment.scope_kind == ScopeKind.COMMUNITY,
                    RoleAssignment.scope_id.in_(led),
                ),
            )
        )
    found = await session.scalars(query.distinct().order_by(RoleAssignment.person_id))
    return list(found.all())


async def tell(
    session: AsyncSession,
    texts: Texts,
    default: Language,
    people: Iterable[int],
    template: str,
    variables: dict[str, Any],
    *,
    now: datetime,
    keyboard: list[list[dict[str, str]]] | None = None,
    priority: Priority = Priority.BULK,
) -> int:
    """Queue ``template`` to each linked, reachable one of ``people`` in their language;
    ``keyboard`` rows hold (label template, callback data) as {"text", "callback_data"}, the
    labels rendered too. Returns how many were queued."""
    wanted = sorted(set(people))
    rows = await session.execute(
        select(TelegramAccount.telegram_user_id, TelegramAccount.language).where(
            TelegramAccount.person_id.in_(wanted), TelegramAccount.unreachable_since.is_(None)
        )
    )
    queued = 0
    for chat_id, chosen in rows.all():
        language = pick_language(chosen, default)
        payload: dict[str, Any] = {
            "text": texts.render(language, template, **variables),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if keyboard:
            payload["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {
                            "text": texts.render(language, button["text"]),
                            "callback_data": button["callback_data"],
                        }
                        for button in row
                    ]
                    for row in keyboard
                ]
            }
        outbox.enqueue(session, chat_id, "sendMessage", payload, priority=priority, now=now)
        queued += 1
    return queued


def remind_owners(rules: Rules, texts: Texts, default: Language) -> Handler:
    """Tell the owners of each due fixed activity to schedule it."""

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        for firing in due:
            activity = rules.activities.get(str(firing.payload.get(PLAN)))
            if activity is None:
                continue  # removed from the file since it was planned
            part_of = rules.activities.get(activity.part_of or "")
            period = next(
                (p for p in rules.calendar.periods if p.id == activity.window.period), None
            )
            variables = {
                "activity": activity,
                "part_of": part_of.name if part_of is not None else None,
                "period": period.name if period is not None else None,
            }
            await tell(
                session,
                texts,
                default,
                await owners(session, activity),
                activity.template,
                variables,
                now=now,
            )

    return fire


def names(kit: Kit) -> Names:
    """The fixed activities' reminders to their owners: the sweep that plans them, and what
    they say when due."""
    return Names(
        jobs={
            "activities.plan": timed.planner(
                PLAN, kit.rules.activities, kit.rules.calendar, kit.campus
            )
        },
        firings={PLAN: remind_owners(kit.rules, kit.texts, kit.default)},
    )
