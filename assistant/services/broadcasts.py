"""Broadcasts (群发通知): an announcement to the people and group chats of one place of the campus.

A place is a floor, building, community, college, grid cell or the whole school. Its people are
the active residents whose dorm is in it (for a college, the people of that college; for the
whole school narrowed to some roles, their holders wherever they live), narrowed to holders of
some roles or people of some statuses when asked; each linked, reachable one gets a
private message. Its group chats are those bound to the place or to anything inside it. Everything
is queued in one transaction as outbox rows of priority BULK with ``ref`` "bc:<id>", so the
outbox's flood limiter paces it and progress and outcome are counted from the outbox.

People send them with /broadcast (conversations/broadcast.yaml) within the places they hold
authority over, as rules/access.yaml allows (``broadcast.send``); the sender's progress message
("bc:<id>:progress") is edited as the messages leave, has a Cancel button while they do, and ends
as the delivery report. Scheduled ones come from rules/broadcasts.yaml as firings.

Every broadcast is followed by a firing of its own ("bc:<id>:progress", kind
``broadcast.progress``), due every :data:`FOLLOW_EVERY` while it is sent: it edits the progress
message when the counts changed, and ends it, and the broadcast, once nothing waits. It is a row,
so a restart picks it up where it was; the ticker's sweep closes any a failing firing left.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import (
    Actor,
    BroadcastStatus,
    Language,
    PersonStatus,
    Role,
    ScopeKind,
    floor_span,
)
from assistant.flows.engine import MAX_TEXT, FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.rules.broadcasts import CHANNELS, SCOPE_KINDS, Audience
from assistant.schedule import firings
from assistant.services import people, timed
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Broadcast,
    Building,
    College,
    Community,
    DormRoom,
    Firing,
    Floor,
    GridCell,
    GroupChat,
    OutboxMessage,
    OutboxStatus,
    Person,
    Priority,
    RoleAssignment,
    TelegramAccount,
)
from assistant.texts import Texts, pick_language

log = logging.getLogger(__name__)

CANCEL = CallbackCodec("bc", ("broadcast",))
"""The Cancel button of a progress message; only its sender may use it (checked on the server).
It only asks: the progress message shows "really cancel?" with the two buttons below."""
CANCEL_SURE = CallbackCodec("bcy", ("broadcast",))
"""The question's "yes": what is not sent yet is dropped (checked again in full)."""
KEEP_SENDING = CallbackCodec("bcn", ("broadcast",))
"""The question's "no": the progress message shows Cancel again."""

FOLLOW = "broadcast.progress"
"""The kind of the firing that follows a broadcast while it is sent."""
FOLLOW_EVERY = timedelta(seconds=1)
"""How often a broadcast being sent is looked at: its progress message is never more than this
(and the time to record a delivery) behind, and ends that soon after the last delivery."""

VOICES = frozenset(
    {
        Role.COLLEGE_PARTY_LEADER,
        Role.WORKSTATION_HEAD,
        Role.COUNSELLOR,
        Role.BUILDING_MANAGER,
        Role.BUILDING_LEADER,
        Role.FLOOR_LEADER,
        Role.GRID_PARTY_MEMBER,
        Role.ORG_DEPARTMENT,
        Role.SERVICE_CENTRE,
    }
)
"""Roles that speak for the place they are held over (experts and admins speak for none);
rules/access.yaml decides which of them may broadcast at all."""

STUDENT_LEADERS = (
    Role.FLOOR_LEADER,
    Role.BUILDING_LEADER,
    Role.BUILDING_MANAGER,
    Role.DORM_HEAD,
    Role.GRID_PARTY_MEMBER,
)
WHO: Mapping[str, tuple[tuple[Role, ...], tuple[PersonStatus, ...]]] = {
    "everyone": ((), ()),
    "party_members": ((), (PersonStatus.PARTY_MEMBER,)),
    "leaders": (STUDENT_LEADERS, ()),
}
"""The ``who`` answers of /broadcast: (roles, statuses) a person must match."""
CHANNEL_CHOICES: Mapping[str, tuple[str, ...]] = {
    "people": ("people",),
    "groups": ("groups",),
    "both": CHANNELS,
}

