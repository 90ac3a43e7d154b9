"""Who hears about trouble the bot cannot solve by itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import SCHOOL_SCOPE_ID, Language, Role, ScopeKind
from assistant.schedule import Failure, Report
from assistant.storage import outbox
from assistant.storage.models import Person, Priority, RoleAssignment, TelegramAccount
from assistant.texts import Texts, pick_language

# A report names this many failed firings; `assistant firings` lists them all.
_NAMED = 10


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


def firings_failed(texts: Texts, default: Language) -> Report:
    """The scheduler's report: tell every admin, in their language, which firings failed for
    good and why."""

    async def report(session: AsyncSession, failures: Sequence[Failure], now: datetime) -> None:
        named = [
            {
                "key": f.key,
                "kind": f.kind,
                "attempts": f.attempts,
                "error": f.error.strip().splitlines()[-1][:300],
            }
            for f in failures[:_NAMED]
        ]
        for chat_id, chosen in await admin_chats(session):
            text = texts.render(
                pick_language(chosen, default),
                "admin_firings_failed",
                count=len(failures),
                named=named,
            )
            outbox.enqueue(
                session,
                chat_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}},
                priority=Priority.BULK,
                now=now,
            )

    return report
