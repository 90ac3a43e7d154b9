"""Community party-building projects (社区党建课题申报): the application, its staged review and,
at the end of a funded project, its results (成果).

Who may apply is the access rule ``project.apply`` (by default a college's teachers, student
party members and activists, and counsellors and workstation heads); when is the yearly period
``project-call`` of the calendar (once a year, the same days every year). A counsellor or
workstation head applies for the community where they hold that role; anyone else for their own
college (and the community they live in, if any): each college's party organisation gathers its
teachers' and students' applications. The request then goes through four stages: the college
party organisation of that college, the Organisation Department, the expert panel, and the
Organisation Department again, who decides and grants a budget. The first, second and
last stages are approval cards (services.approvals); at the third every linked expert gets a
scoring card of their own and scores criterion by criterion. The criteria and their weights are
the policies named ``project.weight.<criterion>``; an expert sees only their own scores. When
the whole panel has scored, the request moves on with the weighted average for the decision.

Policies about a project (weights, the most funding) are judged on the applicant's facts.

When a funded project ends, its applicant submits the results (/results): a summary and the
photos and documents they send, stored once (``project_results``) and sent to the party
organisation leaders of the project's college and to the Organisation Department.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import (
    LANGUAGES,
    SCHOOL_SCOPE_ID,
    Actor,
    Grant,
    Language,
    RequestKind,
    RequestStatus,
    Role,
    ScopeKind,
)
from assistant.flows.engine import FlowContext, Refused, Reprompt, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.services import identity, people
from assistant.services.approvals import Handling as Decided
from assistant.services.approvals import Stage
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    College,
    Community,
    Person,
    Priority,
    ProjectResult,
    ProjectScore,
    Request,
)
from assistant.texts import pick_language

# A scoring card's buttons: the project, the criterion's place in the list, the score given.
SCORE = CallbackCodec("ps", ("request", "criterion", "score"))
SCORES = range(1, 6)
WEIGHT_PREFIX = "project.weight."
EXPERT = Grant(Role.EXPERT, ScopeKind.SCHOOL, SCHOOL_SCOPE_ID)
# Roles whose holders apply for the community they hold it over (anyone else, for their college).
COMMUNITY_ROLES = (Role.WORKSTATION_HEAD, Role.COUNSELLOR)
# The yearly period of rules/calendar.yaml that is the call for projects.
CALL = "project-call"

COLLEGE, ORG, EXPERTS, DECISION = "college", "org", "experts", "decision"
ORG_STAGE = Stage(ORG, Role.ORG_DEPARTMENT, ScopeKind.SCHOOL, SCHOOL_SCOPE_ID)
EXPERTS_STAGE = Stage(EXPERTS, Role.EXPERT, ScopeKind.SCHOOL, SCHOOL_SCOPE_ID, cards=False)
DECISION_STAGE = Stage(
    DECISION,
    Role.ORG_DEPARTMENT,
    ScopeKind.SCHOOL,
    SCHOOL_SCOPE_ID,
    approve_asks="project_grant",
)


def college_stage(college_id: int) -> Stage:
    """The first stage: the party organisation leaders of the applicant's college."""
    return Stage(COLLEGE, Role.COLLEGE_PARTY_LEADER, ScopeKind.COLLEGE, college_id)


def criteria(rules: Rules) -> tuple[str, ...]:
    """The criteria experts score, in the order rules/policies.yaml first names them."""
    names = (rule.outcome.policy for rule in rules.policies)
    return tuple(
        dict.fromkeys(n.removeprefix(WEIGHT_PREFIX) for n in names if n.startswith(WEIGHT_PREFIX))
    )


def names(kit: Kit) -> Names:
    """The budget checks, the apply and grant actions, and the project workflow."""
    review = Review(kit)
    results = Results(kit)
    return Names(
        providers={"project.funded": results.funded},
        checks={
            "project.budget_allowed": review.budget_allowed,
            "project.grant_allowed": review.grant_allowed,
        },
        actions={
            "project.apply": review.apply,
            "project.grant": review.grant,
            "project.results": results.submit,
        },
        start_checks={
            "project.may_apply": review.may_apply,
            "project.may_report": results.may_report,
        },
        workflows={RequestKind.PROJECT: review},
    )