KIND_LABELS: Mapping[ScopeKind, Mapping[str, str]] = {
    ScopeKind.FLOOR: {"zh-CN": "楼层", "en": "A floor"},
    ScopeKind.BUILDING: {"zh-CN": "楼栋", "en": "A building"},
    ScopeKind.COMMUNITY: {"zh-CN": "社区", "en": "A community"},
    ScopeKind.COLLEGE: {"zh-CN": "学院", "en": "A college"},
    ScopeKind.GRID: {"zh-CN": "网格", "en": "A grid cell"},
    ScopeKind.SCHOOL: {"zh-CN": "全校", "en": "The whole school"},
}

Unit = tuple[ScopeKind, int]


@dataclass(frozen=True)
class Place:
    """A place of the campus a broadcast can be addressed to.

    ``within`` holds the place itself and every unit it lies in (a floor: its grid, building,
    community, the community's college, the school), so "is X inside Y" is one set lookup.
    ``floors`` are the floors it covers.
    """

    kind: ScopeKind
    id: int
    code: str
    zh: str
    en: str
    within: frozenset[Unit]
    floors: frozenset[int]

    def name(self, language: Language) -> str:
        """The place's name in ``language``."""
        return self.zh if language == "zh-CN" else self.en


class Campus:
    """Every place of the campus, read at once: a few hundred rows even for a large school."""

    def __init__(self, places: Sequence[Place]) -> None:
        self.places = {(p.kind, p.id): p for p in places}
        self._codes = {(p.kind, p.code): p for p in places}

    def find(self, kind: ScopeKind, code: str) -> Place | None:
        """The place of ``kind`` with ``code`` ("" for the school)."""
        return self._codes.get((kind, code))

    def of_kind(self, kind: ScopeKind) -> list[Place]:
        """Every place of ``kind``, in campus order."""
        return [p for p in self.places.values() if p.kind is kind]


async def load_campus(session: AsyncSession) -> Campus:
    """The campus as places, from the directory tables."""
    colleges = (await session.scalars(select(College).order_by(College.code))).all()
    communities = (await session.scalars(select(Community).order_by(Community.code))).all()
    buildings = (await session.scalars(select(Building).order_by(Building.code))).all()
    grids = (await session.scalars(select(GridCell).order_by(GridCell.code))).all()
    floors = (await session.scalars(select(Floor).order_by(Floor.building_id, Floor.number))).all()
    school: Unit = (ScopeKind.SCHOOL, 0)
    # What each unit lies in, from the top down.
    above: dict[Unit, frozenset[Unit]] = {school: frozenset({school})}
    for college in colleges:
        above[(ScopeKind.COLLEGE, college.id)] = frozenset(
            {(ScopeKind.COLLEGE, college.id), school}
        )
    for community in communities:
        lead = above.get((ScopeKind.COLLEGE, community.college_id or 0), above[school])
        above[(ScopeKind.COMMUNITY, community.id)] = lead | {(ScopeKind.COMMUNITY, community.id)}
    for building in buildings:
        outer = above[(ScopeKind.COMMUNITY, building.community_id)]
        above[(ScopeKind.BUILDING, building.id)] = outer | {(ScopeKind.BUILDING, building.id)}
    for grid in grids:
        outer = above[(ScopeKind.BUILDING, grid.building_id)]
        above[(ScopeKind.GRID, grid.id)] = outer | {(ScopeKind.GRID, grid.id)}
    for floor in floors:
        outer = above[(ScopeKind.BUILDING, floor.building_id)]
        if floor.grid_id is not None:
            outer = above[(ScopeKind.GRID, floor.grid_id)]
        above[(ScopeKind.FLOOR, floor.id)] = outer | {(ScopeKind.FLOOR, floor.id)}
    # The floors inside each unit.
    inside: dict[Unit, set[int]] = {}
    for floor in floors:
        for unit in above[(ScopeKind.FLOOR, floor.id)]:
            inside.setdefault(unit, set()).add(floor.id)
    building_of = {building.id: building for building in buildings}

    def place(kind: ScopeKind, row_id: int, code: str, zh: str, en: str) -> Place:
        unit = (kind, row_id)
        return Place(kind, row_id, code, zh, en, above[unit], frozenset(inside.get(unit, ())))

    places = [place(ScopeKind.SCHOOL, 0, "", "全校", "the whole school")]
    for unit_kind, rows in (
        (ScopeKind.COLLEGE, colleges),
        (ScopeKind.COMMUNITY, communities),
        (ScopeKind.BUILDING, buildings),
    ):
        places += [place(unit_kind, r.id, r.code, r.name_zh, r.name_en) for r in rows]
    for grid in grids:
        home = building_of[grid.building_id]
        # A grid is named by its building and floors, never by its code.
        numbers = [floor.number for floor in floors if floor.grid_id == grid.id]
        span, many = floor_span(numbers), len(numbers) > 1
        zh = f"网格：{home.name_zh} {span} 层"
        en = f"Grid: {home.name_en}, {'floors' if many else 'floor'} {span}"
        places.append(place(ScopeKind.GRID, grid.id, grid.code, zh, en))
    for floor in floors:
        home = building_of[floor.building_id]
        zh, en = f"{home.name_zh} {floor.number} 层", f"{home.name_en}, floor {floor.number}"
        places.append(place(ScopeKind.FLOOR, floor.id, f"{home.code}-{floor.number}", zh, en))
    return Campus(places)


