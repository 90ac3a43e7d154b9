"""Approvals (审批): requests that wait for a person the rules name, decided from inline cards.

A request's current stage names one role at one scope (the counsellors of this community, the
Organisation Department). Everyone holding it gets a card through the outbox; the card's buttons
carry only the request, the stage and the action, so whoever presses is checked again here: the
access rules for ``approval.<kind>`` and the stage's role and scope among their own grants. A
forwarded card or a forged press by anyone else is refused and audited. The first decision of a
stage wins (and a unique row per stage makes sure of it); every card of the stage is then
rewritten to say who decided, and the requester is told.

What a decision does next belongs to the kind of request: a :class:`Workflow` moves a booking to
confirmed, or a project on to its next stage.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from markupsafe import Markup
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import APPROVAL
from assistant.domain import Actor, Grant, Language, RequestKind, RequestStatus, Role, ScopeKind
from assistant.rules import Rules
from assistant.services import people
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    OutboxMessage,
    Person,
    Priority,
    Request,
    RequestDecision,
)
from assistant.texts import Texts, pick_language

APPROVE, REJECT = "a", "r"


@dataclass(frozen=True)
class Stage:
    """Who decides a request next: a role at a scope, and the rule that said so."""

    name: str
    role: Role
    scope_kind: ScopeKind
    scope_id: int
    routed_by: str = ""
    # Approving at this stage asks for more first (a granted budget): that conversation's id.
    approve_asks: str | None = None
    # The stage is not decided from approval cards (experts score instead).
    cards: bool = True


class Workflow(Protocol):
    """What happens to one kind of request when its current stage is decided."""

    async def approved(
        self, session: AsyncSession, request: Request, now: datetime
    ) -> Stage | None:
        """The next stage after an approval, or None when the request is now approved."""

    async def rejected(self, session: AsyncSession, request: Request, now: datetime) -> None:
        """Undo what the request was holding (a booked slot)."""

    def stage(self, request: Request) -> Stage:
        """The current stage of ``request`` as its workflow defines it."""


class Handling(enum.StrEnum):
    """What a press of an approval button did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    ASK = "ask"


@dataclass(frozen=True)
class Result:
    """The outcome of a press or a decision, and the request it was about."""

    handling: Handling
    request: Request | None = None
    # Set with Handling.ASK: the conversation to start (a reason, a budget).
    conversation: str | None = None


def grant_of(request: Request) -> Grant | None:
    """The grant that lets a person decide the request's current stage."""
    if request.approver_role is None or request.approver_scope_kind is None:
        return None
    assert request.approver_scope_id is not None
    return Grant(request.approver_role, request.approver_scope_kind, request.approver_scope_id)


