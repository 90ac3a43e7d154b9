"""Conversations left unfinished: when their time is up they expire, and the person is told.

Without this sweep a person would only find out on their next message; a restart changes
nothing, since the expiry time is stored with the conversation. The question left waiting loses
its buttons, which could only say "expired" any more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Language
from assistant.flows.engine import settle_all
from assistant.schedule import Job
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import ConversationState, ConversationStatus, Priority
from assistant.texts import Texts, pick_language


def names(kit: Kit) -> Names:
    """The sweep that expires conversations past their time."""
    return Names(jobs={"conversations.expire": expire(kit.texts, kit.default)})


def expire(texts: Texts, default: Language) -> Job:
    """Mark every active conversation past its time as expired and tell its person."""

    async def sweep(session: AsyncSession, now: datetime) -> int:
        due = (
            await session.scalars(
                select(ConversationState)
                .where(
                    ConversationState.status == ConversationStatus.ACTIVE,
                    ConversationState.expires_at <= now,
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
        for state in due:
            state.status, state.updated_at = ConversationStatus.EXPIRED, now
            for settled in settle_all(state):
                for row in await outbox.by_ref(session, settled.ref):
                    if row.ref == settled.ref and row.method == "sendMessage":
                        payload = {
                            "text": settled.text,
                            "parse_mode": "HTML",
                            "link_preview_options": {"is_disabled": True},
                        }
                        outbox.rewrite(session, row, payload, now=now)
            # Conversations run in private chats, whose id is the person's Telegram id.
            language = pick_language(await repo.language_of(session, state.chat_id), default)
            outbox.enqueue(
                session,
                state.chat_id,
                "sendMessage",
                {"text": texts.render(language, "flow_expired"), "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=now,
            )
        return len(due)

    return sweep
