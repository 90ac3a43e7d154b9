"""Grid issues (网格问题): a report is routed by the rules to a role of the reporter's grid.

"人往网中走、事在格中办": the grid party member, floor leader or counsellor responsible for the
reporter's floor gets the report through the outbox, and the reporter is told who has it. A report
left unresolved climbs its chain (``rules/escalation.yaml``: by default the plan's grid chain, grid
party member → grid party group leader → party branch secretary → college party organisation
leader) at each deadline, to the next tier with someone who can be reached (services/escalation.py);
when nobody holding the role the rules name can be reached (nobody linked to Telegram, or everyone
blocked the bot), it climbs at once. People not linked yet get the cards of what they hold when
they link (services/mine.py). A report about a student in difficulty is private: whatever the
rules say, it goes to the community's counsellors only, never climbs, and may be anonymous.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import GRID_ISSUE
from assistant.domain import Actor, Grant, IssueStatus, Language, Place, Role, ScopeKind
from assistant.flows.engine import Action, FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import ChainDecision, Rules, SubjectError
from assistant.schedule import Handler, firings
from assistant.services import escalation, people
from assistant.services.escalation import Climb, Taken
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import AuditEntry, Firing, GridIssue, Person, Priority
from assistant.texts import Texts, pick_language

PRIVATE_CATEGORIES = frozenset({"student_in_need"})


async def my_dorm(context: FlowContext) -> list[Option]:
    """The reporter's dorm room, offered as the location."""
    place = context.actor.home
    if place is None:
        return []
    return [
        Option(
            f"{place.building.code}-{place.room}",
            {
                "zh-CN": f"{place.building.zh} {place.room} 室",
                "en": f"{place.building.en}, room {place.room}",
            },
        )
    ]


def names(kit: Kit) -> Names:
    """The location provider and the report action of ``conversations/report_issue.yaml``, the
    questions a card's buttons ask first (reopen, cannot resolve, not ours), and the escalation
    of reports left unresolved."""
    moves = Moves(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        providers={"my_dorm": my_dorm, "grid.pass_targets": moves.pass_targets},
        actions={
            "grid.report": report(kit.rules, kit.texts, kit.default, kit.campus),
            "grid.reopen": moves.reopen,
            "grid.not_resolvable": moves.not_resolvable,
            "grid.pass_on": moves.pass_on,
        },
        firings={"grid.escalate": escalate(kit.rules, kit.texts, kit.default)},
    )


def handling_roles(rules: Rules) -> frozenset[Role]:
    """The roles a report can be with: those the routing rules assign, the tiers of the chains
    it climbs (and who has it when nobody there can be reached), and the counsellors (private
    reports, and any report passed on to them)."""
    assigned = {rule.outcome.assign for rule in rules.routing if rule.outcome.assign is not None}
    chains = [rule.outcome for rule in rules.escalation] or [rules.chain(None).outcome]
    climbed = {tier.role for chain in chains for tier in chain.tiers}
    last = {chain.otherwise for chain in chains if chain.otherwise is not None}
    return frozenset({*assigned, *climbed, *last, Role.COUNSELLOR})


def chain_of(rules: Rules, issue: GridIssue) -> ChainDecision:
    """The chain ``issue`` climbs, decided on the facts it was routed on; a report stored without
    them, or with facts today's rules no longer read, climbs the file's default chain."""
    try:
        return rules.chain(issue.routing_subject or None)
    except SubjectError:
        return rules.chain(None)


