"""Who hears about trouble the bot cannot solve by itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.storage import repo
from assistant.storage.models import SCHOOL_SCOPE_ID, Role, ScopeKind


async def admin_chat_ids(session: AsyncSession) -> list[int]:
    """The Telegram ids of the linked administrators."""
    found = await repo.holders(session, [(Role.ADMIN, ScopeKind.SCHOOL, SCHOOL_SCOPE_ID)])
    return [h.telegram_user_id for h in found if h.telegram_user_id is not None]
