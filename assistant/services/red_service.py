"""The Red Service Team (红色服务队, work plan item 6): a student asks, the first volunteer takes.

A student living in a community asks for help in a guided conversation (conversations/
red_service.yaml: a kind, what is wrong, a day, a time window and where, from rules/
red_service.yaml). The first route of the file that matches names the role of the community
offered the request: each of its holders gets a card with "I'll help" through the outbox. The
first to press it gets the request (a conditional update: two presses at once, one wins); every
card is rewritten to say who took it, and the student is told who is coming. The student marks it
done and may thank the volunteer, whose hours (the kind's) are recorded for the year's
evaluation. Untaken after the route's hours, the request goes to the first role of its
``escalate_to`` with someone who can be reached (the team leader, else the counsellor), who may
take it too; untaken when its window ends, it lapses and the student is told.

Authority is checked here for every press: only holders, in the request's community, of a role
it was offered to may take it, never the student who asked; only that student marks it done.
Cards show the student's name and the place only to the volunteer who took it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import Actor, Grant, Language, Role, ScopeKind, ServiceStatus
from assistant.flows.engine import Action, FlowContext, Refused, StartCheck, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.rules.red_service import RedService, ServiceRoute, Window
from assistant.schedule import Handler, firings
from assistant.services import people
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Community,
    Firing,
    FiringStatus,
    Person,
    Priority,
    ServiceRequest,
)
from assistant.texts import Texts, pick_language

RED_SERVICE = CallbackCodec("rs", ("request", "op"))
"""Buttons about a request: only the request and what was pressed; who may is decided here."""
TAKE = "t"
DONE = "d"
OPS = frozenset({TAKE, DONE})
ESCALATE, LAPSE = "red_service.escalate", "red_service.lapse"
THANKS = "red_service_thanks"
"""The conversation Done starts: the student's thanks, then the request is done."""


class Handling(enum.StrEnum):
    """What a press about a request did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    # Somebody took it first, or it is over (done, lapsed, gone).
    ALREADY = "already"
    TOO_LATE = "too_late"


@dataclass(frozen=True)
class Pressed:
    """The outcome of a press, and who took the request when someone did."""

    handling: Handling
    taker: str | None = None


@dataclass(frozen=True)
class RequestView:
    """A request as messages show it (campus time, both languages)."""

    id: int
    reference: str
    kind: str
    kind_zh: str
    kind_en: str
    detail: str
    day: date
    start: str
    end: str
    window_zh: str
    window_en: str
    building_zh: str
    building_en: str
    community_zh: str
    community_en: str
    status: str
    # The role it went up to when nobody took it in time, else None.
    escalated_role: str | None
    requester: str
    # The place as the student gave it: their dorm ("B1-101") is named by its building.
    place_zh: str
    place_en: str
    taker: str | None
    hours: float | None
    thanks: str | None


def names(kit: Kit) -> Names:
    """The conversation's providers, checks, facts and actions, and the two firing kinds."""
    team = Team(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        providers={"red_service.kinds": team.kind_options, "red_service.windows": team.windows},
        checks={
            "red_service.not_past": team.not_past,
            "red_service.in_days": team.in_days,
            "red_service.day_has_window": team.day_has_window,
        },
        facts={"red_service.facts": team.facts},
        start_checks={"red_service.open": team.open_check()},
        actions={"red_service.request": team.request(), "red_service.done": team.done()},
        firings={ESCALATE: team.escalation(), LAPSE: team.lapse()},
    )