async def plan_deadline(
    session: AsyncSession, rules: Rules, issue: GridIssue, tier: int
) -> datetime:
    """Plan the next escalation of ``issue``, the hours its chain gives the role that has it
    (for its urgency) from now, in the report's current round."""
    hours = chain_of(rules, issue).outcome.hours_at(issue.assignee_role, issue.urgency)
    deadline = issue.updated_at + timedelta(hours=hours)
    # Round 0 keeps the key it always had; a reopened or passed-on report plans anew.
    round_key = f"r{issue.round}:" if issue.round else ""
    await firings.plan(
        session,
        [
            {
                "key": f"grid:{issue.id}:{round_key}escalate:{tier}",
                "kind": "grid.escalate",
                "due_at": deadline,
                "payload": {"issue": issue.id, "tier": tier, "round": issue.round},
            }
        ],
        now=issue.updated_at,
    )
    return deadline


def escalate(rules: Rules, texts: Texts, default: Language) -> Handler:
    """At a report's deadline, if it is still open, it climbs its chain to the next tier with
    someone who can be reached (:func:`escalation.climb`).

    A private report (a student in difficulty) never leaves the counsellors: they are reminded
    instead, as are the people who have a report with nobody above to take it. Every climb is
    audited with the rule that chose the chain and the tiers skipped, and why; the new holders
    get the card, the roles the chain names are told, the earlier holders' cards lose their
    buttons, and the reporter is told who has it now and the next deadline.
    """

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        cards = Cards(texts, default)
        for firing in due:
            issue = await session.get(GridIssue, int(firing.payload["issue"]), with_for_update=True)
            if issue is None or issue.status not in _OPEN or issue.floor_id is None:
                continue
            if int(firing.payload.get("round", 0)) != issue.round:
                continue  # planned before the report was reopened or passed on
            place = await repo.place_of_floor(session, issue.floor_id)
            assert place is not None
            reporter = await session.get(Person, issue.reporter_person_id)
            assert reporter is not None
            shown = None if issue.anonymous else reporter.name
            detail: dict[str, object] = {"issue": issue.id, "private": True}
            climbed = Climb(None)
            if not issue.private:
                decision = chain_of(rules, issue)
                climbed = await escalation.climb(
                    session, decision.outcome, issue.assignee_role, place, reporter_id=reporter.id
                )
                detail = {"issue": issue.id, "chain": decision.rule_id, **climbed.detail()}
            if climbed.to is None:
                # Nobody above (or a private report): the people who have it are reminded.
                session.add(
                    AuditEntry(
                        at=now,
                        actor_person_id=None,
                        action="grid.reminded",
                        detail={**detail, "role": issue.assignee_role},
                    )
                )
                await cards.remind(session, issue, place, reporter=shown, now=now)
                continue
            taken = climbed.to
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=None,
                    action="grid.escalated",
                    detail={**detail, "from": issue.assignee_role, "to": taken.role},
                )
            )
            issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id = (
                taken.role,
                *taken.scope,
            )
            issue.updated_at = now
            await cards.hand_over(session, issue, place, "climbed", reporter=shown, now=now)
            for holder in taken.holders:
                if holder.telegram_user_id is not None:
                    cards.send(session, issue, place, holder, owner=True, reporter=shown, now=now)
            await cards.inform(
                session,
                issue,
                place,
                climbed.inform,
                reporter=shown,
                reporter_id=reporter.id,
                now=now,
            )
            deadline = await plan_deadline(session, rules, issue, int(firing.payload["tier"]) + 1)
            account = await repo.account_of(session, reporter.id)
            if account is not None:
                chosen = pick_language(account.language, default)
                outbox.enqueue(
                    session,
                    account.telegram_user_id,
                    "sendMessage",
                    {
                        "text": texts.render(
                            chosen,
                            "grid_escalated",
                            issue=issue,
                            place=place,
                            role=str(taken.role),
                            deadline=deadline,
                        ),
                        "parse_mode": "HTML",
                    },
                    priority=Priority.BULK,
                    now=now,
                )

    return fire