def call_period(rules: Rules, today: date) -> tuple[date, date] | None:
    """The call for projects ``today`` is in, else the next one (first and last day); None
    when the calendar has no ``project-call``."""
    period = rules.calendar.yearly_period(CALL)
    return period.current(today) if period else None


class Scoring(enum.StrEnum):
    """What a press of a scoring button did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    # The panel's stage is over (the project moved on, or was withdrawn).
    CLOSED = "closed"
    # Not the criterion the card asks now (pressed twice, or an old card): shown again.
    STALE = "stale"


@dataclass(frozen=True)
class ScoreCard:
    """One expert's scoring card: its text and, while a criterion waits, the score buttons."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        """The card as a Bot API message."""
        payload: dict[str, Any] = {"text": self.text, "parse_mode": "HTML"}
        if self.buttons:
            payload["reply_markup"] = {
                "inline_keyboard": [[{"text": t, "callback_data": d} for t, d in self.buttons]]
            }
        return payload


@dataclass(frozen=True)
class Scored:
    """The outcome of a scoring press, and the card to show in place of the pressed one."""

    handling: Scoring
    card: ScoreCard | None = None


class Review:
    """The project workflow: its stages, the panel's scoring, and the apply and grant actions."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.criteria = criteria(kit.rules)

    # The workflow (services.approvals.Workflow) ------------------------------------------------

    def stage(self, request: Request) -> Stage:
        """The current stage, rebuilt from what the request stores."""
        assert request.approver_role is not None and request.approver_scope_kind is not None
        assert request.approver_scope_id is not None
        return Stage(
            request.stage,
            request.approver_role,
            request.approver_scope_kind,
            request.approver_scope_id,
            request.routed_by,
            approve_asks=DECISION_STAGE.approve_asks if request.stage == DECISION else None,
            cards=request.stage != EXPERTS,
        )

    async def approved(
        self, session: AsyncSession, request: Request, now: datetime
    ) -> Stage | None:
        """College → Organisation Department → expert panel; approved at the decision."""
        if request.stage == COLLEGE:
            await self._send_attachment(
                session, request.detail, request.requester_person_id, ORG_STAGE, now=now
            )
            return ORG_STAGE
        if request.stage == ORG:
            if await self._open_panel(session, request, now=now):
                return EXPERTS_STAGE
            # Nobody of the panel can be reached: the decision is taken without scores rather
            # than the project waiting for ever.
            request.detail = {**request.detail, "score": {"average": None, "experts": 0}}
            return DECISION_STAGE
        return None

    async def rejected(self, session: AsyncSession, request: Request, now: datetime) -> None:
        """A project holds nothing (no slot, no money) until it is approved."""

    # Applying ----------------------------------------------------------------------------------

    async def may_apply(self, context: FlowContext) -> None:
        """``project.may_apply``, before /apply's first question: refused, as the submit would
        refuse, to whom the rules do not let apply, outside the call, or without a college to
        apply in."""
        await self._applicant(context)

    async def _applicant(self, context: FlowContext) -> tuple[Community | None, College]:
        """Where the project belongs (a community, if any, and the college), for someone the
        rules let apply, while the call is open; else Refused, saying who may apply or when."""
        session, actor = context.session, context.actor
        today = context.now.astimezone(self.kit.campus).date()
        subject = people.rule_subject(actor) | people.day_facts(today, self.kit.rules.calendar)
        decision = self.kit.rules.allowed("project.apply", subject)
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            raise Refused("project_refused", reason=reason.text(context.language) if reason else "")
        call = call_period(self.kit.rules, today)
        if call is None:
            raise Refused("project_call_unset")
        opens, closes = call
        if not opens <= today <= closes:
            # Past this year's call, the next is next year's: say when this year's closed too.
            ended = closes.replace(year=today.year) if closes.year > today.year else None
            raise Refused("project_call_closed", opens=opens, closes=closes, ended=ended)
        community, college = await _unit_of(session, actor)
        if college is None:
            raise Refused("project_no_college")
        return community, college

    async def apply(self, context: FlowContext) -> Submitted:
        """``project.apply``: checked again here (the call may have closed meanwhile), then the
        request goes to the college party organisation of the applicant's community."""
        session, actor, answers = context.session, context.actor, context.answers
        community, college = await self._applicant(context)
        today = context.now.astimezone(self.kit.campus).date()
        subject = people.rule_subject(actor) | people.day_facts(today)
        budget = round(float(answers["budget"]), 2)
        maximum = self._budget_max(subject)
        if not 0 < budget <= maximum:
            raise Refused("project_budget_too_high", maximum=maximum)
        title = str(answers["title"])
        detail: dict[str, Any] = {
            "title": title,
            "team": str(answers["team"]),
            "summary": str(answers["summary"]),
            "plan": str(answers["plan"]),
            "budget": budget,
            "attachment": answers.get("attachment"),
            "community": _named(community) if community else None,
            "college": _named(college),
            # Whom the cards name the applicant as: the role they apply in, else their status.
            "applicant": _capacity(actor, community),
        }
        first = college_stage(college.id)
        # The scan goes first, so that the card with its buttons is the latest message.
        await self._send_attachment(session, detail, actor.person_id, first, now=context.now)
        request = await self.kit.approvals.open(
            session,
            kind=RequestKind.PROJECT,
            requester=actor,
            title=title,
            detail=detail,
            stage=first,
            now=context.now,
        )
        return Submitted("project_applied", {"request": request})

    async def budget_allowed(self, context: FlowContext, value: Any) -> bool:
        """The requested budget is at most ``project.budget_max``, which the re-prompt names."""
        subject = people.rule_subject(context.actor)
        maximum = self._budget_max(subject)
        if round(float(value), 2) > maximum:
            raise Reprompt(maximum)
        return True

    # Deciding ----------------------------------------------------------------------------------

    async def grant_allowed(self, context: FlowContext, value: Any) -> bool:
        """A granted budget is more than 0, at most what was asked and at most the maximum."""
        # Judged as it will be stored: in whole fen.
        granted = round(float(value), 2)
        request = await context.session.get(Request, int(context.answers["request"]))
        if request is None or request.kind is not RequestKind.PROJECT:
            # Nothing to compare with; submitting will say the request is gone.
            return granted > 0
        subject = await _requester_subject(context.session, request)
        asked = float(request.detail.get("budget", 0))
        return 0 < granted <= min(asked, self._budget_max(subject))

    async def grant(self, context: FlowContext) -> Submitted:
        """``project.grant``: approve the decision stage with the granted budget."""
        answers = context.answers
        result = await self.kit.approvals.decide(
            context.session,
            context.actor,
            int(answers["request"]),
            int(answers["stage_no"]),
            approve=True,
            now=context.now,
            detail={"granted": round(float(answers["budget"]), 2)},
        )
        if result.handling is not Decided.DONE:
            raise Refused(f"approval_{result.handling}")
        return Submitted("project_granted", {"request": result.request})

    # The expert panel --------------------------------------------------------------------------

    async def score(
        self,
        session: AsyncSession,
        actor: Actor,
        request_id: int,
        criterion: int,
        value: int,
        *,
        language: Language,
        now: datetime,
    ) -> Scored:
        """A press on a scoring card, checked in full: the rules for ``project.score``, the
        expert grant, a place on this project's panel, and the panel's stage still open."""
        request = await session.get(Request, request_id, with_for_update=True)
        if request is None or request.kind is not RequestKind.PROJECT:
            return Scored(Scoring.STALE)
        row = await session.scalar(
            select(ProjectScore)
            .where(
                ProjectScore.request_id == request.id,
                ProjectScore.expert_person_id == actor.person_id,
            )
            .with_for_update()
        )
        subject = people.rule_subject(actor)
        may = self.kit.rules.allowed("project.score", subject).outcome.allowed
        if not may or EXPERT not in actor.grants or row is None:
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="project.refused",
                    detail={"request": request.id, "criterion": criterion, "score": value},
                )
            )
            return Scored(Scoring.NOT_ALLOWED)
        if request.status is not RequestStatus.PENDING or request.stage != EXPERTS:
            closed = await self.card(session, language, request, row, open_=False)
            return Scored(Scoring.CLOSED, closed)
        following = self._next(row)
        if following is None or criterion != following or value not in SCORES:
            again = await self.card(session, language, request, row, open_=True)
            return Scored(Scoring.STALE, again)
        row.scores = {**row.scores, self.criteria[criterion]: value}
        row.updated_at = now
        if self._next(row) is None:
            weights = await self._weights(session, request)
            row.total = sum(weights[c] * int(row.scores[c]) for c in self.criteria)
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="project.scored",
                    detail={"request": request.id, "total": row.total},
                )
            )
            await self._close_panel_when_done(session, request, now=now)
        return Scored(Scoring.DONE, await self.card(session, language, request, row, open_=True))

    async def card(
        self,
        session: AsyncSession,
        language: Language,
        request: Request,
        row: ProjectScore,
        *,
        open_: bool,
    ) -> ScoreCard:
        """One expert's card: the project, their own scores so far, and the next criterion
        while the panel is ``open_``. Nothing of another expert is ever on it."""
        following = self._next(row)
        text = self.kit.texts.render(
            language,
            "project_score_card",
            request=request,
            criteria=self.criteria,
            weights=await self._weights(session, request),
            scores=row.scores,
            current=self.criteria[following] if following is not None and open_ else None,
            number=(following or 0) + 1,
            total=row.total,
            closed=not open_ and row.total is None,
        )
        if following is None or not open_:
            return ScoreCard(text)
        return ScoreCard(
            text,
            tuple(
                (str(s), SCORE.pack(request=request.id, criterion=following, score=s))
                for s in SCORES
            ),
        )

    def _next(self, row: ProjectScore) -> int | None:
        """The place of the first criterion this expert has not scored yet."""
        for index, name in enumerate(self.criteria):
            if name not in row.scores:
                return index
        return None

    async def _open_panel(self, session: AsyncSession, request: Request, *, now: datetime) -> int:
        """Give every linked expert (but the applicant) a place on the panel and a scoring card;
        returns how many."""
        panel = await _reachable(session, EXPERTS_STAGE, request.requester_person_id)
        for holder in panel:
            assert holder.telegram_user_id is not None
            row = ProjectScore(
                request_id=request.id,
                expert_person_id=holder.person_id,
                scores={},
                total=None,
                updated_at=now,
            )
            session.add(row)
            language = pick_language(holder.language, self.kit.default)
            self._send_photo(session, holder.telegram_user_id, language, request.detail, now=now)
            # Sent while the request is still leaving the Organisation Department: open already.
            card = await self.card(session, language, request, row, open_=True)
            outbox.enqueue(
                session,
                holder.telegram_user_id,
                "sendMessage",
                card.payload(),
                priority=Priority.BULK,
                now=now,
            )
        return len(panel)

    async def _close_panel_when_done(
        self, session: AsyncSession, request: Request, *, now: datetime
    ) -> None:
        """When every expert of the panel has scored, the request goes on to the decision with
        the average of their weighted totals."""
        totals: Sequence[float | None] = (
            await session.scalars(
                select(ProjectScore.total).where(ProjectScore.request_id == request.id)
            )
        ).all()
        if any(total is None for total in totals):
            return
        done = [float(t) for t in totals if t is not None]
        average = round(sum(done) / len(done), 2)
        request.detail = {**request.detail, "score": {"average": average, "experts": len(done)}}
        await self.kit.approvals.move_to(session, request, DECISION_STAGE, now=now)
        await self.kit.approvals.tell_requester(session, request, now=now, moved=True)

    # Helpers -----------------------------------------------------------------------------------

    def _budget_max(self, subject: Mapping[str, Any]) -> float:
        return float(self.kit.rules.policy("project.budget_max", subject).outcome.value)

    async def _weights(self, session: AsyncSession, request: Request) -> dict[str, float]:
        subject = await _requester_subject(session, request)
        return {
            c: float(self.kit.rules.policy(WEIGHT_PREFIX + c, subject).outcome.value)
            for c in self.criteria
        }

    async def _send_attachment(
        self,
        session: AsyncSession,
        detail: Mapping[str, Any],
        requester_id: int,
        stage: Stage,
        *,
        now: datetime,
    ) -> None:
        """The plan's scan, if any, to the people about to get the stage's cards."""
        for holder in await _reachable(session, stage, requester_id):
            assert holder.telegram_user_id is not None
            language = pick_language(holder.language, self.kit.default)
            self._send_photo(session, holder.telegram_user_id, language, detail, now=now)

    def _send_photo(
        self,
        session: AsyncSession,
        chat_id: int,
        language: Language,
        detail: Mapping[str, Any],
        *,
        now: datetime,
    ) -> None:
        if not detail.get("attachment"):
            return
        outbox.enqueue(
            session,
            chat_id,
            "sendPhoto",
            {
                "photo": detail["attachment"],
                "caption": self.kit.texts.render(
                    language, "project_attachment", title=detail["title"]
                ),
                "parse_mode": "HTML",
            },
            priority=Priority.BULK,
            now=now,
        )


