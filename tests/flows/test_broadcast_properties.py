"""Whatever people type or forge while sending a broadcast, or pressing Cancel: a re-prompt or a
clear refusal, never a crash, never a message outside the sender's own places, never a cancel by
anyone but the sender."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.broadcasts import pressed_broadcast
from assistant.domain import Actor, BroadcastStatus, ScopeKind
from assistant.flows.engine import Engine, FlowContext, Outcome, Refused
from assistant.flows.spec import Conversation
from assistant.services.broadcasts import CANCEL_SURE, Broadcaster, Cancelling
from assistant.storage import repo
from assistant.storage.models import (
    AuditEntry,
    Broadcast,
    ConversationState,
    ConversationStatus,
    GroupChat,
    OutboxMessage,
)
from assistant.wellformed import well_formed
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
# The C1 counsellor sends; others may forge presses of their Cancel button.
COUNSELLOR = 5001
OTHERS = {5002: "T0004", 5003: "T0016", 5004: "2023010001", 5005: "T0027"}
# People living in community C1 (building B1) and one of C2, linked: who may receive.
C1_RESIDENTS = {5101: "2022010002", 5102: "2022010003", 5103: "2023010008"}
C2_RESIDENT = {5201: "2024010006"}
PEOPLE = {COUNSELLOR: "T0005", **OTHERS, **C1_RESIDENTS, **C2_RESIDENT}
# Group chats bound to floor B1-3 (in C1) and floor B2-1 (in C2).
GROUPS = {-100: ("B1", 3), -200: ("B2", 1)}
IN_C1 = {*C1_RESIDENTS, 5004, -100, COUNSELLOR}  # 5004 lives in B1-101
CODES = ["B1-3", "B2-1", "B1", "B2", "C1", "C2", "BUS", "B1-G1", "B2-G1", "", "B9-9", "x:y"]


async def _setup(url: str) -> None:
    async with campus.committed(url) as session:
        ids = await campus.link(session, PEOPLE, NOW)
        for chat_id, (building_code, number) in GROUPS.items():
            building = await repo.building_by_code(session, building_code)
            assert building is not None
            floor = await repo.floor_by_number(session, building.id, number)
            assert floor is not None
            session.add(
                GroupChat(
                    chat_id=chat_id,
                    title=f"{building_code}-{number}",
                    scope_kind=ScopeKind.FLOOR,
                    scope_id=floor.id,
                    bound_by_person_id=ids[COUNSELLOR],
                    bound_at=NOW,
                )
            )


def _files(url: str) -> tuple[Engine, Broadcaster]:
    loaded = campus.load(url)
    return loaded.engine, loaded.service(Broadcaster)


async def _walk_to(engine: Engine, session: AsyncSession, steps: int) -> tuple[Outcome, Actor]:
    """Start /broadcast as the counsellor and give ``steps`` valid answers (5: at the summary)."""
    actor = await campus.actor(session, COUNSELLOR)
    conversation = engine.for_command("broadcast")
    assert conversation is not None
    outcome = await engine.start(session, actor, COUNSELLOR, conversation, now=NOW, language="en")
    for _ in range(steps):
        screen = outcome.send[-1]
        choices = [b for row in screen.buttons for b in row if b.data.split(":")[3] == "o"]
        if choices:
            outcome = await engine.press(
                session, actor, COUNSELLOR, choices[0].data, now=NOW, language="en"
            )
        else:
            typed = await engine.text(
                session, actor, COUNSELLOR, "Water is off tonight", now=NOW, language="en"
            )
            assert typed is not None
            outcome = typed
    return outcome, actor


async def _recipients(session: AsyncSession) -> set[int]:
    rows = await session.scalars(
        select(OutboxMessage.chat_id).where(OutboxMessage.ref.like("bc:%"))
    )
    return set(rows.all())


def test_any_text_and_any_button_data_at_any_step_of_a_broadcast(
    empty_database_url: str,
) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, _ = _files(empty_database_url)

    @given(steps=st.integers(0, 5), text=human_text, data=forged_data, submit=st.booleans())
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str, submit: bool) -> None:
        asyncio.run(_exercise(engine, empty_database_url, steps, text, data, submit))

    example()


async def _exercise(
    engine: Engine, url: str, steps: int, text: str, data: str, submit: bool
) -> None:
    async with campus.discarded(url) as session:
        _, actor = await _walk_to(engine, session, steps)
        screen = await campus.type_and_press(engine, session, actor, COUNSELLOR, text, data, NOW)
        if submit:
            await campus.submit_all(engine, session, actor, COUNSELLOR, screen, NOW)
        states = (await session.scalars(select(ConversationState.status))).all()
        assert states.count(ConversationStatus.ACTIVE) <= 1
        count = await session.scalar(select(func.count()).select_from(Broadcast))
        assert (count or 0) <= 1
        assert await _recipients(session) <= IN_C1


def test_forged_answers_never_reach_beyond_the_senders_places(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, broadcaster = _files(empty_database_url)
    conversation = engine.conversations["broadcast"]

    @given(
        kind=st.sampled_from([*(k.value for k in ScopeKind), "", "planet"]),
        scope=st.one_of(st.sampled_from(CODES), st.text(max_size=20)),
        who=st.sampled_from(["everyone", "party_members", "leaders", "", "admins"]),
        channels=st.sampled_from(["people", "groups", "both", "", "fax"]),
        # An action gets its answers from the engine, which keeps typed text storable.
        text=human_text.map(well_formed),
    )
    @settings(max_examples=80, deadline=None)
    def example(kind: str, scope: str, who: str, channels: str, text: str) -> None:
        answers = {"scope_kind": kind, "scope": scope, "who": who, "channels": channels}
        asyncio.run(
            _submit(broadcaster, conversation, empty_database_url, {**answers, "text": text})
        )

    example()


async def _submit(
    broadcaster: Broadcaster, conversation: Conversation, url: str, answers: dict[str, str]
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, COUNSELLOR)
        context = FlowContext(session, actor, COUNSELLOR, answers, NOW, "en", conversation)
        try:
            sent = await broadcaster.submit(context)
        except Refused as refusal:
            assert refusal.template in (
                "broadcast/not_yours",
                "broadcast/nobody",
                "broadcast/incomplete",
            )
            assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
        else:
            assert sent.template == "broadcast/sent"
            [broadcast] = (await session.scalars(select(Broadcast))).all()
            assert broadcast.total >= 1 and broadcast.status is BroadcastStatus.SENDING
        assert await _recipients(session) <= IN_C1


def cancel_data(broadcast_id: int) -> st.SearchStrategy[str]:
    """Callback data a Cancel's "yes" may come back with: the real one, forged ones, anything."""
    return st.one_of(
        st.just(f"bcy:{broadcast_id}"),
        st.text(max_size=20).map(lambda text: f"bcy:{text}"),
        st.integers(-5, 10**12).map(lambda number: f"bcy:{number}"),
        st.sampled_from(["bcy:²", "bcy:٣", "bcy:", "bcy:1:x"]),
        st.text(max_size=64),
    )