async def _taken_at_submit(
    session: AsyncSession,
    rules: Rules,
    routed: Role,
    place: Place,
    subject: dict[str, object],
    *,
    reporter_id: int,
    private: bool,
) -> tuple[Taken, Climb | None]:
    """Who has a new report routed to ``routed``: that role when someone holding it can be
    reached (or the report is private: it waits for the counsellors); else the first tier up
    its chain where someone can (with the climb, for the audit); when nobody can anywhere,
    ``routed`` itself, whose cards wait for its holders to link, or the community's counsellors
    where the campus has no unit of ``routed`` for the place."""
    scope = await escalation.unit_of(session, routed, place)
    taken = None
    if scope is not None:
        taken = Taken(
            routed, scope, await escalation.holders_but(session, routed, scope, reporter_id)
        )
        if private or taken.reachable:
            return taken, None
    chain = rules.chain(subject).outcome
    climbed = await escalation.climb(session, chain, routed, place, reporter_id=reporter_id)
    if climbed.to is not None:
        return climbed.to, climbed
    if taken is None:
        scope = (ScopeKind.COMMUNITY, place.community.id)
        holders = await escalation.holders_but(session, Role.COUNSELLOR, scope, reporter_id)
        taken = Taken(Role.COUNSELLOR, scope, holders)
    return taken, None


