"""Reminders: planned from ``rules/reminders.yaml`` as firings, and what firings say when due.

A periodic job plans every reminder's moments of the coming weeks as ``firings`` rows
(:mod:`assistant.services.timed`, as for scheduled broadcasts). When a firing comes due its
audience is worked out then, from the people and roles of that moment.

Two kinds of firing: ``reminder`` (a reminder of the file) and ``message`` (a template to chosen
people, for one-off notes the services plan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Language
from assistant.rules import Rules
from assistant.rules.reminders import AUDIENCE_SCHEMA, Reminder
from assistant.schedule import Handler
from assistant.services import timed
from assistant.services.kit import Kit, Names
from assistant.storage import outbox
from assistant.storage.models import (
    Building,
    College,
    Community,
    DormRoom,
    Firing,
    Floor,
    Person,
    Priority,
    RoleAssignment,
    TelegramAccount,
)
from assistant.texts import Texts, pick_language


def names(kit: Kit) -> Names:
    """The two kinds of firing, and the job that plans reminders."""
    return Names(
        firings={
            "message": message(kit.texts, kit.default),
            "reminder": remind(kit.rules, kit.texts, kit.default, kit.campus),
        },
        jobs={
            "reminders.plan": timed.planner(
                "reminder", kit.rules.reminders, kit.rules.calendar, kit.campus
            )
        },
    )


def remind(rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> Handler:
    """Send each due reminder to its audience as it stands now; its template is told what it
    reminds of (``event``: the moment on the campus clock, for the ``day_time`` filter;
    ``days_ahead``: 7 a week before, 0 on the day; ``period``: the yearly period its ``at``
    counts from, if any)."""

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        for firing in due:
            reminder = rules.reminders.get(str(firing.payload.get("reminder")))
            if reminder is None:
                continue  # removed from the file since it was planned
            day = rules.calendar.day_facts(firing.due_at.astimezone(campus).date())
            people = await audience(session, reminder, rules, day)
            # What it reminds of: a moment days after it comes (days_before), or now.
            stored = firing.payload.get("event_at")
            event = (datetime.fromisoformat(stored) if stored else firing.due_at).astimezone(campus)
            variables = {
                "title": reminder.name,
                "due_at": firing.due_at,
                "event": event,
                "days_ahead": (event.date() - firing.due_at.astimezone(campus).date()).days,
                "period": _period(rules, reminder, event.date()),
            }
            await _send(session, texts, default, people, reminder.template, variables, now)

    return fire


def message(texts: Texts, default: Language) -> Handler:
    """Queue each firing's template to its ``person_ids``, in each one's language."""

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        wanted = {person for firing in due for person in firing.payload["person_ids"]}
        accounts = await _accounts(session, wanted)
        for firing in due:
            payload = firing.payload
            await _send(
                session,
                texts,
                default,
                payload["person_ids"],
                payload["template"],
                payload["variables"],
                now,
                accounts,
            )

    return fire


def _period(rules: Rules, reminder: Reminder, day: date) -> dict[str, Any] | None:
    """For a reminder counted from a yearly period, that period as it falls around ``day``, a
    moment of its ``at`` (its name, first and last day), for the template to state; else None."""
    at = reminder.at
    period = rules.calendar.yearly_period(at.yearly) if at.yearly else None
    if period is None:
        return None
    edge = day + timedelta(days=at.days_before)
    first, last = period.in_year(edge.year)
    return {"name": period.name, "first": first, "last": last}


async def audience(
    session: AsyncSession, reminder: Reminder, rules: Rules, day: Mapping[str, Any]
) -> list[int]:
    """The active people a reminder is for: holders of its roles, those its rule matches,
    asked of each person and of ``day`` (the facts of the day it comes), and those the access
    rules let do its action (on some day: a shut window still reminds)."""
    query = select(Person.id).where(Person.active.is_(True))
    if reminder.roles:
        query = query.where(
            Person.id.in_(
                select(RoleAssignment.person_id).where(RoleAssignment.role.in_(reminder.roles))
            )
        )
    ids = list(await session.scalars(query.order_by(Person.id)))
    if reminder.when is None and reminder.may is None:
        return ids
    facts = await people_facts(session, ids)
    when, may = reminder.when, reminder.may
    return [
        i
        for i in ids
        if (when is None or when.condition.matches(AUDIENCE_SCHEMA.subject({**facts[i], **day})))
        and (may is None or rules.allowed(may, facts[i], any_day=True).outcome.allowed)
    ]


async def people_facts(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a rule over people may ask of each of ``ids``, read in two queries."""
    rows = await session.execute(
        select(
            Person.id,
            Person.status,
            Person.graduation_year,
            College.code,
            Community.code,
            Building.code,
            Floor.number,
        )
        .outerjoin(College, College.id == Person.college_id)
        .outerjoin(DormRoom, DormRoom.id == Person.dorm_room_id)
        .outerjoin(Floor, Floor.id == DormRoom.floor_id)
        .outerjoin(Building, Building.id == Floor.building_id)
        .outerjoin(Community, Community.id == Building.community_id)
        .where(Person.id.in_(ids))
    )
    facts: dict[int, dict[str, Any]] = {
        person: {
            "status": str(status),
            "roles": [],
            "college": college,
            "community": community,
            "building": building,
            "floor": floor,
            "graduation_year": graduation_year,
        }
        for person, status, graduation_year, college, community, building, floor in rows
    }
    roles = await session.execute(
        select(RoleAssignment.person_id, RoleAssignment.role).where(
            RoleAssignment.person_id.in_(ids)
        )
    )
    for person, role in roles:
        facts[person]["roles"].append(str(role))
    return facts


async def _accounts(session: AsyncSession, people: set[int]) -> dict[int, tuple[int, str | None]]:
    rows = await session.execute(
        select(
            TelegramAccount.person_id, TelegramAccount.telegram_user_id, TelegramAccount.language
        ).where(TelegramAccount.person_id.in_(people), TelegramAccount.unreachable_since.is_(None))
    )
    return {person: (chat_id, language) for person, chat_id, language in rows}


async def _send(
    session: AsyncSession,
    texts: Texts,
    default: Language,
    people: Sequence[int],
    template: str,
    variables: dict[str, Any],
    now: datetime,
    accounts: dict[int, tuple[int, str | None]] | None = None,
) -> None:
    if accounts is None:
        accounts = await _accounts(session, set(people))
    for person in people:
        if person not in accounts:
            continue  # not linked to Telegram (yet), or blocked the bot: nobody to tell
        chat_id, language = accounts[person]
        text = texts.render(pick_language(language, default), template, **variables)
        outbox.enqueue(
            session,
            chat_id,
            "sendMessage",
            {"text": text, "parse_mode": "HTML"},
            priority=Priority.BULK,
            now=now,
        )
