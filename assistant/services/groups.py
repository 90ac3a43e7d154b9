"""Group chats bound to a floor or a building, where that floor's announcements land; a group
keeps its binding when Telegram upgrades it to a supergroup."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor, Grant, Named, Place, Role, ScopeKind
from assistant.services.people import find_floor
from assistant.storage import outbox, repo
from assistant.storage.models import AuditEntry, GroupChat


class BindOutcome(enum.StrEnum):
    """How a /bind ended; each has its own message."""

    BOUND = "bound"
    NEED_TARGET = "need_target"
    UNKNOWN_TARGET = "unknown_target"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class BindResult:
    """The outcome and, when there is one, the floor or building concerned."""

    outcome: BindOutcome
    place: Place | None = None
    building: Named | None = None


@dataclass(frozen=True)
class _Target:
    kind: ScopeKind
    scope_id: int
    community_id: int
    place: Place | None
    building: Named


async def _resolve(session: AsyncSession, address: str) -> _Target | None:
    place = await find_floor(session, address)
    if place is not None:
        return _Target(ScopeKind.FLOOR, place.floor_id, place.community.id, place, place.building)
    building = await repo.building_by_code(session, address.strip())
    if building is None:
        return None
    named = Named(building.id, building.code, building.name_zh, building.name_en)
    return _Target(ScopeKind.BUILDING, building.id, building.community_id, None, named)


def _may_bind(actor: Actor, target: _Target) -> bool:
    # The floor's own leader, or a counsellor of the community the floor or building is in.
    if (
        target.kind is ScopeKind.FLOOR
        and Grant(Role.FLOOR_LEADER, ScopeKind.FLOOR, target.scope_id) in actor.grants
    ):
        return True
    return Grant(Role.COUNSELLOR, ScopeKind.COMMUNITY, target.community_id) in actor.grants


async def bind(
    session: AsyncSession,
    actor: Actor,
    *,
    chat_id: int,
    title: str,
    address: str | None,
    now: datetime,
) -> BindResult:
    """Bind a group chat to a floor (``B1-3``) or a building (``B1``), if the actor may.

    Without an address, a floor leader of exactly one floor binds to that floor.
    """
    if address:
        target = await _resolve(session, address)
        if target is None:
            return BindResult(BindOutcome.UNKNOWN_TARGET)
    else:
        floors = [g.scope_id for g in actor.grants if g.role == Role.FLOOR_LEADER]
        if len(floors) != 1:
            return BindResult(BindOutcome.NEED_TARGET)
        place = await repo.place_of_floor(session, floors[0])
        if place is None:
            return BindResult(BindOutcome.NEED_TARGET)
        target = _Target(ScopeKind.FLOOR, place.floor_id, place.community.id, place, place.building)
    if not _may_bind(actor, target):
        return BindResult(BindOutcome.NOT_ALLOWED, target.place, target.building)

    chat = await session.scalar(select(GroupChat).where(GroupChat.chat_id == chat_id))
    if chat is None:
        chat = GroupChat(chat_id=chat_id)
        session.add(chat)
    chat.title = title[:255]
    chat.scope_kind = target.kind
    chat.scope_id = target.scope_id
    chat.bound_by_person_id = actor.person_id
    chat.bound_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_person_id=actor.person_id,
            action="group.bind",
            detail={"chat_id": chat_id, "scope": f"{target.kind}:{target.scope_id}"},
        )
    )
    return BindResult(BindOutcome.BOUND, target.place, target.building)


async def migrate(
    session: AsyncSession,
    old_chat_id: int,
    new_chat_id: int,
    *,
    now: datetime,
    claimed: Collection[int] = (),
) -> None:
    """A group became a supergroup, with a new chat id: its binding and the messages still
    waiting for it follow; ``claimed`` are outbox rows a sender gives back, refused in the old
    chat.

    Telegram tells of one upgrade in several ways (a service message in each chat, a refused
    send), in any order: the first moves the binding and leaves the audit row, the others find
    nothing more to move.
    """
    bound_again = await session.scalar(select(GroupChat.id).where(GroupChat.chat_id == new_chat_id))
    if bound_again is None:
        result = await session.execute(
            update(GroupChat)
            .where(GroupChat.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
            .returning(GroupChat.id)
        )
    else:
        # Someone bound the supergroup before the upgrade reached us: theirs is the newer word.
        result = await session.execute(
            delete(GroupChat).where(GroupChat.chat_id == old_chat_id).returning(GroupChat.id)
        )
    await outbox.move_chat(session, old_chat_id, new_chat_id, claimed=claimed)
    if result.scalar() is not None:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=None,
                action="group.migrate",
                detail={"from": old_chat_id, "to": new_chat_id},
            )
        )


async def bound_floor(session: AsyncSession, chat_id: int) -> Place | None:
    """The floor a group chat is bound to, if it is bound to a floor."""
    chat = await session.scalar(select(GroupChat).where(GroupChat.chat_id == chat_id))
    if chat is None or chat.scope_kind is not ScopeKind.FLOOR:
        return None
    return await repo.place_of_floor(session, chat.scope_id)