def report(rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> Action:
    """The ``grid.report`` action: store the report, route it, tell the people who have it."""

    async def submit(context: FlowContext) -> Submitted:
        session, actor, answers = context.session, context.actor, context.answers
        place = actor.home
        if place is None:
            raise Refused("grid_no_home")
        local = context.now.astimezone(campus)
        category = str(answers["category"])
        private = category in PRIVATE_CATEGORIES
        subject = {
            "category": category,
            "urgency": str(answers["urgency"]),
            "private": private,
            "anonymous": bool(answers.get("anonymous")),
            "building": place.building.code,
            "floor": place.floor,
            "community": place.community.code,
            "college": actor.college.code if actor.college else None,
            "reporter_status": str(actor.status),
            "reporter_roles": [str(g.role) for g in actor.grants],
            "hour": local.hour,
            "weekday": local.isoweekday(),
            **rules.calendar.facts(local.date()),
        }
        decision = rules.route(subject)
        assigned = decision.outcome.assign
        assert assigned is not None, "the routing file ends with a rule that assigns"
        routed = Role.COUNSELLOR if private else assigned
        # Private matters stay with the counsellors, reachable or not.
        taken, climbed = await _taken_at_submit(
            session, rules, routed, place, subject, reporter_id=actor.person_id, private=private
        )
        role, scope = taken.role, taken.scope
        issue = GridIssue(
            reporter_person_id=actor.person_id,
            category=category,
            urgency=str(answers["urgency"]),
            description=str(answers["description"]),
            location=str(answers["location"]),
            photo_file_id=answers.get("photo"),
            private=private,
            anonymous=private and bool(answers.get("anonymous")),
            floor_id=place.floor_id,
            status=IssueStatus.OPEN,
            assignee_role=role,
            assignee_scope_kind=scope[0],
            assignee_scope_id=scope[1],
            routed_by=decision.rule_id or "",
            routing_subject=dict(subject),
            created_at=context.now,
            updated_at=context.now,
        )
        session.add(issue)
        await session.flush()
        if role is not routed:
            detail: dict[str, object] = {"issue": issue.id, "from": routed, "to": role}
            if climbed is not None:
                detail |= {"chain": rules.chain(subject).rule_id, **climbed.detail()}
            session.add(
                AuditEntry(
                    at=context.now, actor_person_id=None, action="grid.rerouted", detail=detail
                )
            )
        wanted = [(role, *scope)]
        if not private:
            for notified in decision.outcome.notify:
                unit = await escalation.unit_of(session, notified, place)
                wanted += [(notified, *unit)] if unit is not None else []
        holders = [h for h in await repo.holders(session, wanted) if h.person_id != actor.person_id]
        cards = Cards(texts, default)
        shown = None if issue.anonymous else actor.name
        for holder in holders:
            if holder.telegram_user_id is not None:
                cards.send(
                    session,
                    issue,
                    place,
                    holder,
                    owner=holder.role == role,
                    now=context.now,
                    reporter=shown,
                )
        if climbed is not None:
            await cards.inform(
                session,
                issue,
                place,
                climbed.inform,
                reporter=shown,
                reporter_id=actor.person_id,
                now=context.now,
            )
        deadline = await plan_deadline(session, rules, issue, tier=1)
        return Submitted(
            "grid_reported",
            {
                "issue": issue,
                "place": place,
                "role": str(role),
                "rerouted_from": str(routed) if role is not routed else None,
                "reachable": taken.reachable,
                "assignees": [h.name for h in taken.holders if h.reachable or not taken.reachable],
                "deadline": deadline,
            },
        )

    return submit


class Handling(enum.StrEnum):
    """What a press of a card's button did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    TOO_LATE = "too_late"
    # The button asks a question first (:data:`ASKING`); nothing has changed yet.
    ASK = "ask"


CLOSING = {
    "res": IssueStatus.RESOLVED,
    "unr": IssueStatus.NOT_RESOLVABLE,
    "not": IssueStatus.NOT_OURS,
    "dup": IssueStatus.DUPLICATE,
}
ACTIONS = frozenset({"ack", "reo", *CLOSING})
ASKING = {"reo": "grid_reopen", "unr": "grid_unresolvable", "not": "grid_not_ours"}
"""The buttons that ask first, and the conversation each starts: why the reporter reopens, why
a report cannot be resolved, and where a report that is not ours belongs (or why)."""
_OPEN = (IssueStatus.OPEN, IssueStatus.ACKNOWLEDGED)


class Cards:
    """The messages about one report: cards to the people who have it, news to the reporter.

    Cards carry ``ref`` "grid:<id>:owner" (with buttons) or "grid:<id>:info" in the outbox, so
    that when the report moves on every card of it is brought up to date, sent or still waiting.
    An owner's card the report has moved on from ends in how it went: "climbed", "passed" or
    "reopened"; each card's heading says where the report stands for its reader.
    """

    def __init__(self, texts: Texts, default: Language) -> None:
        self.texts = texts
        self.default = default

    def _card(
        self,
        language: Language,
        issue: GridIssue,
        place: Place,
        *,
        held: str,
        reporter: str | None,
        decided_by: str | None = None,
    ) -> dict[str, object]:
        payload: dict[str, object] = {
            "text": self.texts.render(
                language,
                "grid_card",
                issue=issue,
                place=place,
                held=held,
                reporter=reporter,
                decided_by=decided_by,
            ),
            "parse_mode": "HTML",
        }
        actions = ["ack", *CLOSING] if issue.status is IssueStatus.OPEN else list(CLOSING)
        if held == "owner" and issue.status in _OPEN:
            payload["reply_markup"] = _keyboard(self.texts, language, issue.id, actions)
        return payload

    def send(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        holder: repo.Holder,
        *,
        owner: bool,
        reporter: str | None,
        now: datetime,
    ) -> None:
        """Queue the card of ``issue`` to one of the people who have it or should know."""
        assert holder.telegram_user_id is not None
        language = pick_language(holder.language, self.default)
        self.send_to(
            session,
            issue,
            place,
            holder.telegram_user_id,
            language,
            owner=owner,
            reporter=reporter,
            now=now,
        )

    def send_to(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        chat_id: int,
        language: Language,
        *,
        owner: bool,
        reporter: str | None,
        now: datetime,
        told: bool = False,
    ) -> None:
        """Queue the card of ``issue`` to one chat, in ``language``; a change rewrites it. The
        photo the reporter attached follows it, so whoever gets the card sees it, and nobody
        else: a private report's photo goes only where its cards go, and cannot be forwarded or
        saved from there. A card ``told`` is the copy a chain's tier sends for information, which
        says who has the report now."""
        held = "owner" if owner else "told" if told else "info"
        outbox.enqueue(
            session,
            chat_id,
            "sendMessage",
            self._card(language, issue, place, held=held, reporter=reporter),
            priority=Priority.BULK,
            now=now,
            ref=f"grid:{issue.id}:{held}",
        )
        if issue.photo_file_id:
            photo: dict[str, object] = {
                "photo": issue.photo_file_id,
                "caption": self.texts.render(language, "grid_photo", issue=issue, place=place),
                "parse_mode": "HTML",
            }
            if issue.private:
                photo.update(protect_content=True, has_spoiler=True)
            # No ref: the card is what a change rewrites; the photo stays as it was.
            outbox.enqueue(session, chat_id, "sendPhoto", photo, priority=Priority.BULK, now=now)

    async def refresh(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        *,
        reporter: str | None,
        decided_by: str | None,
        now: datetime,
    ) -> None:
        """Bring every card of ``issue`` up to date: waiting ones rewritten, sent ones edited."""
        for row in await outbox.by_ref(session, f"grid:{issue.id}:"):
            language = pick_language(await repo.language_of(session, row.chat_id), self.default)
            held = (row.ref or "").rsplit(":", 1)[-1]
            payload = self._card(
                language, issue, place, held=held, reporter=reporter, decided_by=decided_by
            )
            outbox.rewrite(session, row, payload, now=now)

    async def hand_over(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        how: str,
        *,
        reporter: str | None,
        now: datetime,
    ) -> None:
        """The report moved on (``how``: "climbed", "passed" or "reopened"): the earlier
        holders' cards lose their buttons and say so."""
        for row in await outbox.by_ref(session, f"grid:{issue.id}:owner"):
            row.ref = f"grid:{issue.id}:{how}"
        await self.refresh(session, issue, place, reporter=reporter, decided_by=None, now=now)

    async def remind(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        *,
        reporter: str | None,
        now: datetime,
    ) -> None:
        """The report is past its deadline with nobody above to take it: its holders hear again."""
        wanted = [(issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id)]
        for holder in await repo.holders(session, wanted):
            if holder.telegram_user_id is not None:
                self.send(session, issue, place, holder, owner=True, reporter=reporter, now=now)

    async def inform(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        roles: Iterable[Role],
        *,
        reporter: str | None,
        reporter_id: int,
        now: datetime,
    ) -> None:
        """Send the holders of ``roles`` over the report's place (the counsellors of its
        community) a copy for information, once: whoever has a card of the report already (the
        people who have it, those told before) sees it follow the report there."""
        wanted = []
        for role in roles:
            unit = await escalation.unit_of(session, role, place)
            wanted += [(role, *unit)] if unit is not None else []
        have = {row.chat_id for row in await outbox.by_ref(session, f"grid:{issue.id}:")}
        for holder in await repo.holders(session, wanted):
            chat_id = holder.telegram_user_id
            if chat_id is None or chat_id in have or holder.person_id == reporter_id:
                continue
            have.add(chat_id)
            language = pick_language(holder.language, self.default)
            self.send_to(
                session,
                issue,
                place,
                chat_id,
                language,
                owner=False,
                told=True,
                reporter=reporter,
                now=now,
            )

    def tell_reporter(
        self,
        session: AsyncSession,
        issue: GridIssue,
        place: Place,
        chat_id: int,
        language: str | None,
        *,
        reopen_days: int,
        now: datetime,
    ) -> None:
        """Queue the news of a status change to the reporter (with Reopen when it closed)."""
        chosen = pick_language(language, self.default)
        closing = issue.status not in _OPEN
        payload: dict[str, object] = {
            "text": self.texts.render(
                chosen,
                "grid_status",
                issue=issue,
                place=place,
                closing=closing,
                reopen_days=reopen_days,
            ),
            "parse_mode": "HTML",
        }
        if closing:
            payload["reply_markup"] = _keyboard(self.texts, chosen, issue.id, ["reo"])
        outbox.enqueue(session, chat_id, "sendMessage", payload, priority=Priority.BULK, now=now)


def _keyboard(
    texts: Texts, language: Language, issue_id: int, actions: list[str]
) -> dict[str, object]:
    buttons = [
        {
            "text": texts.render(language, f"grid_button_{action}"),
            "callback_data": GRID_ISSUE.pack(issue=issue_id, action=action),
        }
        for action in actions
    ]
    return {"inline_keyboard": [buttons[i : i + 2] for i in range(0, len(buttons), 2)]}


def may_handle(actor: Actor, issue: GridIssue, place: Place) -> bool:
    """The people a report is with, and the counsellors of its community, may move it on."""
    held = Grant(issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id)
    return held in actor.grants or _counsels(actor, place)


async def handle(
    session: AsyncSession,
    actor: Actor,
    issue_id: int,
    action: str,
    *,
    rules: Rules,
    cards: Cards,
    now: datetime,
) -> tuple[Handling, int]:
    """Move report ``issue_id`` on as ``action`` says, if ``actor`` may; returns what happened.

    The button that asked is never the permission: authority is checked here, and a refusal is
    audited. The first decision wins; a later press finds the report already moved on. A button
    of :data:`ASKING` changes nothing yet (its conversation's Submit does, checked again). The
    second value is the reopen window in days, for messages that mention it.
    """
    checked = await _checked(session, actor, issue_id, action, rules=rules, now=now)
    if isinstance(checked, tuple):
        return checked
    if action in ASKING:
        return Handling.ASK, checked.reopen_days
    issue = checked.issue
    if action == "ack":
        issue.status = IssueStatus.ACKNOWLEDGED
    else:
        issue.status, issue.closed_at = CLOSING[action], now
    await _moved(session, actor, checked, cards, now=now)
    return Handling.DONE, checked.reopen_days


@dataclass(frozen=True)
class _Checked:
    """A report ``actor`` may move on as asked, where it is, and the reopen window."""

    issue: GridIssue
    place: Place
    reporter: Person
    reopen_days: int

    @property
    def shown(self) -> str | None:
        """The reporter's name as cards show it."""
        return None if self.issue.anonymous else self.reporter.name


async def _checked(
    session: AsyncSession, actor: Actor, issue_id: int, action: str, *, rules: Rules, now: datetime
) -> _Checked | tuple[Handling, int]:
    """The report, when ``actor`` may do ``action`` to it now; else what to say (refusals are
    audited)."""
    issue = await session.get(GridIssue, issue_id, with_for_update=True)
    subject = people.rule_subject(actor)
    reopen_days = int(rules.policy("grid.reopen_days", subject).outcome.value)
    if issue is None or issue.floor_id is None or action not in ACTIONS:
        return Handling.ALREADY, reopen_days
    place = await repo.place_of_floor(session, issue.floor_id)
    assert place is not None
    if action == "reo":
        allowed = issue.reporter_person_id == actor.person_id
    else:
        allowed = may_handle(actor, issue, place)
    if not allowed:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="grid.refused",
                detail={"issue": issue.id, "action": action},
            )
        )
        return Handling.NOT_ALLOWED, reopen_days
    if action == "reo":
        if issue.status in _OPEN:
            return Handling.ALREADY, reopen_days
        if issue.closed_at is None or now - issue.closed_at > timedelta(days=reopen_days):
            return Handling.TOO_LATE, reopen_days
    elif issue.status not in (_OPEN if action != "ack" else (IssueStatus.OPEN,)):
        return Handling.ALREADY, reopen_days
    reporter = await session.get(Person, issue.reporter_person_id)
    assert reporter is not None
    return _Checked(issue, place, reporter, reopen_days)