def may_address(actor: Actor, place: Place) -> bool:
    """Whether ``actor`` holds a role that speaks for ``place`` or for a unit it lies in."""
    return any(
        grant.role in VOICES and (grant.scope_kind, grant.scope_id) in place.within
        for grant in actor.grants
    )


@dataclass(frozen=True)
class Recipients:
    """The chats a broadcast goes to: (chat id, language) of people, chat ids of groups."""

    people: list[tuple[int, str | None]]
    groups: list[int]

    @property
    def total(self) -> int:
        """How many messages that makes."""
        return len(self.people) + len(self.groups)


async def recipients(
    session: AsyncSession, campus: Campus, place: Place, audience: Audience
) -> Recipients:
    """Who ``audience`` reaches at ``place`` now: linked, reachable people and bound groups."""
    found: list[tuple[int, str | None]] = []
    if "people" in audience.channels:
        query = (
            select(TelegramAccount.telegram_user_id, TelegramAccount.language)
            .join(Person, Person.id == TelegramAccount.person_id)
            .where(Person.active, TelegramAccount.unreachable_since.is_(None))
        )
        if place.kind is ScopeKind.COLLEGE:
            query = query.where(Person.college_id == place.id)
        elif place.kind is ScopeKind.SCHOOL:
            # Asked for roles, the whole school means their holders wherever they live (the
            # coordination group's offices live in no dorm); otherwise its residents.
            if not audience.roles:
                query = query.where(Person.dorm_room_id.is_not(None))
        else:
            query = query.join(DormRoom, DormRoom.id == Person.dorm_room_id).where(
                DormRoom.floor_id.in_(sorted(place.floors))
            )
        if audience.roles:
            holders = select(RoleAssignment.person_id).where(
                RoleAssignment.role.in_(audience.roles)
            )
            query = query.where(Person.id.in_(holders))
        if audience.statuses:
            query = query.where(Person.status.in_(audience.statuses))
        found = [
            (chat, language) for chat, language in await session.execute(query.order_by(Person.id))
        ]
    groups: list[int] = []
    if "groups" in audience.channels:
        rows = await session.execute(
            select(GroupChat.chat_id, GroupChat.scope_kind, GroupChat.scope_id)
            .where(GroupChat.unreachable_since.is_(None))
            .order_by(GroupChat.id)
        )
        for chat_id, kind, scope_id in rows:
            bound = campus.places.get((kind, scope_id))
            if bound is not None and (place.kind, place.id) in bound.within:
                groups.append(chat_id)
    return Recipients(found, groups)


def chosen(answers: Mapping[str, Any]) -> Audience | None:
    """The audience the answers of /broadcast describe, or None if they describe none."""
    kind, who, channels = answers.get("scope_kind"), answers.get("who"), answers.get("channels")
    if kind not in SCOPE_KINDS:
        return None
    scope = "" if kind == ScopeKind.SCHOOL else answers.get("scope")
    if not isinstance(scope, str):
        return None
    roles, statuses = WHO.get(str(who), ((), ()))
    return Audience(
        ScopeKind(kind),
        scope,
        roles,
        statuses,
        CHANNEL_CHOICES.get(str(channels), CHANNELS),
    )