class Results:
    """The results (成果) of funded projects: submitted once by the applicant, at the end, with
    a summary and files, and sent to those who oversee the project."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    async def funded(self, context: FlowContext) -> list[Option]:
        """``project.funded``: the asker's own funded projects whose results are not in yet."""
        render = self.kit.texts.render
        return [
            Option(
                str(request.id),
                {
                    lang: render(lang, "project_results_option", request=request)
                    for lang in LANGUAGES
                },
            )
            for request in await _awaiting_results(context.session, context.actor.person_id)
        ]

    async def may_report(self, context: FlowContext) -> None:
        """``project.may_report``, before /results' first question: refused, as the submit
        would refuse, when the rules do not let the asker submit results or no funded project
        of theirs waits for them."""
        self._allowed(context)
        if not await _awaiting_results(context.session, context.actor.person_id):
            raise Refused("project_results_none")

    def _allowed(self, context: FlowContext) -> None:
        decision = self.kit.rules.allowed("project.results", people.rule_subject(context.actor))
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            raise Refused("project_refused", reason=reason.text(context.language) if reason else "")

    async def submit(self, context: FlowContext) -> Submitted:
        """``project.results``: checked again in full (the rules; the project is the asker's,
        funded, and has no results yet), stored, and sent to the project's college party
        organisation and the Organisation Department with every file."""
        session, actor, answers, now = context.session, context.actor, context.answers, context.now
        self._allowed(context)
        request = await session.get(Request, int(answers["request"]), with_for_update=True)
        if (
            request is None
            or request.kind is not RequestKind.PROJECT
            or request.requester_person_id != actor.person_id
            or not _funded(request)
        ):
            raise Refused("project_results_none")
        if await session.get(ProjectResult, request.id) is not None:
            raise Refused("project_results_already", request=request)
        files = [dict(f) for f in answers.get("files") or []]
        result = ProjectResult(
            request_id=request.id,
            person_id=actor.person_id,
            summary=str(answers["summary"]),
            files=files,
            submitted_at=now,
        )
        session.add(result)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="project.results",
                detail={"request": request.id, "files": len(files)},
            )
        )
        await self._send(session, request, result, now=now)
        return Submitted("project_results_done", {"request": request, "files": len(files)})

    async def _send(
        self, session: AsyncSession, request: Request, result: ProjectResult, *, now: datetime
    ) -> None:
        """The results to every linked party organisation leader of the project's college and
        member of the Organisation Department (but the applicant): the summary, then each file."""
        college = int(request.detail["college"]["id"])
        wanted = [
            (Role.COLLEGE_PARTY_LEADER, ScopeKind.COLLEGE, college),
            (Role.ORG_DEPARTMENT, ScopeKind.SCHOOL, SCHOOL_SCOPE_ID),
        ]
        # Once each, and never the applicant (a college leader who applied has the results).
        told = {request.requester_person_id}
        applicant = await session.get(Person, request.requester_person_id)
        for holder in await repo.holders(session, wanted):
            if holder.telegram_user_id is None or holder.person_id in told:
                continue
            told.add(holder.person_id)
            language = pick_language(holder.language, self.kit.default)
            text = self.kit.texts.render(
                language,
                "project_results_card",
                request=request,
                result=result,
                submitted=result.submitted_at.astimezone(self.kit.campus),
                applicant=applicant.name if applicant else "",
            )
            chat = holder.telegram_user_id
            outbox.enqueue(
                session,
                chat,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=now,
            )
            for number, file in enumerate(result.files, start=1):
                caption = self.kit.texts.render(
                    language,
                    "project_results_file",
                    request=request,
                    number=number,
                    count=len(result.files),
                    file_name=file.get("name"),
                )
                method, field = _SEND[file["kind"]]
                outbox.enqueue(
                    session,
                    chat,
                    method,
                    {field: file["file_id"], "caption": caption, "parse_mode": "HTML"},
                    priority=Priority.BULK,
                    now=now,
                )


