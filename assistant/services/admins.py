"""Who hears about trouble the bot cannot solve by itself."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import SCHOOL_SCOPE_ID, Role, ScopeKind
from assistant.storage.models import Person, RoleAssignment, TelegramAccount


async def admin_chats(session: AsyncSession) -> list[tuple[int, str | None]]:
    """(Telegram id, chosen language) of every linked, active administrator."""
    rows = await session.execute(
        select(TelegramAccount.telegram_user_id, TelegramAccount.language)
        .join(Person, Person.id == TelegramAccount.person_id)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(
            Person.active,
            RoleAssignment.role == Role.ADMIN,
            RoleAssignment.scope_kind == ScopeKind.SCHOOL,
            RoleAssignment.scope_id == SCHOOL_SCOPE_ID,
        )
        .order_by(TelegramAccount.telegram_user_id)
    )
    return [(chat_id, language) for chat_id, language in rows.all()]
