"""Who is talking to the bot: invites, linking a Telegram account, and the acting person."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor, Grant
from assistant.storage import repo
from assistant.storage.models import AuditEntry, DormRoom, Floor, Invite, Person, TelegramAccount


class IdentityError(Exception):
    """An identity operation cannot be done; ``str()`` says why, for the operator."""


def hash_token(token: str) -> str:
    """The stored form of an invite token."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_link(bot_username: str, token: str) -> str:
    """The deep link a person opens to link their Telegram account."""
    return f"https://t.me/{bot_username}?start={token}"


async def create_invite(
    session: AsyncSession, person: Person, *, now: datetime, ttl: timedelta
) -> str:
    """A new single-use token for ``person``; only its hash is stored."""
    if not person.active:
        raise IdentityError(f"{person.number} is no longer on the roster")
    # 24 random bytes: 32 URL-safe characters, inside the 64 a deep link allows.
    token = secrets.token_urlsafe(24)
    session.add(
        Invite(
            person_id=person.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def invite_number(
    session: AsyncSession, number: str, *, now: datetime, ttl: timedelta
) -> tuple[Person, str]:
    """An invite for the person with this student or staff number."""
    person = await repo.person_by_number(session, number)
    if person is None:
        raise IdentityError(f"no person with number {number!r}")
    return person, await create_invite(session, person, now=now, ttl=ttl)


async def invite_building(
    session: AsyncSession, building_code: str, *, now: datetime, ttl: timedelta
) -> list[tuple[Person, str]]:
    """One invite per active resident of a building, ordered by room and name."""
    building = await repo.building_by_code(session, building_code)
    if building is None:
        raise IdentityError(f"no building with code {building_code!r}")
    residents = (
        await session.scalars(
            select(Person)
            .join(DormRoom, DormRoom.id == Person.dorm_room_id)
            .join(Floor, Floor.id == DormRoom.floor_id)
            .where(Floor.building_id == building.id, Person.active)
            .order_by(DormRoom.number, Person.number)
        )
    ).all()
    return [(p, await create_invite(session, p, now=now, ttl=ttl)) for p in residents]


class LinkOutcome(enum.StrEnum):
    """How redeeming an invite ended; each has its own message."""

    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    OTHER_PERSON = "other_person"


@dataclass(frozen=True)
class LinkResult:
    """The outcome, and the person when there is one to greet."""

    outcome: LinkOutcome
    person: Person | None = None


async def redeem_invite(
    session: AsyncSession,
    token: str,
    *,
    telegram_user_id: int,
    language: str | None,
    now: datetime,
) -> LinkResult:
    """Link the Telegram account to the invite's person, once.

    A person who already had another account (a new phone) moves to this one; an account already
    linked to someone else is refused, so one Telegram account never speaks for two people.
    """
    invite = await session.scalar(select(Invite).where(Invite.token_hash == hash_token(token)))
    if invite is None:
        return LinkResult(LinkOutcome.UNKNOWN)
    person = await session.get(Person, invite.person_id)
    if person is None or not person.active:
        return LinkResult(LinkOutcome.UNKNOWN)
    current = await repo.account_by_telegram_id(session, telegram_user_id)
    if invite.used_at is not None:
        if current is not None and current[1].id == person.id:
            return LinkResult(LinkOutcome.ALREADY_LINKED, person)
        return LinkResult(LinkOutcome.USED)
    if invite.expires_at <= now:
        return LinkResult(LinkOutcome.EXPIRED)
    if current is not None and current[1].id != person.id:
        return LinkResult(LinkOutcome.OTHER_PERSON, current[1])

    # A conditional UPDATE, not a read-then-write: two people racing for one token cannot both win.
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now, used_by_telegram_id=telegram_user_id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return LinkResult(LinkOutcome.USED)
    account = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.person_id == person.id)
    )
    if account is None:
        session.add(
            TelegramAccount(
                person_id=person.id,
                telegram_user_id=telegram_user_id,
                language=language,
                linked_at=now,
            )
        )
    else:
        account.telegram_user_id = telegram_user_id
        account.linked_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_person_id=person.id,
            action="identity.link",
            detail={"telegram_user_id": telegram_user_id, "invite_id": invite.id},
        )
    )
    return LinkResult(LinkOutcome.LINKED, person)


async def actor_for(session: AsyncSession, telegram_user_id: int) -> Actor | None:
    """The known person behind a Telegram user, or None for a stranger."""
    found = await repo.linked(session, telegram_user_id)
    if found is None:
        return None
    return Actor(
        person_id=found.person_id,
        number=found.number,
        name=found.name,
        status=found.status,
        language=found.language,
        college=found.college,
        home=found.home,
        grants=tuple(Grant(*grant) for grant in found.grants),
        unreachable=found.unreachable,
    )


async def person_actor(
    session: AsyncSession, person: Person, account: TelegramAccount | None = None
) -> Actor:
    """``person`` as an actor, with their grants (linked to Telegram or not)."""
    grants = tuple(
        Grant(r.role, r.scope_kind, r.scope_id) for r in await repo.roles_of(session, person.id)
    )
    return Actor(
        person_id=person.id,
        number=person.number,
        name=person.name,
        status=person.status,
        language=account.language if account else None,
        college=await repo.college(session, person.college_id),
        home=await repo.place_of_room(session, person.dorm_room_id),
        grants=grants,
        unreachable=account is not None and account.unreachable_since is not None,
    )


async def language_of(session: AsyncSession, telegram_user_id: int | None) -> str | None:
    """The language the person behind a Telegram user chose, if they are linked and chose."""
    if telegram_user_id is None:
        return None
    language: str | None = await session.scalar(
        select(TelegramAccount.language).where(TelegramAccount.telegram_user_id == telegram_user_id)
    )
    return language


async def set_language(session: AsyncSession, person_id: int, language: str) -> None:
    """Remember the language a person chose."""
    account = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.person_id == person_id)
    )
    if account is not None:
        account.language = language


async def set_reachable(
    session: AsyncSession, telegram_user_id: int, reachable: bool, *, now: datetime
) -> None:
    """Record whether the bot can write to this person (they blocked or unblocked it)."""
    await session.execute(
        update(TelegramAccount)
        .where(TelegramAccount.telegram_user_id == telegram_user_id)
        .values(unreachable_since=None if reachable else now)
    )
