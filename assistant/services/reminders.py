"""What scheduled firings do: for now, a message from a template to chosen people.

A firing of kind ``message`` carries ``template``, ``variables`` and ``person_ids``; each person
with a linked account gets the template in their own language through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        wanted = {person for firing in due for person in firing.payload["person_ids"]}
        rows = await session.execute(
            select(
                TelegramAccount.person_id,
                TelegramAccount.telegram_user_id,
                TelegramAccount.language,
            ).where(TelegramAccount.person_id.in_(wanted))
        )
        accounts = {person: (chat_id, language) for person, chat_id, language in rows}
        for firing in due:
            payload = firing.payload
            for person in payload["person_ids"]:
                if person not in accounts:
                    continue  # not linked to Telegram (yet): nobody to tell
                chat_id, language = accounts[person]
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
