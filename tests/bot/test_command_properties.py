"""Whatever a person types after a command (any text, emoji, very long, half a surrogate pair, a
NUL): an answer, never the apology for an error, and no update left unhandled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from assistant.app import Edge
from assistant.storage.db import Database
from assistant.storage.models import InboxStatus, InboxUpdate, OutboxMessage
from tests.bot.conftest import Chat
from tests.bot.test_identity import STUDENT, linked
from tests.flows.test_engine_properties import human_text

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
T = TypeVar("T")

# The apology for an error (error.j2), in either language.
APOLOGIES = ("something went wrong", "出了问题")
# The commands that take an argument, and some that take none (their argument is ignored). The
# conversations' commands are left out: they answer with more than one message.
COMMANDS = (
    "/start",
    "/leaders",
    "/lang",
    "/bind",
    "/help",
    "/me",
    "/mine",
    "/pending",
    "/stars",
    "/activities",
    "/myactivities",
    "/duty",
    "/onduty",
    "/talks",
    "/meetings",
)


async def test_any_argument_to_any_command_gets_an_answer(
    edge: Edge, campus: Database, person: Person, invite: Invite
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    stranger = person("Stranger", language_code="en")
    loop = asyncio.get_running_loop()

    def on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
        # Hypothesis runs the examples on a thread of their own; the bot stays on the loop.
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    @given(
        command=st.sampled_from(COMMANDS),
        argument=human_text,
        known=st.booleans(),
    )
    @settings(max_examples=60, deadline=None)
    # Where a typed argument meets the store or a hash, every run.
    @example(command="/start", argument="\ud800", known=False)
    @example(command="/start", argument="token\udfff", known=True)
    @example(command="/start", argument="\x00", known=False)
    @example(command="/leaders", argument="B1-3\x00", known=True)
    @example(command="/bind", argument="\ude00", known=True)
    def typed(command: str, argument: str, known: bool) -> None:
        chat = student if known else stranger
        answer = on_loop(chat.say(f"{command} {argument}"))
        assert not any(apology in answer for apology in APOLOGIES)

    await asyncio.to_thread(typed)
    async with campus.unit_of_work() as session:
        updates = select(func.count()).select_from(InboxUpdate)
        assert await session.scalar(updates.where(InboxUpdate.status != InboxStatus.DONE)) == 0
        # Every answer went out at the first try: none echoed what Telegram cannot be sent.
        failed = select(func.count()).select_from(OutboxMessage)
        assert await session.scalar(failed.where(OutboxMessage.last_error.is_not(None))) == 0