# How each kind of file a person sent is sent on: the method, and its field for the file id.
_SEND = {"photo": ("sendPhoto", "photo"), "document": ("sendDocument", "document")}


def _funded(request: Request) -> bool:
    """Whether a project was approved with a budget: the only ones that have results."""
    return request.status is RequestStatus.APPROVED and "granted" in request.detail


async def _awaiting_results(session: AsyncSession, person_id: int) -> list[Request]:
    """The person's funded projects with no results yet, oldest first."""
    rows = await session.scalars(
        select(Request)
        .outerjoin(ProjectResult, ProjectResult.request_id == Request.id)
        .where(
            Request.kind == RequestKind.PROJECT,
            Request.requester_person_id == person_id,
            Request.status == RequestStatus.APPROVED,
            ProjectResult.request_id.is_(None),
        )
        .order_by(Request.id)
    )
    return [request for request in rows if _funded(request)]


async def _reachable(session: AsyncSession, stage: Stage, requester_id: int) -> list[repo.Holder]:
    """The linked people holding the stage's grant, but not the applicant."""
    return [
        h
        for h in await repo.holders(session, [(stage.role, stage.scope_kind, stage.scope_id)])
        if h.telegram_user_id is not None and h.person_id != requester_id
    ]


async def _unit_of(session: AsyncSession, actor: Actor) -> tuple[Community | None, College | None]:
    """Where an application belongs: the community where the applicant is counsellor or
    workstation head (the first, if several) and its college; else the applicant's own college,
    with the community they live in, if it is one of that college's."""
    for grant in actor.grants:
        if grant.role in COMMUNITY_ROLES and grant.scope_kind is ScopeKind.COMMUNITY:
            community = await session.get(Community, grant.scope_id)
            if community is not None:
                return community, await session.get(College, community.college_id)
    college = await session.get(College, actor.college.id) if actor.college else None
    home = await session.get(Community, actor.home.community.id) if actor.home else None
    if college is None or home is None or home.college_id != college.id:
        return None, college
    return home, college


def _capacity(actor: Actor, community: Community | None) -> str:
    """The role the applicant applies in (counsellor or workstation head of ``community``),
    else their status: what the review cards call them."""
    for grant in actor.grants:
        if (
            community is not None
            and grant.role in COMMUNITY_ROLES
            and grant.scope_kind is ScopeKind.COMMUNITY
            and grant.scope_id == community.id
        ):
            return str(grant.role)
    return str(actor.status)


async def _requester_subject(session: AsyncSession, request: Request) -> dict[str, object]:
    """The applicant's facts for the policies about their project."""
    person = await session.get(Person, request.requester_person_id)
    assert person is not None
    return people.rule_subject(await identity.person_actor(session, person))


def _named(unit: College | Community) -> dict[str, Any]:
    return {"id": unit.id, "code": unit.code, "zh": unit.name_zh, "en": unit.name_en}
