"""What scheduled firings do: for now, a message from a template to chosen people.

A firing of kind ``message`` carries ``template``, ``variables`` and ``person_ids``; each person
with a linked account gets the template in their own language through the outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.scheduler import Handler
from assistant.config import Language
from assistant.services.kit import Kit, Names
from assistant.storage import outbox
from assistant.storage.models import Firing, Priority, TelegramAccount
from assistant.texts import Texts, pick_language


def names(kit: Kit) -> Names:
    """The ``message`` firing."""
    return Names(firings={"message": message(kit.texts, kit.default)})


def message(texts: Texts, default: Language) -> Handler:
    """Queue the firing's template to each of its people, in each one's language."""

    async def fire(session: AsyncSession, firing: Firing, now: datetime) -> None:
        payload = firing.payload
        accounts = await session.execute(
            select(TelegramAccount.telegram_user_id, TelegramAccount.language).where(
                TelegramAccount.person_id.in_(payload["person_ids"])
            )
        )
        for chat_id, language in accounts:
            text = texts.render(
                pick_language(language, default), payload["template"], **payload["variables"]
            )
            outbox.enqueue(
                session,
                chat_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=now,
            )

    return fire
