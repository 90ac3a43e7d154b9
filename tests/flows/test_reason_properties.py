"""The reason a rejecting approver is asked for: whatever is typed or forged, a re-prompt, the
summary, or a clear refusal; never a crash, and nothing decided for a request that is not theirs."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from assistant.domain import reference
from assistant.flows.engine import Engine
from assistant.storage.models import RequestDecision
from tests.flows import campus
from tests.flows.test_engine_properties import NOW, forged_data, human_text

TELEGRAM_ID = 4343
# The one person linked: a counsellor.
PEOPLE = {TELEGRAM_ID: "T0005"}


def test_any_reason_and_any_button_data(empty_database_url: str) -> None:
    asyncio.run(campus.set_up(empty_database_url, PEOPLE, NOW))
    engine = campus.load(empty_database_url).engine

    @given(
        request=st.integers(0, 2**31 - 1),
        reason=human_text,
        data=forged_data,
        submit=st.booleans(),
    )
    @settings(max_examples=40, deadline=None)
    def example(request: int, reason: str, data: str, submit: bool) -> None:
        asyncio.run(_exercise(engine, empty_database_url, request, reason, data, submit))

    example()


async def _exercise(
    engine: Engine, url: str, request: int, reason: str, data: str, submit: bool
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, TELEGRAM_ID)
        conversation = engine.conversations["approval_reason"]
        started = await engine.start(
            session,
            actor,
            TELEGRAM_ID,
            conversation,
            now=NOW,
            language="en",
            preset={
                "request": request,
                "stage_no": 1,
                "kind": "project",
                "reference": reference("project", request),
            },
        )
        assert started.send
        typed = await engine.text(session, actor, TELEGRAM_ID, reason, now=NOW, language="en")
        assert typed is not None and all(screen.text.strip() for screen in typed.send)
        screen = typed.send[-1]
        submits = [b for row in screen.buttons for b in row if b.data.split(":")[3] == "s"]
        if submit and submits:
            done = await engine.press(
                session, actor, TELEGRAM_ID, submits[0].data, now=NOW, language="en"
            )
            # No such request: a clear refusal, and nothing decided.
            assert done.send and "already been decided" in done.send[-1].text
        pressed = await engine.press(session, actor, TELEGRAM_ID, data, now=NOW, language="en")
        assert pressed.send or pressed.toast is not None or pressed.edit is not None
        assert await session.scalar(select(func.count()).select_from(RequestDecision)) == 0