def test_any_cancel_data_from_anyone_is_checked_on_the_server(empty_database_url: str) -> None:
    asyncio.run(_setup(empty_database_url))
    engine, broadcaster = _files(empty_database_url)
    broadcast_id = asyncio.run(_sent(engine, empty_database_url))

    @given(presser=st.sampled_from([COUNSELLOR, *OTHERS]), data=cancel_data(broadcast_id))
    @settings(max_examples=80, deadline=None)
    def example(presser: int, data: str) -> None:
        asyncio.run(_cancel(broadcaster, empty_database_url, presser, data, broadcast_id))

    example()


async def _sent(engine: Engine, url: str) -> int:
    """The counsellor's broadcast, committed, for presses to name; returns its id."""
    async with campus.committed(url) as session:
        outcome, actor = await _walk_to(engine, session, 5)
        [submit] = [b for row in outcome.send[-1].buttons for b in row if b.data.endswith(":s:")]
        await engine.press(session, actor, COUNSELLOR, submit.data, now=NOW, language="en")
        [broadcast] = (await session.scalars(select(Broadcast))).all()
        return broadcast.id


async def _cancel(
    broadcaster: Broadcaster, url: str, presser: int, data: str, broadcast_id: int
) -> None:
    async with campus.discarded(url) as session:
        actor = await campus.actor(session, presser)
        named = pressed_broadcast(CANCEL_SURE, data)
        result = (
            Cancelling.GONE
            if named is None
            else await broadcaster.cancel(session, actor, named, now=NOW)
        )
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        refusals = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "broadcast.refused")
            )
        ).all()
        if named != broadcast_id:
            assert result is Cancelling.GONE
            assert broadcast.status is BroadcastStatus.SENDING and refusals == []
        elif presser == COUNSELLOR:
            assert result is Cancelling.DONE and refusals == []
            assert broadcast.status is BroadcastStatus.CANCELLED
        else:
            assert result is Cancelling.NOT_ALLOWED and len(refusals) == 1
            assert broadcast.status is BroadcastStatus.SENDING