@dataclass(frozen=True)
class Counts:
    """Where a broadcast's messages stand, counted from the outbox."""

    total: int
    delivered: int
    blocked: int
    failed: int
    # Still to be sent, or being sent right now.
    waiting: int

    @property
    def done(self) -> int:
        """Messages that reached an end, good or bad."""
        return self.delivered + self.blocked + self.failed

    @property
    def cancelled(self) -> int:
        """Messages that were never sent because the broadcast was cancelled."""
        return self.total - self.done - self.waiting


async def counts(session: AsyncSession, broadcast: Broadcast) -> Counts:
    """How far ``broadcast`` has come."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.ref == f"bc:{broadcast.id}")
        .group_by(OutboxMessage.status)
    )
    by_status: dict[OutboxStatus, int] = {status: count for status, count in rows}
    return Counts(
        total=broadcast.total,
        delivered=by_status.get(OutboxStatus.SENT, 0),
        blocked=by_status.get(OutboxStatus.UNREACHABLE, 0),
        failed=by_status.get(OutboxStatus.FAILED, 0),
        waiting=by_status.get(OutboxStatus.PENDING, 0) + by_status.get(OutboxStatus.SENDING, 0),
    )


def _fit(text: object) -> bool:
    # What the conversation's text step accepts; anything else came from a forged state.
    return isinstance(text, str) and 2 <= len(text.strip()) <= MAX_TEXT


class Cancelling(enum.StrEnum):
    """How a press of Cancel or of its question's buttons ended; each has its own answer."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    GONE = "gone"
    # Cancel asked "really?", or its "no" was pressed: nothing was dropped.
    ASKED = "asked"
    KEPT = "kept"


class _Shown(enum.Enum):
    SAME = enum.auto()
    CHANGED = enum.auto()
    # The progress message is being sent: its id is not known yet to edit it.
    NOT_YET = enum.auto()


