"""A conversation's start checks run before its first question: a refusal says what the submit
would have said, and changes nothing, not even the unfinished conversation it would set aside."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime

from sqlalchemy import select

from assistant.app import load_files
from assistant.config import load_settings
from assistant.services import identity
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import ConversationState, ConversationStatus, TelegramAccount
from assistant.texts import Texts
from tests.flows.test_engine_properties import NOW, _setup

HEAD = "T0004"  # workstation head of community C1
HEAD_TELEGRAM_ID = 4343
CLOSED = (
    "The call for community party-building projects is not open now. This year's call closed "
    "on Tue 15 Dec. The next call runs from Wed 1 Sep 2027 to Wed 15 Dec 2027."
)


def test_apply_outside_the_call_is_refused_before_its_first_question(
    empty_database_url: str,
) -> None:
    asyncio.run(_setup(empty_database_url))
    asyncio.run(_refused(empty_database_url))


async def _refused(url: str) -> None:
    base = load_settings(database_url=url)
    engine = load_files(
        base, Texts(base.conversations_dir, campus=base.tz, clock=lambda: NOW)
    ).engine
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            person = await repo.person_by_number(session, HEAD)
            assert person is not None
            session.add(
                TelegramAccount(
                    person_id=person.id, telegram_user_id=HEAD_TELEGRAM_ID, linked_at=NOW
                )
            )
        async with db.unit_of_work() as session:
            head = await identity.actor_for(session, HEAD_TELEGRAM_ID)
            assert head is not None
            report, apply = engine.for_command("report"), engine.for_command("apply")
            assert report is not None and apply is not None
            await engine.start(session, head, HEAD_TELEGRAM_ID, report, now=NOW, language="en")
            # 16 December, campus time: the call closed yesterday.
            after = datetime(2026, 12, 16, 1, 0, tzinfo=UTC)
            refused = await engine.start(
                session, head, HEAD_TELEGRAM_ID, apply, now=after, language="en"
            )
            assert [html.unescape(screen.text) for screen in refused.send] == [CLOSED]
            assert refused.settle == [] and refused.send[0].buttons == ()
            running = await session.scalar(
                select(ConversationState.conversation).where(
                    ConversationState.status == ConversationStatus.ACTIVE
                )
            )
            assert running == "report_issue"
            # Open again in September: the same start takes the place of the unfinished report.
            started = await engine.start(
                session, head, HEAD_TELEGRAM_ID, apply, now=NOW, language="en"
            )
            assert started.send[0].text.startswith("Your unfinished “Report a grid issue”")
        async with db.unit_of_work() as session:
            states = (
                await session.execute(
                    select(ConversationState.conversation, ConversationState.status).order_by(
                        ConversationState.id
                    )
                )
            ).all()
        assert [tuple(row) for row in states] == [
            ("report_issue", ConversationStatus.CANCELLED),
            ("apply_project", ConversationStatus.ACTIVE),
        ]
    finally:
        await db.dispose()
