"""Projects, whatever people type or press: every step of the application, the granted budget,
and the expert panel's score buttons answer with a re-prompt, a refusal or a step forward."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.app import Files
from assistant.domain import Actor, RequestKind, RequestStatus
from assistant.flows.engine import Outcome
from assistant.services import projects
from assistant.services.approvals import asking
from assistant.storage.models import (
    AuditEntry,
    ConversationState,
    ConversationStatus,
    ProjectScore,
    Request,
)
from tests.flows import campus
from tests.flows.test_engine_properties import forged_data, human_text

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
# Telegram ids of the people acting, by their staff or student number.
PEOPLE = {
    5005: "T0005",  # counsellor of C1: applies
    5016: "T0016",  # Organisation Department
    5001: "T0001",  # college party leader of the Business School
    5022: "T0022",  # expert
    5023: "T0023",  # expert
    5100: "2023010001",  # student
}
APPLICANT, ORG, EXPERTS = 5005, 5016, (5022, 5023)
VALID = [
    "Red Service Team",
    "Liu (lead), Zhu, Wang",
    "Party members repair phones and computers for students.",
    "September: recruit; October to December: a repair stall every Saturday.",
    "15000",
]
DETAIL = {
    "title": "Red Service Team",
    "team": "Liu, Zhu",
    "summary": "Repairs for students",
    "plan": "Saturdays from October",
    "budget": 15000.0,
    "attachment": None,
    "community": {"id": 1, "code": "C1", "zh": "第一社区", "en": "Community 1"},
    "college": {"id": 1, "code": "BUS", "zh": "商学院", "en": "Business School"},
}
numbers = st.one_of(
    human_text,
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0.001", "15000", "15000.01", "20000", "1e5", "1,500", "７"]),
)


def _files(url: str) -> Files:
    asyncio.run(campus.set_up(url, PEOPLE, NOW))
    return campus.load(url).files


def _review(files: Files) -> projects.Review:
    review = files.approvals.workflows[RequestKind.PROJECT]
    assert isinstance(review, projects.Review)
    return review


async def _discarded(url: str, body: Callable[[AsyncSession], Awaitable[None]]) -> None:
    async with campus.discarded(url) as session:
        await body(session)


async def _current(session: AsyncSession, actor: Actor) -> ConversationState | None:
    return await session.scalar(
        select(ConversationState).where(
            ConversationState.person_id == actor.person_id,
            ConversationState.status == ConversationStatus.ACTIVE,
        )
    )


def _answered(outcome: Outcome) -> None:
    assert outcome.send or outcome.toast is not None or outcome.edit is not None
    assert all(screen.text.strip() for screen in outcome.send)


def test_any_input_at_any_step_of_an_application(empty_database_url: str) -> None:
    files = _files(empty_database_url)
    engine = files.engine

    @given(
        steps=st.integers(0, 6),
        text=human_text,
        data=forged_data,
        op=st.sampled_from([*"obxpmdyksunhg", "zz"]),
        arg=st.text(max_size=8),
    )
    @settings(max_examples=60, deadline=None)
    def example(steps: int, text: str, data: str, op: str, arg: str) -> None:
        async def body(session: AsyncSession) -> None:
            actor = await campus.actor(session, APPLICANT)
            conversation = engine.for_command("apply")
            assert conversation is not None
            outcome = await engine.start(
                session, actor, APPLICANT, conversation, now=NOW, language="en"
            )
            for answer in VALID[:steps]:
                outcome = (
                    await engine.text(session, actor, APPLICANT, answer, now=NOW, language="en")
                    or Outcome()
                )
            if steps > len(VALID):
                skip = [b for row in outcome.send[-1].buttons for b in row if ":k:" in b.data]
                outcome = await engine.press(
                    session, actor, APPLICANT, skip[0].data, now=NOW, language="en"
                )
            assert "Please confirm" in outcome.send[-1].text or steps < 6
            typed = await engine.text(session, actor, APPLICANT, text, now=NOW, language="en")
            assert typed is not None
            _answered(typed)
            photo = await engine.photo(session, actor, APPLICANT, text, now=NOW, language="en")
            assert photo is not None
            _answered(photo)
            _answered(await engine.press(session, actor, APPLICANT, data, now=NOW, language="en"))
            # A press with the live conversation's own id and version, any operation.
            state = await _current(session, actor)
            if state is not None:
                live = f"cv:{state.id}:{state.version}:{op}:{arg}"
                _answered(
                    await engine.press(session, actor, APPLICANT, live, now=NOW, language="en")
                )
            for request in (await session.scalars(select(Request))).all():
                # Whatever got submitted went through every check.
                assert 0 < request.detail["budget"] <= 20000
                assert 4 <= len(request.detail["title"]) <= 100
                assert request.stage == "college" and request.status is RequestStatus.PENDING

        asyncio.run(_discarded(empty_database_url, body))

    example()


def test_any_granted_budget_and_any_press_in_the_grant_conversation(
    empty_database_url: str,
) -> None:
    files = _files(empty_database_url)
    engine, approvals = files.engine, files.approvals

    @given(budget=numbers, data=forged_data, op=st.sampled_from([*"bkxsun"]))
    @settings(max_examples=60, deadline=None)
    def example(budget: str, data: str, op: str) -> None:
        async def body(session: AsyncSession) -> None:
            applicant, org = (
                await campus.actor(session, APPLICANT),
                await campus.actor(session, ORG),
            )
            request = await approvals.open(
                session,
                kind=RequestKind.PROJECT,
                requester=applicant,
                title=DETAIL["title"],
                detail=DETAIL,
                stage=projects.DECISION_STAGE,
                now=NOW,
            )
            preset = asking(request, request.stage_no)
            grant = engine.conversations["project_grant"]
            await engine.start(session, org, ORG, grant, now=NOW, language="en", preset=preset)
            typed = await engine.text(session, org, ORG, budget, now=NOW, language="en")
            assert typed is not None
            _answered(typed)
            _answered(await engine.press(session, org, ORG, data, now=NOW, language="en"))
            state = await _current(session, org)
            if state is not None:
                live = f"cv:{state.id}:{state.version}:{op}:"
                _answered(await engine.press(session, org, ORG, live, now=NOW, language="en"))
            await session.refresh(request)
            if request.status is RequestStatus.APPROVED:
                assert 0 < request.detail["granted"] <= DETAIL["budget"]
            else:
                assert request.status is RequestStatus.PENDING
                assert "granted" not in request.detail

        asyncio.run(_discarded(empty_database_url, body))

    example()


presses = st.lists(
    st.tuples(
        st.sampled_from(sorted(PEOPLE)),
        st.integers(-1, 4),
        st.integers(-1, 7),
        st.booleans(),
    ),
    max_size=12,
)
# The whole panel scoring first (so that later presses meet a closed panel), then anything.
complete = st.lists(st.integers(1, 5), min_size=6, max_size=6).map(
    lambda scores: [(EXPERTS[i // 3], i % 3, score, False) for i, score in enumerate(scores)]
)
presses = st.one_of(presses, st.tuples(complete, presses).map(lambda both: both[0] + both[1]))


def test_any_presses_of_score_buttons_by_anyone(empty_database_url: str) -> None:
    files = _files(empty_database_url)
    approvals, review = files.approvals, _review(files)

    @given(presses=presses)
    @settings(max_examples=40, deadline=None)
    def example(presses: list[tuple[int, int, int, bool]]) -> None:
        async def body(session: AsyncSession) -> None:
            applicant, org = (
                await campus.actor(session, APPLICANT),
                await campus.actor(session, ORG),
            )
            request = await approvals.open(
                session,
                kind=RequestKind.PROJECT,
                requester=applicant,
                title=DETAIL["title"],
                detail=DETAIL,
                stage=projects.ORG_STAGE,
                now=NOW,
            )
            await approvals.decide(session, org, request.id, 1, approve=True, now=NOW)
            assert request.stage == "experts"
            for telegram_id, criterion, value, other_request in presses:
                actor = await campus.actor(session, telegram_id)
                target = request.id + 1 if other_request else request.id
                result = await review.score(
                    session, actor, target, criterion, value, language="zh-CN", now=NOW
                )
                on_panel = telegram_id in EXPERTS and not other_request
                if result.handling is projects.Scoring.DONE:
                    assert on_panel and value in projects.SCORES
                if not on_panel:
                    assert result.handling in (
                        projects.Scoring.NOT_ALLOWED,
                        projects.Scoring.STALE,
                    )
                if result.card is not None:
                    assert result.card.text.strip()
            rows = (await session.scalars(select(ProjectScore))).all()
            assert len(rows) == len(EXPERTS)
            for row in rows:
                assert set(row.scores.values()) <= set(projects.SCORES)
                # Criteria are scored in order, and the total exists once all are.
                assert list(row.scores) == list(review.criteria[: len(row.scores)])
                assert (row.total is not None) == (len(row.scores) == len(review.criteria))
            finished = all(row.total is not None for row in rows)
            assert request.stage == ("decision" if finished else "experts")
            if finished:
                average = sum(float(row.total or 0) for row in rows) / len(rows)
                assert request.detail["score"]["average"] == round(average, 2)
            # Every press on this project by someone not on its panel was refused and recorded.
            forged = [p for p in presses if p[0] not in EXPERTS and not p[3]]
            assert len(await _refusals(session)) == len(forged)

        asyncio.run(_discarded(empty_database_url, body))

    example()


async def _refusals(session: AsyncSession) -> list[AuditEntry]:
    return list(
        (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "project.refused"))
        ).all()
    )