class Broadcaster:
    """Sends broadcasts, keeps their senders' progress messages current, and cancels them."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.zone = campus

    # Sending --------------------------------------------------------------------------------

    async def submit(self, context: FlowContext) -> Submitted:
        """The Submit of /broadcast: checked again in full on the server, then queued."""
        session, actor, now = context.session, context.actor, context.now
        subject = people.rule_subject(actor)
        subject |= people.day_facts(now.astimezone(self.zone).date(), self.rules.calendar)
        decision = self.rules.allowed("broadcast.send", subject)
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            raise Refused("flow_denied", reason=reason.text(context.language) if reason else "")
        audience = chosen(context.answers)
        text = context.answers.get("text")
        campus = await load_campus(session)
        place = campus.find(audience.scope_kind, audience.scope) if audience else None
        if audience is None or place is None or not _fit(text):
            raise Refused("broadcast/incomplete")
        if not may_address(actor, place):
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="broadcast.refused",
                    detail={"scope": f"{place.kind}:{place.code}"},
                )
            )
            raise Refused("broadcast/not_yours", place=place.name(context.language))
        found = await recipients(session, campus, place, audience)
        if not found.total:
            raise Refused("broadcast/nobody", place=place.name(context.language))
        variables = {"text": text, "sender": actor.name}
        broadcast = await self._store(
            session,
            audience,
            place,
            found,
            "broadcast/message",
            variables,
            record=text,
            sender=actor.person_id,
            source=None,
            now=now,
        )
        broadcast.progress_chat_id = context.chat_id
        broadcast.progress_message_ref = f"bc:{broadcast.id}:progress"
        empty = Counts(broadcast.total, 0, 0, 0, broadcast.total)
        outbox.enqueue(
            session,
            context.chat_id,
            "sendMessage",
            self._screen(context.language, broadcast, empty, final=False),
            priority=Priority.INTERACTIVE,
            now=now,
            ref=broadcast.progress_message_ref,
        )
        return Submitted(
            "broadcast/sent",
            {
                "number": broadcast.id,
                "total": broadcast.total,
                "place": place.name(context.language),
            },
        )

    async def _store(
        self,
        session: AsyncSession,
        audience: Audience,
        place: Place,
        found: Recipients,
        template: str,
        variables: Mapping[str, Any],
        *,
        record: str | None = None,
        sender: int | None,
        source: str | None,
        now: datetime,
    ) -> Broadcast:
        """Record the broadcast and queue every message of it, in the caller's transaction.

        ``record`` is the text kept with it (what the sender typed); by default, the message in
        the default language.
        """
        rendered: dict[Language, str] = {}

        def text(language: str | None) -> str:
            chosen_language = pick_language(language, self.default)
            if chosen_language not in rendered:
                rendered[chosen_language] = self.texts.render(
                    chosen_language, template, place=place.name(chosen_language), **variables
                )
            return rendered[chosen_language]

        broadcast = Broadcast(
            sender_person_id=sender,
            source=source,
            audience={**audience.to_json(), "place": f"{place.kind}:{place.id}"},
            text=record if record is not None else text(None),
            status=BroadcastStatus.SENDING,
            total=found.total,
            created_at=now,
            updated_at=now,
        )
        session.add(broadcast)
        await session.flush()
        ref = f"bc:{broadcast.id}"
        chats = [*found.people, *((chat, None) for chat in found.groups)]
        for chat_id, language in chats:
            payload = {
                "text": text(language),
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
            }
            outbox.enqueue(
                session, chat_id, "sendMessage", payload, priority=Priority.BULK, now=now, ref=ref
            )
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=sender,
                action="broadcast.send",
                detail={"broadcast": broadcast.id, "source": source, "total": found.total},
            )
        )
        await firings.plan(
            session,
            [
                {
                    "key": f"{ref}:progress",
                    "kind": FOLLOW,
                    "due_at": now + FOLLOW_EVERY,
                    "payload": {"broadcast": broadcast.id},
                }
            ],
            now=now,
        )
        return broadcast

    # The sender's progress message ---------------------------------------------------------

    def _screen(
        self, language: Language, broadcast: Broadcast, shown: Counts, *, final: bool
    ) -> dict[str, Any]:
        template = "broadcast/report" if final else "broadcast/progress"
        payload: dict[str, Any] = {
            "text": self.texts.render(
                language,
                template,
                number=broadcast.id,
                counts=shown,
                cancelled=broadcast.status is BroadcastStatus.CANCELLED,
            ),
            "parse_mode": "HTML",
        }
        if not final and broadcast.cancel_asked:
            question = self.texts.render(language, "broadcast_cancel_confirm", number=broadcast.id)
            payload["text"] = f"{payload['text']}\n\n{question}"
            buttons = [
                ("broadcast_button_cancel_sure", CANCEL_SURE),
                ("broadcast_button_keep_sending", KEEP_SENDING),
            ]
        else:
            buttons = [("broadcast/button_cancel", CANCEL)]
        if not final:
            row = [
                {
                    "text": self.texts.render(language, template),
                    "callback_data": codec.pack(broadcast=broadcast.id),
                }
                for template, codec in buttons
            ]
            payload["reply_markup"] = {"inline_keyboard": [row]}
        return payload

    async def _show(
        self,
        session: AsyncSession,
        broadcast: Broadcast,
        shown: Counts,
        *,
        final: bool,
        now: datetime,
    ) -> _Shown:
        """Bring the sender's progress message up to date: the waiting message rewritten, a sent
        one edited (one edit waiting at a time: it is rewritten too)."""
        chat, ref = broadcast.progress_chat_id, broadcast.progress_message_ref
        if chat is None or ref is None:
            return _Shown.SAME
        rows = await outbox.by_ref(session, ref)
        if not rows:
            return _Shown.SAME
        first, latest = rows[0], rows[-1]
        language = pick_language(await repo.language_of(session, chat), self.default)
        payload = self._screen(language, broadcast, shown, final=final)
        same = {k: latest.payload.get(k) for k in payload} == payload
        if same and not (final and "reply_markup" in latest.payload):
            return _Shown.SAME
        if first.telegram_message_id is None:
            if first.status is OutboxStatus.PENDING:
                first.payload = {"chat_id": chat, **payload}
                return _Shown.CHANGED
            if first.status is OutboxStatus.SENDING:
                return _Shown.NOT_YET
            return _Shown.SAME  # it never arrived: there is nothing to edit
        edit = {"message_id": first.telegram_message_id, **payload}
        if latest is not first and latest.status is OutboxStatus.PENDING:
            latest.payload = {"chat_id": chat, **edit}
        else:
            outbox.enqueue(
                session,
                chat,
                "editMessageText",
                edit,
                priority=Priority.INTERACTIVE,
                now=now,
                ref=ref,
            )
        return _Shown.CHANGED

    async def _step(self, session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
        """Bring one running broadcast's progress message up to date, and close the broadcast
        once nothing waits; how many things that changed (0 when nothing did)."""
        shown = await counts(session, broadcast)
        final = not shown.waiting
        result = await self._show(session, broadcast, shown, final=final, now=now)
        changed = int(result is _Shown.CHANGED)
        if final and result is not _Shown.NOT_YET:
            broadcast.status = BroadcastStatus.DONE
            broadcast.finished_at = broadcast.updated_at = now
            changed += 1
        return changed

    async def follow(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """The firings that follow broadcasts: each running one's progress brought up to date,
        and its firing due again in :data:`FOLLOW_EVERY` until the broadcast is over."""
        again: list[Firing] = []
        for firing in due:
            broadcast = await session.get(
                Broadcast, int(firing.payload["broadcast"]), with_for_update=True
            )
            if broadcast is None or broadcast.status is not BroadcastStatus.SENDING:
                continue
            await self._step(session, broadcast, now)
            if broadcast.status is BroadcastStatus.SENDING:
                again.append(firing)
        await firings.again(session, again, now + FOLLOW_EVERY)

    async def progress(self, session: AsyncSession, now: datetime) -> int:
        """The ticker's sweep: what the firings of :meth:`follow` do, for every running
        broadcast at once, so that one whose firing failed for good still ends."""
        changed = 0
        running = await session.scalars(
            select(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SENDING)
            .order_by(Broadcast.id)
            .with_for_update()
        )
        for broadcast in running.all():
            changed += await self._step(session, broadcast, now)
        return changed

    # Cancelling ------------------------------------------------------------------------------

    async def _sent_by(
        self, session: AsyncSession, actor: Actor, broadcast_id: int, now: datetime
    ) -> Broadcast | Cancelling:
        """The running broadcast ``actor`` sent, locked; else what to answer. Anyone but its
        sender is refused and audited: a button is never the permission."""
        broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if broadcast is None:
            return Cancelling.GONE
        if broadcast.sender_person_id != actor.person_id:
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="broadcast.refused",
                    detail={"broadcast": broadcast.id, "action": "cancel"},
                )
            )
            return Cancelling.NOT_ALLOWED
        if broadcast.status is not BroadcastStatus.SENDING:
            return Cancelling.ALREADY
        return broadcast

    async def ask_cancel(
        self, session: AsyncSession, actor: Actor, broadcast_id: int, *, now: datetime
    ) -> Cancelling:
        """Cancel, pressed by the sender: the progress message asks "really cancel?", and goes
        on counting; nothing is dropped yet."""
        return await self._asking(session, actor, broadcast_id, True, now=now)

    async def keep_sending(
        self, session: AsyncSession, actor: Actor, broadcast_id: int, *, now: datetime
    ) -> Cancelling:
        """The question's "no": the progress message shows its Cancel button again."""
        return await self._asking(session, actor, broadcast_id, False, now=now)

    async def _asking(
        self, session: AsyncSession, actor: Actor, broadcast_id: int, asked: bool, *, now: datetime
    ) -> Cancelling:
        found = await self._sent_by(session, actor, broadcast_id, now)
        if isinstance(found, Cancelling):
            return found
        found.cancel_asked = asked
        await self._step(session, found, now)
        if found.status is not BroadcastStatus.SENDING:
            # Its last message left meanwhile: the progress message is its report now.
            return Cancelling.ALREADY
        return Cancelling.ASKED if asked else Cancelling.KEPT

    async def cancel(
        self, session: AsyncSession, actor: Actor, broadcast_id: int, *, now: datetime
    ) -> Cancelling:
        """Cancel ``broadcast_id`` if ``actor`` sent it: its messages not yet sent are dropped.

        Pressed as the question's "yes", it is checked again in full: the button is never the
        permission, and anyone else is refused and audited.
        """
        found = await self._sent_by(session, actor, broadcast_id, now)
        if isinstance(found, Cancelling):
            return found
        broadcast = found
        await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.ref == f"bc:{broadcast.id}",
                OutboxMessage.status == OutboxStatus.PENDING,
            )
        )
        broadcast.status = BroadcastStatus.CANCELLED
        broadcast.finished_at = broadcast.updated_at = now
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="broadcast.cancel",
                detail={"broadcast": broadcast.id},
            )
        )
        await self._show(session, broadcast, await counts(session, broadcast), final=True, now=now)
        return Cancelling.DONE

    # Scheduled broadcasts --------------------------------------------------------------------

    async def fire(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """Send each due broadcast of rules/broadcasts.yaml to its audience as it stands now."""
        campus: Campus | None = None
        for firing in due:
            scheduled = self.rules.broadcasts.get(str(firing.payload.get("broadcast")))
            if scheduled is None:
                continue  # removed from the file since it was planned
            campus = campus or await load_campus(session)
            audience = scheduled.audience
            place = campus.find(audience.scope_kind, audience.scope)
            if place is None:
                log.warning(
                    "%s:%s [%s]: no %s %r on the campus; not sent",
                    scheduled.file,
                    scheduled.line,
                    scheduled.id,
                    audience.scope_kind,
                    audience.scope,
                )
                continue
            found = await recipients(session, campus, place, audience)
            variables = {"title": scheduled.name, "due_at": firing.due_at}
            await self._store(
                session,
                audience,
                place,
                found,
                scheduled.template,
                variables,
                sender=None,
                source=scheduled.id,
                now=now,
            )


# Providers of /broadcast -------------------------------------------------------------------


async def scope_kinds(context: FlowContext) -> list[Option]:
    """The kinds of place the sender speaks for at least one of."""
    campus = await load_campus(context.session)
    return [
        Option(kind.value, KIND_LABELS[kind])
        for kind in SCOPE_KINDS
        if any(may_address(context.actor, place) for place in campus.of_kind(kind))
    ]


async def scopes(context: FlowContext) -> list[Option]:
    """The places of the chosen kind the sender speaks for."""
    kind = context.answers.get("scope_kind")
    if kind not in SCOPE_KINDS:
        return []
    campus = await load_campus(context.session)
    return [
        Option(place.code, {"zh-CN": place.zh, "en": place.en})
        for place in campus.of_kind(ScopeKind(kind))
        if may_address(context.actor, place)
    ]


async def channels(context: FlowContext) -> list[Option]:
    """People, groups or both, each with how many messages it makes for the chosen audience."""
    audience = chosen({**context.answers, "channels": "both"})
    campus = await load_campus(context.session)
    place = campus.find(audience.scope_kind, audience.scope) if audience else None
    reach = Recipients([], [])
    if audience is not None and place is not None and may_address(context.actor, place):
        reach = await recipients(context.session, campus, place, audience)
    persons, groups = len(reach.people), len(reach.groups)
    return [
        Option("people", {"zh-CN": f"私信个人（{persons} 人）", "en": f"People ({persons})"}),
        Option("groups", {"zh-CN": f"发到群聊（{groups} 个）", "en": f"Group chats ({groups})"}),
        Option(
            "both",
            {
                "zh-CN": f"个人和群聊（共 {persons + groups} 条）",
                "en": f"Both ({persons + groups} messages)",
            },
        ),
    ]


def names(kit: Kit) -> Names:
    """/broadcast's providers and Submit, the scheduled broadcasts' firings and planning, and
    the firings and the sweep that keep progress messages current."""
    broadcaster = Broadcaster(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        providers={
            "broadcast_scope_kinds": scope_kinds,
            "broadcast_scopes": scopes,
            "broadcast_channels": channels,
        },
        actions={"broadcast.send": broadcaster.submit},
        jobs={
            "broadcasts.plan": timed.planner(
                "broadcast", kit.rules.broadcasts, kit.rules.calendar, kit.campus
            ),
            "broadcasts.progress": broadcaster.progress,
        },
        firings={"broadcast": broadcaster.fire, FOLLOW: broadcaster.follow},
    )