class Approvals:
    """Opens requests, sends their cards, and takes decisions on them."""

    def __init__(
        self,
        rules: Rules,
        texts: Texts,
        default: Language,
        workflows: Mapping[RequestKind, Workflow],
    ) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.workflows = dict(workflows)

    # Opening and moving ------------------------------------------------------------------------

    async def open(
        self,
        session: AsyncSession,
        *,
        kind: RequestKind,
        requester: Actor,
        title: str,
        detail: Mapping[str, Any],
        stage: Stage,
        now: datetime,
    ) -> Request:
        """Store a new request at its first stage and send the stage's cards."""
        request = Request(
            kind=kind,
            requester_person_id=requester.person_id,
            title=title[:200],
            status=RequestStatus.PENDING,
            stage_no=0,
            stage="",
            detail=dict(detail),
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        await self.move_to(session, request, stage, now=now)
        return request

    async def move_to(
        self, session: AsyncSession, request: Request, stage: Stage, *, now: datetime
    ) -> None:
        """Put ``request`` at ``stage`` and send that stage's cards (unless it has none)."""
        request.stage = stage.name
        request.stage_no += 1
        request.approver_role = stage.role
        request.approver_scope_kind = stage.scope_kind
        request.approver_scope_id = stage.scope_id
        request.routed_by = stage.routed_by
        request.updated_at = now
        await session.flush()
        if stage.cards:
            await self.send_cards(session, request, now=now)

    async def send_cards(self, session: AsyncSession, request: Request, *, now: datetime) -> int:
        """Queue a card of the current stage to each of its approvers; returns how many."""
        grant = grant_of(request)
        assert grant is not None
        requester = await session.get(Person, request.requester_person_id)
        assert requester is not None
        sent = 0
        for holder in await repo.holders(session, [(grant.role, grant.scope_kind, grant.scope_id)]):
            if holder.telegram_user_id is None or holder.person_id == requester.id:
                continue
            language = pick_language(holder.language, self.default)
            outbox.enqueue(
                session,
                holder.telegram_user_id,
                "sendMessage",
                self.card(language, request, requester.name),
                priority=Priority.BULK,
                now=now,
                ref=_ref(request),
            )
            sent += 1
        return sent

    def card(
        self,
        language: Language,
        request: Request,
        requester: str,
        decision: RequestDecision | None = None,
        decided_by: str | None = None,
    ) -> dict[str, Any]:
        """The card of ``request``: its summary, and Approve / Reject until someone decides."""
        payload: dict[str, Any] = {
            "text": self.texts.render(
                language,
                "approval_card",
                request=request,
                requester=requester,
                body=self._body(language, request),
                decision=decision,
                decided_by=decided_by,
            ),
            "parse_mode": "HTML",
        }
        if decision is None and request.status is RequestStatus.PENDING:
            payload["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {
                            "text": self.texts.render(language, f"approval_button_{action}"),
                            "callback_data": APPROVAL.pack(
                                request=request.id, stage=request.stage_no, action=action
                            ),
                        }
                        for action in (APPROVE, REJECT)
                    ]
                ]
            }
        return payload

    def _body(self, language: Language, request: Request) -> Markup:
        # Already rendered (and escaped) by the kind's own template: not to be escaped again.
        return Markup(self.texts.render(language, f"request_{request.kind}", request=request))

    # Deciding ----------------------------------------------------------------------------------

    async def may_decide(self, session: AsyncSession, actor: Actor, request: Request) -> bool:
        """Whether ``actor`` may decide the current stage: by the rules, and by their grants."""
        subject = people.rule_subject(actor)
        if not self.rules.allowed(f"approval.{request.kind}", subject).outcome.allowed:
            return False
        grant = grant_of(request)
        return grant is not None and grant in actor.grants

    async def pressed(
        self,
        session: AsyncSession,
        actor: Actor,
        request_id: int,
        stage_no: int,
        action: str,
        *,
        now: datetime,
    ) -> Result:
        """A press of Approve or Reject on a card.

        Reject, and Approve at a stage that needs more (a budget), ask for it in a short
        conversation; the decision is taken when that conversation submits.
        """
        request = await session.get(Request, request_id, with_for_update=True)
        if request is None or action not in (APPROVE, REJECT):
            return Result(Handling.ALREADY)
        checked = await self._check(session, actor, request, stage_no, action, now=now)
        if checked is not None:
            return checked
        if action == REJECT:
            return Result(Handling.ASK, request, "approval_reason")
        stage = self.workflows[request.kind].stage(request)
        if stage.approve_asks is not None:
            return Result(Handling.ASK, request, stage.approve_asks)
        return await self.decide(session, actor, request_id, stage_no, approve=True, now=now)

    async def decide(
        self,
        session: AsyncSession,
        actor: Actor,
        request_id: int,
        stage_no: int,
        *,
        approve: bool,
        now: datetime,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Result:
        """Take a decision on stage ``stage_no`` of a request, checked again in full."""
        request = await session.get(Request, request_id, with_for_update=True)
        if request is None:
            return Result(Handling.ALREADY)
        action = APPROVE if approve else REJECT
        checked = await self._check(session, actor, request, stage_no, action, now=now)
        if checked is not None:
            return checked
        decision = RequestDecision(
            request_id=request.id,
            stage_no=request.stage_no,
            stage=request.stage,
            person_id=actor.person_id,
            approved=approve,
            reason=reason,
            at=now,
        )
        session.add(decision)
        if detail:
            request.detail = {**request.detail, **detail}
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action=f"approval.{'approve' if approve else 'reject'}",
                detail={"request": request.id, "stage": request.stage, "reason": reason},
            )
        )
        await self.refresh(session, request, decision, actor.name, now=now)
        workflow = self.workflows[request.kind]
        request.updated_at = now
        if approve:
            following = await workflow.approved(session, request, now)
            if following is not None:
                await self.move_to(session, request, following, now=now)
                await self.tell_requester(session, request, now=now, moved=True)
                return Result(Handling.DONE, request)
            request.status = RequestStatus.APPROVED
        else:
            request.status = RequestStatus.REJECTED
            await workflow.rejected(session, request, now)
        request.decided_at = now
        await self.tell_requester(session, request, now=now, reason=reason)
        return Result(Handling.DONE, request)

    async def _check(
        self,
        session: AsyncSession,
        actor: Actor,
        request: Request,
        stage_no: int,
        action: str,
        *,
        now: datetime,
    ) -> Result | None:
        """A refusal (audited) or "already decided", or None when the decision may go ahead."""
        current = request.status is RequestStatus.PENDING and request.stage_no == stage_no
        if current and await self.may_decide(session, actor, request):
            return None
        if not current and await _was_approver(session, actor, request, stage_no):
            # One of that stage's approvers came second: not a refusal, just late.
            return Result(Handling.ALREADY, request)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="approval.refused",
                detail={"request": request.id, "stage_no": stage_no, "action": action},
            )
        )
        return Result(Handling.NOT_ALLOWED, request)

    # Telling people ----------------------------------------------------------------------------

    async def refresh(
        self,
        session: AsyncSession,
        request: Request,
        decision: RequestDecision | None,
        decided_by: str | None,
        *,
        now: datetime,
    ) -> None:
        """Rewrite every card of the current stage (decided, or withdrawn): waiting ones in
        place, sent ones by an edit."""
        requester = await session.get(Person, request.requester_person_id)
        assert requester is not None
        for row in await outbox.by_ref(session, _ref(request)):
            language = pick_language(await repo.language_of(session, row.chat_id), self.default)
            payload = self.card(language, request, requester.name, decision, decided_by)
            outbox.rewrite(session, row, payload, now=now)

    async def tell_requester(
        self,
        session: AsyncSession,
        request: Request,
        *,
        now: datetime,
        moved: bool = False,
        reason: str | None = None,
    ) -> None:
        """Queue the news of a decision (or of a move to the next stage) to the requester."""
        account = await repo.account_of(session, request.requester_person_id)
        if account is None:
            return
        language = pick_language(account.language, self.default)
        text = self.texts.render(
            language,
            "approval_news",
            request=request,
            body=self._body(language, request),
            moved=moved,
            reason=reason,
        )
        outbox.enqueue(
            session,
            account.telegram_user_id,
            "sendMessage",
            {"text": text, "parse_mode": "HTML"},
            priority=Priority.BULK,
            now=now,
        )

    async def cancel(
        self, session: AsyncSession, request: Request, by: Actor | None, *, now: datetime
    ) -> None:
        """The request ends undecided: withdrawn by its requester (``by``), or lapsed because
        nobody decided it while it mattered (``by`` None). Its waiting cards say which."""
        request.status = RequestStatus.CANCELLED
        request.updated_at = request.decided_at = now
        if by is None:
            request.detail = {**request.detail, "lapsed": True}
        await self.refresh(session, request, None, None, now=now)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=by.person_id if by else None,
                action="approval.cancelled" if by else "approval.lapsed",
                detail={"request": request.id},
            )
        )


async def pending_for(session: AsyncSession, actor: Actor) -> list[Request]:
    """The requests waiting for a decision ``actor`` may take, oldest first."""
    grants = [(g.role, g.scope_kind, g.scope_id) for g in actor.grants]
    if not grants:
        return []
    rows = await session.scalars(
        select(Request)
        .where(
            Request.status == RequestStatus.PENDING,
            tuple_(
                Request.approver_role, Request.approver_scope_kind, Request.approver_scope_id
            ).in_(grants),
        )
        .order_by(Request.created_at, Request.id)
    )
    return list(rows)


async def _was_approver(
    session: AsyncSession, actor: Actor, request: Request, stage_no: int
) -> bool:
    """Whether a card of stage ``stage_no`` went to ``actor``: they were one of its approvers."""
    account = await repo.account_of(session, actor.person_id)
    if account is None:
        return False
    found = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.ref == _ref(request, stage_no),
            OutboxMessage.chat_id == account.telegram_user_id,
        )
        .limit(1)
    )
    return found is not None


def _ref(request: Request, stage_no: int | None = None) -> str:
    return f"req:{request.id}:{request.stage_no if stage_no is None else stage_no}:card"
