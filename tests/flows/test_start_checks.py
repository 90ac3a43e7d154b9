"""A conversation's start checks run before its first question: a refusal says what the submit
would have said, and changes nothing, not even the unfinished conversation it would set aside."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime

from sqlalchemy import select

from assistant.storage.models import ConversationState, ConversationStatus
from tests.flows import campus
from tests.flows.test_engine_properties import NOW

HEAD = "T0004"  # workstation head of community C1
HEAD_TELEGRAM_ID = 4343
CLOSED = (
    "The call for community party-building projects is not open now. This year's call closed "
    "on Tue 15 Dec. The next call runs from Wed 1 Sep 2027 to Wed 15 Dec 2027."
)


def test_apply_outside_the_call_is_refused_before_its_first_question(
    empty_database_url: str,
) -> None:
    asyncio.run(campus.set_up(empty_database_url, {HEAD_TELEGRAM_ID: HEAD}, NOW))
    asyncio.run(_refused(empty_database_url))


async def _refused(url: str) -> None:
    engine = campus.load(url, now=NOW).engine
    async with campus.committed(url) as session:
        head = await campus.actor(session, HEAD_TELEGRAM_ID)
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
        started = await engine.start(session, head, HEAD_TELEGRAM_ID, apply, now=NOW, language="en")
        assert started.send[0].text.startswith("Your unfinished “Report a grid issue”")
    async with campus.committed(url) as session:
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
