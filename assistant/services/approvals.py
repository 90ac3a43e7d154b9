"""Approvals (审批): requests that wait for a person the rules name, decided from inline cards.

A request's current stage names one role at one scope (the counsellors of this community, the
Organisation Department). Everyone holding it gets a card through the outbox; the card's buttons
carry only the request, the stage and the action, so whoever presses is checked again here: the
access rules for ``approval.<kind>`` and the stage's role and scope among their own grants. A
forwarded card or a forged press by anyone else is refused and audited. The first decision of a
stage wins (and a unique row per stage makes sure of it); every card of the stage is then
rewritten to say who decided, and the requester is told.

Nobody decides their own request: the requester is refused and audited like anyone else, and
never gets a card or sees the request among those waiting for them. A stage goes up the chain of
responsibility (``approval.fallback`` in rules/policies.yaml) when nobody but the requester may
decide it or nobody who may can be reached (not linked yet, or they blocked the bot); its cards
go to whoever then has it. A stage nobody decides is nudged after ``approval.nudge_hours`` and
offered to the next holder up after ``approval.fallback_hours``, both before the request lapses;
the firings that do it are planned with the stage.

What a decision does next belongs to the kind of request: a :class:`Workflow` moves a booking to
confirmed, or a project on to its next stage.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from markupsafe import Markup
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import APPROVAL
from assistant.domain import (
    ROLE_SCOPE,
    Actor,
    Grant,
    Language,
    RequestKind,
    RequestStatus,
    Role,
    ScopeKind,
)
from assistant.rules import Rules
from assistant.schedule import firings
from assistant.services import identity, people
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Firing,
    OutboxMessage,
    Person,
    Priority,
    Request,
    RequestDecision,
)
from assistant.texts import Texts, pick_language

APPROVE, REJECT = "a", "r"
NUDGE, FALL_BACK = "approval.nudge", "approval.fallback"
"""The firing kinds of a stage nobody decides: its reminder, and its move up the chain."""
TOP = "none"
"""The value of ``approval.fallback`` for a role with nobody above it."""


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


def asking(request: Request, stage_no: int) -> dict[str, Any]:
    """The preset answers of a conversation a card's button starts (a reason, a budget): the
    request and stage it decides, and what people call it, for its questions to say."""
    return {
        "request": request.id,
        "stage_no": stage_no,
        "kind": str(request.kind),
        "reference": request.reference,
    }


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
        lapses_at: datetime | None = None,
    ) -> Request:
        """Store a new request at its first stage and send the stage's cards.

        ``lapses_at`` is when it ends undecided (a booking's start), if it does."""
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
            lapses_at=lapses_at,
        )
        session.add(request)
        await self.move_to(session, request, stage, now=now)
        return request

    async def move_to(
        self, session: AsyncSession, request: Request, stage: Stage, *, now: datetime
    ) -> None:
        """Put ``request`` at ``stage`` and send that stage's cards (unless it has none).

        A stage decided from cards first finds who really has it (:meth:`settle`), and its
        nudge and fallback are planned with it."""
        wanted = stage
        if stage.cards:
            stage = await self.settle(session, request, stage)
        request.stage = stage.name
        request.stage_no += 1
        request.approver_role = stage.role
        request.approver_scope_kind = stage.scope_kind
        request.approver_scope_id = stage.scope_id
        request.routed_by = stage.routed_by
        request.updated_at = now
        await session.flush()
        if stage != wanted:
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=None,
                    action="approval.rerouted",
                    detail={"request": request.id, "from": wanted.role, "to": stage.role},
                )
            )
        if stage.cards:
            await self.send_cards(session, request, now=now)
            await self._plan(session, request, now=now)

    async def settle(self, session: AsyncSession, request: Request, stage: Stage) -> Stage:
        """Where ``request`` waits when it comes to ``stage``: the stage itself if someone who
        may decide it can be reached; else the first stage up the chain where someone can;
        else the first where anyone but the requester may decide (their cards wait for them to
        link); else ``stage`` as it is."""
        waiting: Stage | None = None
        for candidate in await self._chain(session, request, stage):
            deciders = await self.deciders(session, request, candidate)
            if any(holder.reachable for holder in deciders):
                return candidate
            if deciders and waiting is None:
                waiting = candidate
        return waiting or stage

    async def _chain(self, session: AsyncSession, request: Request, stage: Stage) -> list[Stage]:
        """``stage``, then each stage above it by ``approval.fallback``, to the top; a role the
        campus has no unit of above ``stage`` is passed over."""
        subject = await self._subject(session, request)
        chain, role, seen = [stage], stage.role, {stage.role}
        while True:
            decision = self.rules.policy("approval.fallback", {**subject, "approver_role": role})
            if str(decision.outcome.value) == TOP:
                return chain
            role = Role(str(decision.outcome.value))
            if role in seen:
                # The rules name a role twice on one chain: it ends there.
                return chain
            seen.add(role)
            kind = ROLE_SCOPE[role]
            unit = await repo.unit_above(session, stage.scope_kind, stage.scope_id, kind)
            if unit is not None:
                routed_by = decision.rule_id or ""
                chain.append(
                    replace(stage, role=role, scope_kind=kind, scope_id=unit, routed_by=routed_by)
                )

    async def deciders(
        self, session: AsyncSession, request: Request, stage: Stage
    ) -> list[repo.Holder]:
        """The people holding ``stage`` whom the rules let decide ``request``, the requester
        never among them; linked to Telegram or not."""
        found = []
        grant = (stage.role, stage.scope_kind, stage.scope_id)
        for holder in await repo.holders(session, [grant]):
            if holder.person_id == request.requester_person_id:
                continue
            person = await session.get(Person, holder.person_id)
            assert person is not None
            subject = people.rule_subject(await identity.person_actor(session, person))
            if self.rules.allowed(f"approval.{request.kind}", subject).outcome.allowed:
                found.append(holder)
        return found

    async def _subject(self, session: AsyncSession, request: Request) -> dict[str, object]:
        """The facts the policies about a request decide on: its requester's and its kind."""
        requester = await session.get(Person, request.requester_person_id)
        assert requester is not None
        actor = await identity.person_actor(session, requester)
        return {**people.rule_subject(actor), "request_kind": str(request.kind)}

    async def _plan(self, session: AsyncSession, request: Request, *, now: datetime) -> None:
        """Plan the nudge and the fallback of the stage ``request`` has just come to."""
        assert request.approver_role is not None
        subject = {
            **await self._subject(session, request),
            "approver_role": str(request.approver_role),
        }
        nudge = now + timedelta(
            hours=float(self.rules.policy("approval.nudge_hours", subject).outcome.value)
        )
        fallback = now + timedelta(
            hours=float(self.rules.policy("approval.fallback_hours", subject).outcome.value)
        )
        if request.lapses_at is not None and fallback >= request.lapses_at:
            left = request.lapses_at - now
            if left <= timedelta(0):
                return
            nudge, fallback = now + left / 3, now + left * 2 / 3
        payload = {"request": request.id, "stage_no": request.stage_no}
        await firings.plan(
            session,
            [
                {
                    "key": f"req:{request.id}:{request.stage_no}:{kind}",
                    "kind": kind,
                    "due_at": due,
                    "payload": payload,
                }
                for kind, due in ((NUDGE, nudge), (FALL_BACK, fallback))
            ],
            now=now,
        )

    async def send_cards(
        self, session: AsyncSession, request: Request, *, now: datetime, nudge: bool = False
    ) -> int:
        """Queue a card of the current stage to each of its deciders who is linked (a
        reminder when ``nudge``); returns how many."""
        stage = self.workflows[request.kind].stage(request)
        sent = 0
        for holder in await self.deciders(session, request, stage):
            if holder.telegram_user_id is None:
                continue
            language = pick_language(holder.language, self.default)
            await self.send_card(
                session, request, holder.telegram_user_id, language, now=now, nudge=nudge
            )
            sent += 1
        return sent

    async def send_card(
        self,
        session: AsyncSession,
        request: Request,
        chat_id: int,
        language: Language,
        *,
        now: datetime,
        nudge: bool = False,
    ) -> None:
        """Queue the card of ``request``'s current stage to one chat; a decision rewrites it."""
        requester = await session.get(Person, request.requester_person_id)
        assert requester is not None
        outbox.enqueue(
            session,
            chat_id,
            "sendMessage",
            self.card(language, request, requester.name, nudge=nudge),
            priority=Priority.BULK,
            now=now,
            ref=_ref(request),
        )

    def card(
        self,
        language: Language,
        request: Request,
        requester: str,
        decision: RequestDecision | None = None,
        decided_by: str | None = None,
        *,
        nudge: bool = False,
        handed_to: Role | None = None,
    ) -> dict[str, Any]:
        """The card of ``request``: its summary, and Approve / Reject until someone decides
        (or it goes up to ``handed_to``)."""
        payload: dict[str, Any] = {
            "text": self.texts.render(
                language,
                "approval_card",
                request=request,
                requester=requester,
                body=self._body(language, request),
                decision=decision,
                decided_by=decided_by,
                nudge=nudge,
                handed_to=str(handed_to) if handed_to else None,
            ),
            "parse_mode": "HTML",
        }
        if decision is None and handed_to is None and request.status is RequestStatus.PENDING:
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

    # Nobody decides ----------------------------------------------------------------------------

    async def nudge(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """``approval.nudge``: a stage still undecided; its deciders get the card again."""
        for firing in due:
            request = await _still_at(session, firing)
            if request is not None:
                await self.send_cards(session, request, now=now, nudge=True)

    async def fall_back(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """``approval.fallback``: a stage still undecided goes to the first stage up the chain
        with someone who may decide it and can be reached. Its earlier cards lose their
        buttons and say where it went, and the requester is told. With nobody above, the
        deciders are reminded once more."""
        for firing in due:
            request = await _still_at(session, firing)
            if request is None:
                continue
            current = self.workflows[request.kind].stage(request)
            above = None
            for candidate in (await self._chain(session, request, current))[1:]:
                deciders = await self.deciders(session, request, candidate)
                if any(holder.reachable for holder in deciders):
                    above = candidate
                    break
            if above is None:
                await self.send_cards(session, request, now=now, nudge=True)
                continue
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=None,
                    action="approval.fallback",
                    detail={"request": request.id, "from": current.role, "to": above.role},
                )
            )
            await self.refresh(session, request, None, None, now=now, handed_to=above.role)
            await self.move_to(session, request, above, now=now)
            await self.tell_requester(session, request, now=now, handed=True)

    # Deciding ----------------------------------------------------------------------------------

    async def may_decide(self, session: AsyncSession, actor: Actor, request: Request) -> bool:
        """Whether ``actor`` may decide the current stage: never their own request; by the
        rules, and by their grants."""
        if actor.person_id == request.requester_person_id:
            return False
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
        handed_to: Role | None = None,
    ) -> None:
        """Rewrite every card of the current stage (decided, withdrawn, or gone up to
        ``handed_to``): waiting ones in place, sent ones by an edit."""
        requester = await session.get(Person, request.requester_person_id)
        assert requester is not None
        for row in await outbox.by_ref(session, _ref(request)):
            language = pick_language(await repo.language_of(session, row.chat_id), self.default)
            payload = self.card(
                language, request, requester.name, decision, decided_by, handed_to=handed_to
            )
            outbox.rewrite(session, row, payload, now=now)

    async def tell_requester(
        self,
        session: AsyncSession,
        request: Request,
        *,
        now: datetime,
        moved: bool = False,
        handed: bool = False,
        reason: str | None = None,
    ) -> None:
        """Queue the news of a decision, of a move to the next stage (``moved``), or of a
        stage gone up the chain undecided (``handed``) to the requester: a request still
        pending says who it waits for."""
        account = await repo.account_of(session, request.requester_person_id)
        if account is None:
            return
        language = pick_language(account.language, self.default)
        waiting: list[str] = []
        if request.status is RequestStatus.PENDING:
            stage = self.workflows[request.kind].stage(request)
            if stage.cards:
                waiting = [h.name for h in await self.deciders(session, request, stage)]
        text = self.texts.render(
            language,
            "approval_news",
            request=request,
            body=self._body(language, request),
            moved=moved,
            handed=handed,
            reason=reason,
            waiting=waiting,
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

    async def pending_for(self, session: AsyncSession, actor: Actor) -> list[Request]:
        """The requests waiting for a decision ``actor`` may take, oldest first: at a stage
        decided from cards whose grant they hold, and never their own."""
        grants = [(g.role, g.scope_kind, g.scope_id) for g in actor.grants]
        if not grants:
            return []
        rows = await session.scalars(
            select(Request)
            .where(
                Request.status == RequestStatus.PENDING,
                Request.requester_person_id != actor.person_id,
                tuple_(
                    Request.approver_role, Request.approver_scope_kind, Request.approver_scope_id
                ).in_(grants),
            )
            .order_by(Request.created_at, Request.id)
        )
        subject = people.rule_subject(actor)
        return [
            request
            for request in rows
            if self.workflows[request.kind].stage(request).cards
            and self.rules.allowed(f"approval.{request.kind}", subject).outcome.allowed
        ]


async def _still_at(session: AsyncSession, firing: Firing) -> Request | None:
    """The request a nudge or fallback firing is about, if still pending at that stage."""
    request = await session.get(Request, int(firing.payload["request"]), with_for_update=True)
    if request is None or request.status is not RequestStatus.PENDING:
        return None
    return request if request.stage_no == int(firing.payload["stage_no"]) else None


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