class Team:
    """Requests for the Red Service Team of ``rules.red_service``."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus

    # --- the conversation ------------------------------------------------------------------

    def _file(self) -> RedService:
        team = self.rules.red_service
        if team is None:
            raise Refused("red_service_closed")
        return team

    def today(self, now: datetime) -> date:
        """The campus day of ``now``."""
        return now.astimezone(self.campus).date()

    def open_check(self) -> StartCheck:
        """``red_service.open``: there is a team to ask (the file exists) and the student lives
        in a community, whose team it would be."""

        async def check(context: FlowContext) -> None:
            self._file()
            if context.actor.home is None:
                raise Refused("red_service_no_home")

        return check

    async def kind_options(self, context: FlowContext) -> list[Option]:
        """``red_service.kinds``: what the team helps with."""
        team = self.rules.red_service
        kinds = team.kinds.values() if team is not None else ()
        return [Option(kind.id, kind.name) for kind in kinds]

    async def windows(self, context: FlowContext) -> list[Option]:
        """``red_service.windows``: the windows of the day chosen that have not ended yet."""
        day = _day(context.answers.get("day"))
        if day is None or self.rules.red_service is None:
            return []
        return [
            Option(window.id, self._window_label(window))
            for window in self.rules.red_service.windows.values()
            if self._moments(day, window)[1] > context.now
        ]

    def _window_label(self, window: Window) -> dict[str, str]:
        times = f"{window.start:%H:%M}–{window.end:%H:%M}"
        return {language: f"{window.name[language]} {times}" for language in window.name}

    async def not_past(self, context: FlowContext, value: Any) -> bool:
        """The day is today or later."""
        day = _day(value)
        return day is not None and day >= self.today(context.now)

    async def in_days(self, context: FlowContext, value: Any) -> bool:
        """The day is no further ahead than the file's ``days_ahead``."""
        day, team = _day(value), self.rules.red_service
        if day is None or team is None:
            return False
        return day <= self.today(context.now) + timedelta(days=team.days_ahead)

    async def day_has_window(self, context: FlowContext, value: Any) -> bool:
        """A window of that day has not ended yet (late in the evening, today has none)."""
        day, team = _day(value), self.rules.red_service
        if day is None or team is None:
            return False
        return any(self._moments(day, w)[1] > context.now for w in team.windows.values())

    async def facts(self, context: FlowContext) -> dict[str, Any]:
        """What the questions state: how far ahead one may ask, and the last such day."""
        team = self.rules.red_service
        if team is None:
            return {"days_ahead": None, "last_day": None}
        last = self.today(context.now) + timedelta(days=team.days_ahead)
        return {"days_ahead": team.days_ahead, "last_day": last}

    def _moments(self, day: date, window: Window) -> tuple[datetime, datetime]:
        start = datetime.combine(day, window.start, self.campus).astimezone(UTC)
        return start, datetime.combine(day, window.end, self.campus).astimezone(UTC)

    def request(self) -> Action:
        """``red_service.request``: everything checked again, the request stored, the cards
        queued to the role its route names, its escalation and lapse planned."""

        async def submit(context: FlowContext) -> Submitted:
            session, actor, answers, now = (
                context.session,
                context.actor,
                context.answers,
                context.now,
            )
            team, place = self._file(), actor.home
            if place is None:
                raise Refused("red_service_no_home")
            decision = self.rules.allowed("red_service.request", people.rule_subject(actor))
            if not decision.outcome.allowed:
                reason = decision.outcome.reason
                raise Refused("flow_denied", reason=reason.text(context.language) if reason else "")
            kind = team.kinds.get(str(answers["kind"]))
            window = team.windows.get(str(answers["window"]))
            day = _day(answers["day"])
            if kind is None or window is None or day is None:
                raise Refused("red_service_gone")
            today = self.today(now)
            starts_at, ends_at = self._moments(day, window)
            if not today <= day <= today + timedelta(days=team.days_ahead) or ends_at <= now:
                raise Refused("red_service_gone")
            local = now.astimezone(self.campus)
            route = team.route(
                {
                    "kind": kind.id,
                    "window": window.id,
                    "days_ahead": (day - today).days,
                    "weekday": day.isoweekday(),
                    "is_holiday": bool(self.rules.calendar.facts(day)["is_holiday"]),
                    "hour": local.hour,
                    "community": place.community.code,
                    "building": place.building.code,
                    "floor": place.floor,
                    "college": actor.college.code if actor.college else None,
                    "requester_status": str(actor.status),
                }
            )
            volunteers = await self._holders(session, route.to, place.community.id, actor)
            above = await self._first_reachable(session, route, place.community.id, actor)
            if not volunteers and above is None:
                # Nobody of the team, nor above it, can get it: better said now than never.
                raise Refused("red_service_nobody", community=place.community)
            request = ServiceRequest(
                requester_person_id=actor.person_id,
                community_id=place.community.id,
                kind=kind.id,
                detail=str(answers["detail"]),
                place=str(answers["place"]),
                window=window.id,
                starts_at=starts_at,
                ends_at=ends_at,
                status=ServiceStatus.OPEN,
                routed_by=route.id,
                offered_to=[route.to.value],
                created_at=now,
                updated_at=now,
            )
            session.add(request)
            await session.flush()
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="red_service.requested",
                    detail={"request": request.id, "route": route.id, "to": route.to.value},
                )
            )
            await self._offer(session, request, volunteers, now)
            deadline = now + timedelta(hours=route.escalate_hours)
            await firings.plan(
                session,
                [
                    {
                        "key": f"rs:{request.id}:escalate",
                        "kind": ESCALATE,
                        "due_at": deadline,
                        "payload": {"request": request.id},
                    },
                    {
                        "key": f"rs:{request.id}:lapse",
                        "kind": LAPSE,
                        "due_at": ends_at,
                        "payload": {"request": request.id},
                    },
                ],
                now=now,
            )
            went_up: tuple[Role, list[repo.Holder]] | None = None
            if not volunteers:
                went_up = await self._escalate(session, request, route, now)
            view = await self.view(session, request)
            return Submitted(
                "red_service_requested",
                {
                    "request": view,
                    "role": str(route.to),
                    "volunteers": len(volunteers),
                    "escalated_to": str(went_up[0]) if went_up else None,
                    "leaders": [h.name for h in went_up[1]] if went_up else [],
                    "deadline": deadline,
                    "escalate_role": str(route.escalate_to[0]) if route.escalate_to else None,
                },
            )

        return submit

    async def _holders(
        self, session: AsyncSession, role: Role, community_id: int, requester: Actor | int
    ) -> list[repo.Holder]:
        """The reachable holders of ``role`` in the community, the student who asked aside."""
        asked = requester if isinstance(requester, int) else requester.person_id
        found = await repo.holders(session, [(role, ScopeKind.COMMUNITY, community_id)])
        return [h for h in found if h.reachable and h.person_id != asked]

    async def _first_reachable(
        self, session: AsyncSession, route: ServiceRoute, community_id: int, requester: Actor | int
    ) -> tuple[Role, list[repo.Holder]] | None:
        """The first role of the route's ``escalate_to`` with someone reachable, and them."""
        for role in route.escalate_to:
            holders = await self._holders(session, role, community_id, requester)
            if holders:
                return role, holders
        return None

    # --- cards -----------------------------------------------------------------------------

    async def _offer(
        self,
        session: AsyncSession,
        request: ServiceRequest,
        holders: Sequence[repo.Holder],
        now: datetime,
    ) -> None:
        """Queue a card with "I'll help" to each of ``holders`` who has none of it yet."""
        view = await self.view(session, request)
        carded = {row.chat_id for row in await outbox.by_ref(session, _offer_ref(request.id))}
        for holder in holders:
            if holder.telegram_user_id is None or holder.telegram_user_id in carded:
                continue
            carded.add(holder.telegram_user_id)
            language = pick_language(holder.language, self.default)
            outbox.enqueue(
                session,
                holder.telegram_user_id,
                "sendMessage",
                self._card(language, view, mine=False),
                priority=Priority.BULK,
                now=now,
                ref=_offer_ref(request.id),
            )

    def _card(self, language: Language, view: RequestView, *, mine: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "text": self.texts.render(language, "red_service_card", request=view, mine=mine),
            "parse_mode": "HTML",
        }
        if view.status == ServiceStatus.OPEN:
            payload["reply_markup"] = self._keyboard(language, view.id, TAKE)
        return payload

    def _keyboard(self, language: Language, request_id: int, op: str) -> dict[str, Any]:
        button = {
            "text": self.texts.render(language, f"red_service_button_{op}"),
            "callback_data": RED_SERVICE.pack(request=request_id, op=op),
        }
        return {"inline_keyboard": [[button]]}

    async def _refresh(self, session: AsyncSession, request: ServiceRequest, now: datetime) -> None:
        """Bring every card of ``request`` up to date: waiting ones rewritten, sent ones
        edited; the volunteer who took it reads the student's name and place in theirs."""
        view = await self.view(session, request)
        taker = None
        if request.volunteer_person_id is not None:
            account = await repo.account_of(session, request.volunteer_person_id)
            taker = account.telegram_user_id if account is not None else None
        for row in await outbox.by_ref(session, _offer_ref(request.id)):
            language = pick_language(await repo.language_of(session, row.chat_id), self.default)
            outbox.rewrite(
                session, row, self._card(language, view, mine=row.chat_id == taker), now=now
            )

    async def _tell(
        self,
        session: AsyncSession,
        person_id: int,
        template: str,
        now: datetime,
        *,
        ref: str | None = None,
        button: str | None = None,
        **variables: Any,
    ) -> None:
        """Queue ``template`` to ``person_id``, if they can be reached."""
        account = await repo.account_of(session, person_id)
        if account is None or account.unreachable_since is not None:
            return
        language = pick_language(account.language, self.default)
        payload: dict[str, Any] = {
            "text": self.texts.render(language, template, **variables),
            "parse_mode": "HTML",
        }
        request = variables.get("request")
        if button is not None and isinstance(request, RequestView):
            payload["reply_markup"] = self._keyboard(language, request.id, button)
        outbox.enqueue(
            session,
            account.telegram_user_id,
            "sendMessage",
            payload,
            priority=Priority.BULK,
            now=now,
            ref=ref,
        )

    # --- presses ---------------------------------------------------------------------------

    def _refused(
        self, session: AsyncSession, actor: Actor, request_id: int, op: str, now: datetime
    ) -> Pressed:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="red_service.refused",
                detail={"request": request_id, "op": op},
            )
        )
        return Pressed(Handling.NOT_ALLOWED)

    @staticmethod
    def may_take(actor: Actor, request: ServiceRequest) -> bool:
        """Whether ``actor`` holds, in the request's community, a role it was offered to, and
        is not the student who asked."""
        if actor.person_id == request.requester_person_id:
            return False
        offered = {role for role in Role if role.value in request.offered_to}
        return any(
            Grant(role, ScopeKind.COMMUNITY, request.community_id) in actor.grants
            for role in offered
        )

    async def take(
        self, session: AsyncSession, actor: Actor, request_id: int, now: datetime
    ) -> Pressed:
        """The "I'll help" button: the first of the people it was offered to gets it; the
        others' cards say who, and the student hears who is coming."""
        request = await session.get(ServiceRequest, request_id)
        if request is None:
            return Pressed(Handling.ALREADY)
        if not self.may_take(actor, request):
            return self._refused(session, actor, request_id, TAKE, now)
        if request.status is not ServiceStatus.OPEN:
            return await self._over(session, request)
        if now >= request.ends_at:
            return Pressed(Handling.TOO_LATE)
        # Two presses at once: the store lets only the first through.
        taken = await session.scalar(
            update(ServiceRequest)
            .where(ServiceRequest.id == request_id, ServiceRequest.status == ServiceStatus.OPEN)
            .values(
                status=ServiceStatus.TAKEN,
                volunteer_person_id=actor.person_id,
                taken_at=now,
                updated_at=now,
            )
            .returning(ServiceRequest.id)
            .execution_options(synchronize_session=False)
        )
        await session.refresh(request)
        if taken is None:
            return await self._over(session, request)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="red_service.taken",
                detail={"request": request.id},
            )
        )
        await self._unplan(session, request.id)
        await self._refresh(session, request, now)
        view = await self.view(session, request)
        await self._tell(
            session,
            request.requester_person_id,
            "red_service_coming",
            now,
            ref=f"rs:{request.id}:requester",
            button=DONE,
            request=view,
        )
        return Pressed(Handling.DONE)

    async def _over(self, session: AsyncSession, request: ServiceRequest) -> Pressed:
        """What a press of a request no longer open says: who took it, or that it is over."""
        taker = None
        if request.volunteer_person_id is not None:
            person = await session.get(Person, request.volunteer_person_id)
            taker = person.name if person is not None else None
        return Pressed(Handling.ALREADY, taker)

    async def _unplan(self, session: AsyncSession, request_id: int) -> None:
        """The request is no longer open: its escalation and lapse have nothing left to do."""
        await session.execute(
            delete(Firing).where(
                Firing.kind.in_([ESCALATE, LAPSE]),
                Firing.status == FiringStatus.PENDING,
                Firing.key.startswith(f"rs:{request_id}:"),
            )
        )

    async def done_preset(
        self, session: AsyncSession, actor: Actor, request_id: int, now: datetime
    ) -> tuple[Pressed, dict[str, Any]]:
        """Whether ``actor`` may mark the request done now, and what the thanks conversation is
        given (the request and who helped)."""
        request = await session.get(ServiceRequest, request_id)
        if request is None:
            return Pressed(Handling.ALREADY), {}
        if request.requester_person_id != actor.person_id:
            return self._refused(session, actor, request_id, DONE, now), {}
        if request.status is not ServiceStatus.TAKEN:
            return Pressed(Handling.ALREADY), {}
        view = await self.view(session, request)
        return Pressed(Handling.DONE), {
            "request": request.id,
            "reference": view.reference,
            "kind_zh": view.kind_zh,
            "kind_en": view.kind_en,
            "volunteer": view.taker,
        }

    def done(self) -> Action:
        """``red_service.done``: the student says it is done (checked again in full); the
        volunteer's hours are recorded and the volunteer hears the thanks."""

        async def submit(context: FlowContext) -> Submitted:
            session, actor, now = context.session, context.actor, context.now
            request_id = int(context.answers["request"])
            pressed, _ = await self.done_preset(session, actor, request_id, now)
            if pressed.handling is not Handling.DONE:
                raise Refused(f"red_service_{pressed.handling}", taker=None)
            request = await session.get(ServiceRequest, request_id)
            assert request is not None and request.volunteer_person_id is not None
            thanks = context.answers.get("thanks")
            hours = self._hours(request)
            finished = await session.scalar(
                update(ServiceRequest)
                .where(
                    ServiceRequest.id == request_id, ServiceRequest.status == ServiceStatus.TAKEN
                )
                .values(
                    status=ServiceStatus.DONE,
                    done_at=now,
                    hours=hours,
                    thanks=str(thanks) if thanks else None,
                    updated_at=now,
                )
                .returning(ServiceRequest.id)
                .execution_options(synchronize_session=False)
            )
            if finished is None:
                raise Refused("red_service_already", taker=None)
            await session.refresh(request)
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="red_service.done",
                    detail={"request": request.id, "hours": hours},
                )
            )
            await self._refresh(session, request, now)
            view = await self.view(session, request)
            for row in await outbox.by_ref(session, f"rs:{request.id}:requester"):
                language = pick_language(await repo.language_of(session, row.chat_id), self.default)
                text = self.texts.render(language, "red_service_coming", request=view)
                outbox.rewrite(session, row, {"text": text, "parse_mode": "HTML"}, now=now)
            total = await self.hours_of(session, request.volunteer_person_id)
            await self._tell(
                session,
                request.volunteer_person_id,
                "red_service_thanked",
                now,
                request=view,
                total=total,
            )
            return Submitted("red_service_done", {"request": view})

        return submit

    def _hours(self, request: ServiceRequest) -> float:
        """The hours a request done counts for: its kind's, or its window's length for a kind
        the file no longer names."""
        team = self.rules.red_service
        kind = team.kinds.get(request.kind) if team is not None else None
        if kind is not None:
            return kind.hours
        return (request.ends_at - request.starts_at).total_seconds() / 3600

    @staticmethod
    async def hours_of(session: AsyncSession, person_id: int) -> float:
        """The volunteer hours recorded for ``person_id`` so far."""
        total = await session.scalar(
            select(func.sum(ServiceRequest.hours)).where(
                ServiceRequest.volunteer_person_id == person_id,
                ServiceRequest.status == ServiceStatus.DONE,
            )
        )
        return float(total or 0.0)

    # --- firings ---------------------------------------------------------------------------

    def _route_of(self, request: ServiceRequest) -> ServiceRoute | None:
        """The route that sent ``request``, as the file says now (its default if it is gone)."""
        team = self.rules.red_service
        if team is None:
            return None
        return next((r for r in team.routes if r.id == request.routed_by), team.routes[-1])

    async def _escalate(
        self, session: AsyncSession, request: ServiceRequest, route: ServiceRoute, now: datetime
    ) -> tuple[Role, list[repo.Holder]] | None:
        """Offer ``request`` to the first role of the route's ``escalate_to`` with someone who
        can be reached: they get the card (and may take it), the earlier cards say it went up.
        None when nobody above can be reached."""
        found = await self._first_reachable(
            session, route, request.community_id, request.requester_person_id
        )
        if found is None:
            return None
        role, holders = found
        if role.value not in request.offered_to:
            request.offered_to = [*request.offered_to, role.value]
        request.escalated_at, request.updated_at = now, now
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=None,
                action="red_service.escalated",
                detail={"request": request.id, "to": role.value},
            )
        )
        await self._refresh(session, request, now)
        await self._offer(session, request, holders, now)
        return found

    def escalation(self) -> Handler:
        """Untaken after the route's hours: the request goes up, and the student is told; with
        nobody above to reach, the people it was offered to are sent its card again."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                request = await session.get(
                    ServiceRequest, int(firing.payload["request"]), with_for_update=True
                )
                if request is None or request.status is not ServiceStatus.OPEN:
                    continue
                route = self._route_of(request)
                went_up = await self._escalate(session, request, route, now) if route else None
                view = await self.view(session, request)
                if went_up is None:
                    await self._remind(session, request, now)
                    continue
                role, holders = went_up
                await self._tell(
                    session,
                    request.requester_person_id,
                    "red_service_escalated",
                    now,
                    request=view,
                    role=str(role),
                    leaders=[h.name for h in holders],
                )

        return fire

    async def _remind(self, session: AsyncSession, request: ServiceRequest, now: datetime) -> None:
        """Send the card again to the reachable holders of the roles it was offered to."""
        wanted = [
            (role, ScopeKind.COMMUNITY, request.community_id)
            for role in Role
            if role.value in request.offered_to
        ]
        view = await self.view(session, request)
        for holder in await repo.holders(session, wanted):
            if not holder.reachable or holder.person_id == request.requester_person_id:
                continue
            assert holder.telegram_user_id is not None
            language = pick_language(holder.language, self.default)
            outbox.enqueue(
                session,
                holder.telegram_user_id,
                "sendMessage",
                self._card(language, view, mine=False),
                priority=Priority.BULK,
                now=now,
                ref=_offer_ref(request.id),
            )

    def lapse(self) -> Handler:
        """At the end of its window, a request nobody took is over: its cards lose their
        button and the student is told."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                request = await session.get(
                    ServiceRequest, int(firing.payload["request"]), with_for_update=True
                )
                if request is None or request.status is not ServiceStatus.OPEN:
                    continue
                request.status, request.updated_at = ServiceStatus.LAPSED, now
                session.add(
                    AuditEntry(
                        at=now,
                        actor_person_id=None,
                        action="red_service.lapsed",
                        detail={"request": request.id},
                    )
                )
                await self._unplan(session, request.id)
                await self._refresh(session, request, now)
                view = await self.view(session, request)
                await self._tell(
                    session, request.requester_person_id, "red_service_lapsed", now, request=view
                )

        return fire

    # --- how messages show a request -------------------------------------------------------

    async def view(self, session: AsyncSession, request: ServiceRequest) -> RequestView:
        """How messages show ``request``."""
        team = self.rules.red_service
        kind = team.kinds.get(request.kind) if team is not None else None
        window = team.windows.get(request.window) if team is not None else None
        requester = await session.get(Person, request.requester_person_id)
        community = await session.get(Community, request.community_id)
        assert requester is not None and community is not None
        home = await repo.place_of_room(session, requester.dorm_room_id)
        taker = None
        if request.volunteer_person_id is not None:
            volunteer = await session.get(Person, request.volunteer_person_id)
            taker = volunteer.name if volunteer is not None else None
        starts, ends = (
            request.starts_at.astimezone(self.campus),
            request.ends_at.astimezone(self.campus),
        )
        place_zh = place_en = request.place
        dorm = f"{home.building.code}-" if home is not None else None
        if home is not None and dorm and request.place.startswith(dorm):
            number = request.place.removeprefix(dorm)
            if number.isascii() and number.isdigit():
                place_zh = f"{home.building.zh} {number} 室"
                place_en = f"{home.building.en}, room {number}"
        return RequestView(
            id=request.id,
            reference=request.reference,
            kind=request.kind,
            kind_zh=kind.name["zh-CN"] if kind is not None else request.kind,
            kind_en=kind.name["en"] if kind is not None else request.kind,
            detail=request.detail,
            day=starts.date(),
            start=f"{starts:%H:%M}",
            end=f"{ends:%H:%M}",
            window_zh=window.name["zh-CN"] if window is not None else "",
            window_en=window.name["en"] if window is not None else "",
            building_zh=home.building.zh if home is not None else "",
            building_en=home.building.en if home is not None else "",
            community_zh=community.name_zh,
            community_en=community.name_en,
            status=str(request.status),
            escalated_role=request.offered_to[-1] if request.escalated_at is not None else None,
            requester=requester.name,
            place_zh=place_zh,
            place_en=place_en,
            taker=taker,
            hours=request.hours,
            thanks=request.thanks,
        )


def _offer_ref(request_id: int) -> str:
    return f"rs:{request_id}:offer"


def _day(value: object) -> date | None:
    """A date step's answer, as stored (ISO)."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