async def _moved(
    session: AsyncSession, actor: Actor, checked: _Checked, cards: Cards, *, now: datetime
) -> None:
    """The report's status changed: audit it, bring its cards up to date, tell the reporter."""
    issue = checked.issue
    issue.updated_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_person_id=actor.person_id,
            action=f"grid.{issue.status}",
            detail={"issue": issue.id},
        )
    )
    await cards.refresh(
        session, issue, checked.place, reporter=checked.shown, decided_by=actor.name, now=now
    )
    account = await repo.account_of(session, checked.reporter.id)
    if account is not None:
        cards.tell_reporter(
            session,
            issue,
            checked.place,
            account.telegram_user_id,
            account.language,
            reopen_days=checked.reopen_days,
            now=now,
        )


def _note(issue: GridIssue, kind: str, by: str | None, text: str, now: datetime) -> None:
    issue.notes = [
        *issue.notes,
        {"kind": kind, "by": by, "text": text, "at": now.isoformat(timespec="minutes")},
    ]


class Moves:
    """The questions a card's buttons ask first, and what their answers do: reopen a closed
    report (the reporter, with a reason), close one that cannot be resolved (with why), and pass
    on one that is not ours to where it belongs (or close it, with why, where nobody else could
    take it). A report passed on or reopened starts a new round: its holders get a new card and
    it climbs the chain afresh."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus

    async def _checked(self, context: FlowContext, action: str) -> _Checked:
        checked = await _checked(
            context.session,
            context.actor,
            int(context.answers["issue"]),
            action,
            rules=self.rules,
            now=context.now,
        )
        if isinstance(checked, tuple):
            handling, reopen_days = checked
            raise Refused(f"grid_{handling}", reopen_days=reopen_days)
        return checked

    async def reopen(self, context: FlowContext) -> Submitted:
        """``grid.reopen``: the reporter reopens a closed report, saying why."""
        checked = await self._checked(context, "reo")
        issue = checked.issue
        issue.status, issue.closed_at = IssueStatus.OPEN, None
        # An anonymous reporter stays anonymous in what the handlers read.
        by = checked.shown
        _note(issue, "reopened", by, str(context.answers["reason"]), context.now)
        await self._new_round(context, checked, "grid.reopened", "reopened")
        return Submitted("grid_reopened", {"issue": issue, "place": checked.place})

    async def not_resolvable(self, context: FlowContext) -> Submitted:
        """``grid.not_resolvable``: the report is closed as one that cannot be resolved, and the
        reporter is told why."""
        checked = await self._checked(context, "unr")
        issue = checked.issue
        issue.status, issue.closed_at = IssueStatus.NOT_RESOLVABLE, context.now
        _note(
            issue, "not_resolvable", context.actor.name, str(context.answers["reason"]), context.now
        )
        await _moved(context.session, context.actor, checked, self._cards(), now=context.now)
        return Submitted("grid_closed", {"issue": issue, "place": checked.place})

    async def pass_targets(self, context: FlowContext) -> list[Option]:
        """Where a report that is not ours may go: another floor of its building (not for a
        private report), the community's counsellors, and for a counsellor, closing it."""
        session = context.session
        issue = await session.get(GridIssue, int(context.answers["issue"]))
        if issue is None or issue.floor_id is None:
            return []
        place = await repo.place_of_floor(session, issue.floor_id)
        assert place is not None
        found: list[Option] = []
        if not issue.private:
            found += [
                self._option(f"floor:{floor.floor_id}", "grid_not_ours/to_floor", place=floor)
                for floor in await repo.floors_of_building(session, place.building.id)
                if floor.floor_id != issue.floor_id
            ]
        if issue.assignee_role is not Role.COUNSELLOR:
            found.append(self._option("counsellor", "grid_not_ours/to_counsellor", place=place))
        if _counsels(context.actor, place):
            found.append(self._option("close", "grid_not_ours/to_close", place=place))
        return found

    def _option(self, value: str, template: str, **variables: object) -> Option:
        return Option(
            value,
            {
                language: self.texts.render(language, template, **variables)
                for language in self.texts.languages()
            },
        )

    async def pass_on(self, context: FlowContext) -> Submitted:
        """``grid.pass_on``: a report that is not ours goes where the handler says it belongs,
        with why; never a dead end for the reporter."""
        checked = await self._checked(context, "not")
        if str(context.answers["to"]) not in {o.value for o in await self.pass_targets(context)}:
            raise Refused("grid_not_allowed", reopen_days=checked.reopen_days)
        session, issue, reason = context.session, checked.issue, str(context.answers["reason"])
        target = str(context.answers["to"])
        if target == "close":
            issue.status, issue.closed_at = IssueStatus.NOT_OURS, context.now
            _note(issue, "not_ours", context.actor.name, reason, context.now)
            await _moved(session, context.actor, checked, self._cards(), now=context.now)
            return Submitted("grid_closed", {"issue": issue, "place": checked.place})
        place = checked.place
        if target.startswith("floor:"):
            floor = await repo.place_of_floor(session, int(target.removeprefix("floor:")))
            assert floor is not None, "offered by pass_targets"
            place = floor
        role = Role.FLOOR_LEADER if target.startswith("floor:") else Role.COUNSELLOR
        scope = await escalation.unit_of(session, role, place)
        assert scope is not None, "a floor and a community are always there"
        if not any(h.telegram_user_id for h in await repo.holders(session, [(role, *scope)])):
            # Nobody there can take it yet: the community's counsellors have it instead.
            role, scope = Role.COUNSELLOR, (ScopeKind.COMMUNITY, place.community.id)
        issue.floor_id = place.floor_id
        issue.status = IssueStatus.OPEN
        issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id = role, *scope
        _note(issue, "passed_on", context.actor.name, reason, context.now)
        moved = _Checked(issue, place, checked.reporter, checked.reopen_days)
        holders = await self._new_round(context, moved, "grid.passed_on", "passed")
        account = await repo.account_of(session, checked.reporter.id)
        if account is not None:
            chosen = pick_language(account.language, self.default)
            text = self.texts.render(
                chosen, "grid_passed_on", issue=issue, place=place, role=str(role), reason=reason
            )
            outbox.enqueue(
                session,
                account.telegram_user_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=context.now,
            )
        return Submitted(
            "grid_passed", {"issue": issue, "place": place, "role": str(role), "holders": holders}
        )

    def _cards(self) -> Cards:
        return Cards(self.texts, self.default)

    async def _new_round(
        self, context: FlowContext, checked: _Checked, action: str, how: str
    ) -> list[str]:
        """The report starts afresh with whoever has it now: audited, the earlier cards lose
        their buttons and say ``how`` it moved on, the holders get a new card, the escalation
        is planned anew. Returns the names of the holders who got it."""
        session, issue, now = context.session, checked.issue, context.now
        issue.round += 1
        issue.updated_at = now
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=context.actor.person_id,
                action=action,
                detail={"issue": issue.id, "to": issue.assignee_role, "round": issue.round},
            )
        )
        cards = self._cards()
        await cards.hand_over(session, issue, checked.place, how, reporter=checked.shown, now=now)
        wanted = [(issue.assignee_role, issue.assignee_scope_kind, issue.assignee_scope_id)]
        holders = [
            h
            for h in await repo.holders(session, wanted)
            if h.telegram_user_id is not None and h.person_id != checked.reporter.id
        ]
        for holder in holders:
            cards.send(
                session, issue, checked.place, holder, owner=True, reporter=checked.shown, now=now
            )
        await plan_deadline(session, self.rules, issue, tier=1)
        return [h.name for h in holders]


def _counsels(actor: Actor, place: Place) -> bool:
    return Grant(Role.COUNSELLOR, ScopeKind.COMMUNITY, place.community.id) in actor.grants
