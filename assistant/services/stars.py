"""Star of the Month (每月之星): nominations from a community, the Service Centre's pick.

While nominations are open (``star.nominate`` in rules/access.yaml) a student nominates one
student party member of their own community who has not won recently (``star.eligible``, with
``star.cooldown_months`` from rules/policies.yaml), and says why; one nomination per person per
month, which a unique row makes sure of even when two arrive at once. The Community Service
Centre (``star.select``) sees each community's nominations with their reasons and picks the star;
the first pick for a community and month wins, and the choice is announced through the outbox to
the community's residents and group chats, each in their own language. The pick's button only
asks: authority is checked here, and a refusal is audited.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from assistant.domain import Actor, Language, Named, ScopeKind
from assistant.flows.engine import Action, FlowContext, Provider, Refused, StartCheck, Submitted
from assistant.flows.spec import Option
from assistant.rules import AccessDecision, Rules
from assistant.services import people
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Building,
    College,
    Community,
    DormRoom,
    Floor,
    GroupChat,
    Person,
    Priority,
    RoleAssignment,
    StarAward,
    StarNomination,
    TelegramAccount,
)
from assistant.texts import Texts, pick_language


def month_of(now: datetime, campus: tzinfo) -> str:
    """The campus-local month of ``now``, as nominations store it ("2026-09")."""
    return now.astimezone(campus).strftime("%Y-%m")


def months_before(month: str, count: int) -> str:
    """The month ``count`` months before ``month`` ("2026-03" for "2026-09" and 6)."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(month: str) -> date:
    """The first day of ``month``, for templates that spell the month out."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


async def insert_once(
    session: AsyncSession, model: type[StarNomination] | type[StarAward], **values: Any
) -> int | None:
    """Store a row unless a unique constraint already holds one like it; its id, or None.

    ON CONFLICT DO NOTHING rather than a savepoint: it leaves the surrounding transaction whole
    on PostgreSQL, and on SQLite a savepoint opened before any other write would commit on its
    own when released.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    stored: int | None = await session.scalar(statement)
    return stored


# Who may be nominated ------------------------------------------------------------------------


@dataclass(frozen=True)
class Resident:
    """A person living on campus, with the facts the eligibility rule decides on."""

    person_id: int
    number: str
    name: str
    # Where to find them (building 1, room 401), to tell two people of the same name apart.
    building: Named
    room: str
    community_id: int
    subject: dict[str, object]


async def residents(session: AsyncSession, *where: ColumnElement[bool]) -> list[Resident]:
    """Active people living on campus who match ``where``, by building, room and name."""
    rows = (
        await session.execute(
            select(
                Person,
                DormRoom.number,
                Floor.number,
                Building.id,
                Building.code,
                Building.name_zh,
                Building.name_en,
                Building.community_id,
                Community.code,
                College.code,
            )
            .join(DormRoom, DormRoom.id == Person.dorm_room_id)
            .join(Floor, Floor.id == DormRoom.floor_id)
            .join(Building, Building.id == Floor.building_id)
            .join(Community, Community.id == Building.community_id)
            .outerjoin(College, College.id == Person.college_id)
            .where(Person.active, *where)
            .order_by(Building.code, DormRoom.number, Person.name)
        )
    ).all()
    roles: dict[int, set[str]] = {}
    if rows:
        held = await session.execute(
            select(RoleAssignment.person_id, RoleAssignment.role).where(
                RoleAssignment.person_id.in_([row[0].id for row in rows])
            )
        )
        for person_id, role in held.all():
            roles.setdefault(person_id, set()).add(str(role))
    return [
        Resident(
            person_id=person.id,
            number=person.number,
            name=person.name,
            building=Named(building_id, building, building_zh, building_en),
            room=room,
            community_id=community_id,
            subject={
                "status": str(person.status),
                "roles": sorted(roles.get(person.id, ())),
                "college": college,
                "community": community,
                "building": building,
                "floor": floor,
            },
        )
        for (
            person,
            room,
            floor,
            building_id,
            building,
            building_zh,
            building_en,
            community_id,
            community,
            college,
        ) in rows
    ]


async def _wins(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, list[str]]:
    """The months each of ``person_ids`` was the Star."""
    found: dict[int, list[str]] = {}
    if person_ids:
        rows = await session.execute(
            select(StarAward.person_id, StarAward.month).where(StarAward.person_id.in_(person_ids))
        )
        for person_id, won in rows.all():
            found.setdefault(person_id, []).append(won)
    return found


def eligibility(
    rules: Rules, nominee: Resident, community_id: int, won: Iterable[str], month: str
) -> AccessDecision:
    """Whether ``nominee`` may be nominated in ``month`` by someone of ``community_id``.

    A recent winner is one who won in this month or in the ``star.cooldown_months`` before it.
    """
    cooldown = int(rules.policy("star.cooldown_months", nominee.subject).outcome.value)
    since = months_before(month, cooldown)
    subject = {
        **nominee.subject,
        "same_community": nominee.community_id == community_id,
        "recent_winner": any(since <= m <= month for m in won),
    }
    return rules.allowed("star.eligible", subject)


async def judged_nominees(
    session: AsyncSession, actor: Actor, rules: Rules, month: str
) -> list[tuple[Resident, AccessDecision]]:
    """The other people of the actor's community, each with whether the actor may nominate
    them in ``month``."""
    home = actor.home
    if home is None:
        return []
    found = await residents(
        session, Building.community_id == home.community.id, Person.id != actor.person_id
    )
    wins = await _wins(session, [r.person_id for r in found])
    return [
        (r, eligibility(rules, r, home.community.id, wins.get(r.person_id, ()), month))
        for r in found
    ]


async def eligible_nominees(
    session: AsyncSession, actor: Actor, rules: Rules, month: str
) -> list[Resident]:
    """The people of the actor's community the actor may nominate in ``month``."""
    judged = await judged_nominees(session, actor, rules, month)
    return [resident for resident, decision in judged if decision.outcome.allowed]


def nominees(rules: Rules, texts: Texts, campus: tzinfo) -> Provider:
    """The ``star_nominees`` provider: the eligible people of my community, by student number,
    each shown with their dorm."""

    async def provide(context: FlowContext) -> list[Option]:
        month = month_of(context.now, campus)
        found = await eligible_nominees(context.session, context.actor, rules, month)
        return [
            Option(
                r.number,
                {
                    language: texts.render(language, "star_nominee", resident=r)
                    for language in texts.languages()
                },
            )
            for r in found
        ]

    return provide


async def nomination_of(session: AsyncSession, person_id: int, month: str) -> StarNomination | None:
    """The nomination ``person_id`` made in ``month``, if any."""
    return await session.scalar(
        select(StarNomination).where(
            StarNomination.month == month, StarNomination.nominator_person_id == person_id
        )
    )


def first_this_month(campus: tzinfo) -> StartCheck:
    """The ``star.first_this_month`` start check: the actor has not nominated anyone this month
    (refused as the submit refuses a second nomination)."""

    async def check(context: FlowContext) -> None:
        month = month_of(context.now, campus)
        if await nomination_of(context.session, context.actor.person_id, month) is not None:
            raise Refused("star_already_nominated")

    return check


def someone_eligible(rules: Rules, campus: tzinfo) -> StartCheck:
    """The ``star.someone_eligible`` start check: there is somebody the actor may nominate this
    month (refused with the eligibility rule's reason, as the submit refuses a nominee)."""

    async def check(context: FlowContext) -> None:
        month = month_of(context.now, campus)
        said = ""
        for _, decision in await judged_nominees(context.session, context.actor, rules, month):
            if decision.outcome.allowed:
                return
            reason = decision.outcome.reason
            said = said or (reason.text(context.language) if reason else "")
        raise Refused("star_not_eligible", reason=said, nobody=True)

    return check


def nominate(rules: Rules, campus: tzinfo) -> Action:
    """The ``star.nominate`` action: everything checked again, then the nomination stored."""

    async def submit(context: FlowContext) -> Submitted:
        session, actor, language = context.session, context.actor, context.language
        today = context.now.astimezone(campus).date()
        month = month_of(context.now, campus)
        subject = people.rule_subject(actor) | people.day_facts(today)
        window = rules.allowed("star.nominate", subject)
        if not window.outcome.allowed:
            reason = window.outcome.reason
            raise Refused("star_refused", reason=reason.text(language) if reason else "")
        number = str(context.answers["nominee"])
        if number == actor.number:
            raise Refused("star_not_self")
        home = actor.home
        found = await residents(session, Person.number == number)
        if home is None or not found:
            raise Refused("star_not_eligible", reason="", nobody=False)
        nominee = found[0]
        wins = await _wins(session, [nominee.person_id])
        decision = eligibility(
            rules, nominee, home.community.id, wins.get(nominee.person_id, ()), month
        )
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            said = reason.text(language) if reason else ""
            raise Refused("star_not_eligible", reason=said, nobody=False)
        # One per person per month is the unique row's to enforce, also for a second one sent
        # at the same moment from another device.
        stored = await insert_once(
            session,
            StarNomination,
            month=month,
            community_id=home.community.id,
            nominator_person_id=actor.person_id,
            nominee_person_id=nominee.person_id,
            reason=str(context.answers["reason"]),
            created_at=context.now,
        )
        if stored is None:
            raise Refused("star_already_nominated")
        return Submitted("star_nominated", {"nominee": nominee.name, "month": first_day(month)})

    return submit


def names(kit: Kit) -> Names:
    """The nominee list, the checks before its first question (once a month, somebody to
    nominate) and the nomination of nominate_star.yaml."""
    return Names(
        providers={"star_nominees": nominees(kit.rules, kit.texts, kit.campus)},
        actions={"star.nominate": nominate(kit.rules, kit.campus)},
        start_checks={
            "star.first_this_month": first_this_month(kit.campus),
            "star.someone_eligible": someone_eligible(kit.rules, kit.campus),
        },
    )


# The selector's list and the pick -----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One nominee of a community's month: how many nominated them, and why."""

    # The nominee's first nomination: what a pick names.
    nomination_id: int
    person_id: int
    name: str
    number: str
    reasons: list[str]

    @property
    def count(self) -> int:
        """How many people nominated them."""
        return len(self.reasons)


@dataclass(frozen=True)
class Board:
    """A community's nominations of one month, and its star once picked."""

    month: date
    community: Named
    entries: list[Entry] = field(default_factory=list)
    star: str | None = None
    chosen_by: str | None = None


class Picking(enum.StrEnum):
    """What a press of a Pick button did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    GONE = "gone"


@dataclass(frozen=True)
class Picked:
    """The outcome of a pick, with the community's board as it now stands."""

    handling: Picking
    board: Board | None = None
    # Why a pick was refused, in the presser's language.
    reason: str = ""
    # The nominee a pick is about.
    entry: Entry | None = None


@dataclass(frozen=True)
class Boards:
    """What /stars shows: this month's boards, or why the person may not pick."""

    month: date
    boards: list[Board]
    allowed: bool
    reason: str = ""


class Selector:
    """The Service Centre's side: the list of nominations, the pick and its announcement."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus

    async def _may_select(
        self, session: AsyncSession, actor: Actor, language: Language
    ) -> tuple[bool, str]:
        subject = people.rule_subject(actor)
        decision = self.rules.allowed("star.select", subject)
        reason = decision.outcome.reason
        return decision.outcome.allowed, reason.text(language) if reason else ""

    async def boards(
        self, session: AsyncSession, actor: Actor, *, now: datetime, language: Language
    ) -> Boards:
        """This month's nominations by community, for a person who may pick."""
        month = month_of(now, self.campus)
        allowed, reason = await self._may_select(session, actor, language)
        if not allowed:
            return Boards(first_day(month), [], allowed=False, reason=reason)
        return Boards(first_day(month), await self._boards(session, month), allowed=True)

    async def _boards(
        self, session: AsyncSession, month: str, community_id: int | None = None
    ) -> list[Board]:
        where = [StarNomination.month == month]
        if community_id is not None:
            where.append(StarNomination.community_id == community_id)
        rows = (
            await session.execute(
                select(StarNomination, Person.name, Person.number)
                .join(Person, Person.id == StarNomination.nominee_person_id)
                .where(*where)
                .order_by(StarNomination.id)
            )
        ).all()
        grouped: dict[int, dict[int, Entry]] = {}
        for nomination, name, number in rows:
            entries = grouped.setdefault(nomination.community_id, {})
            entry = entries.setdefault(
                nomination.nominee_person_id,
                Entry(nomination.id, nomination.nominee_person_id, name, number, []),
            )
            entry.reasons.append(nomination.reason)
        boards = []
        for cid, entries in grouped.items():
            community = await session.get(Community, cid)
            assert community is not None
            star, chooser = aliased(Person), aliased(Person)
            award = (
                await session.execute(
                    select(star.name, chooser.name)
                    .select_from(StarAward)
                    .join(star, star.id == StarAward.person_id)
                    .join(chooser, chooser.id == StarAward.chosen_by_person_id)
                    .where(StarAward.month == month, StarAward.community_id == cid)
                )
            ).first()
            boards.append(
                Board(
                    first_day(month),
                    Named(community.id, community.code, community.name_zh, community.name_en),
                    sorted(entries.values(), key=lambda e: (-e.count, e.nomination_id)),
                    award[0] if award else None,
                    award[1] if award else None,
                )
            )
        return sorted(boards, key=lambda b: b.community.code)

    async def considered(
        self,
        session: AsyncSession,
        actor: Actor,
        nomination_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Picked:
        """Whether ``actor`` may make the nominee of ``nomination_id`` the Star (DONE), with the
        community's board and the nominee; nothing changes. Anyone the rules do not let pick is
        refused and audited, as for :meth:`pick`; a board whose Star is chosen is ALREADY."""
        refused = await self._refused(session, actor, nomination_id, now=now, language=language)
        if refused is not None:
            return refused
        nomination = await session.get(StarNomination, nomination_id)
        if nomination is None:
            return Picked(Picking.GONE)
        [board] = await self._boards(session, nomination.month, nomination.community_id)
        if board.star is not None:
            return Picked(Picking.ALREADY, board)
        entry = next(e for e in board.entries if e.person_id == nomination.nominee_person_id)
        return Picked(Picking.DONE, board, entry=entry)

    async def _refused(
        self,
        session: AsyncSession,
        actor: Actor,
        nomination_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Picked | None:
        """The refusal of someone the rules do not let pick (audited), or None."""
        allowed, reason = await self._may_select(session, actor, language)
        if allowed:
            return None
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="star.refused",
                detail={"nomination": nomination_id},
            )
        )
        return Picked(Picking.NOT_ALLOWED, reason=reason)

    async def pick(
        self,
        session: AsyncSession,
        actor: Actor,
        nomination_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Picked:
        """Make the nominee of ``nomination_id`` the Star of their community and month.

        Anyone the rules do not let pick is refused and audited, whatever button they pressed
        (the question's "yes" too: it is checked again in full); the first pick of a
        community's month wins, a later one finds it already chosen.
        """
        refused = await self._refused(session, actor, nomination_id, now=now, language=language)
        if refused is not None:
            return refused
        nomination = await session.get(StarNomination, nomination_id)
        if nomination is None:
            return Picked(Picking.GONE)
        # Two selectors pressing at once: the unique row lets only the first through.
        award_id = await insert_once(
            session,
            StarAward,
            month=nomination.month,
            community_id=nomination.community_id,
            person_id=nomination.nominee_person_id,
            nomination_id=nomination.id,
            chosen_by_person_id=actor.person_id,
            chosen_at=now,
        )
        [board] = await self._boards(session, nomination.month, nomination.community_id)
        if award_id is None:
            return Picked(Picking.ALREADY, board)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="star.chosen",
                detail={
                    "award": award_id,
                    "nomination": nomination.id,
                    "month": nomination.month,
                    "community": board.community.code,
                    "person": nomination.nominee_person_id,
                },
            )
        )
        await self._announce(session, nomination, board, now=now)
        return Picked(Picking.DONE, board)

    async def _announce(
        self, session: AsyncSession, nomination: StarNomination, board: Board, *, now: datetime
    ) -> None:
        """Tell the star, the people who nominated them, the community and its group chats."""
        nominators = (
            await session.scalars(
                select(StarNomination.nominator_person_id).where(
                    StarNomination.month == nomination.month,
                    StarNomination.nominee_person_id == nomination.nominee_person_id,
                    StarNomination.community_id == nomination.community_id,
                )
            )
        ).all()
        # Each chat gets one message: the most personal one that applies to it.
        chats: dict[int, tuple[str, Language]] = {}
        for telegram_user_id, language in await _residents_reached(
            session, nomination.community_id
        ):
            chats[telegram_user_id] = ("star_announcement", pick_language(language, self.default))
        for chat_id in await _groups_of(session, nomination.community_id):
            chats[chat_id] = ("star_announcement", self.default)
        for person_id in nominators:
            account = await repo.account_of(session, person_id)
            if account is not None:
                language = pick_language(account.language, self.default)
                chats[account.telegram_user_id] = ("star_nominee_won", language)
        account = await repo.account_of(session, nomination.nominee_person_id)
        if account is not None:
            language = pick_language(account.language, self.default)
            chats[account.telegram_user_id] = ("star_you_won", language)
        for chat_id, (template, language) in chats.items():
            text = self.texts.render(language, template, board=board, nominators=len(nominators))
            outbox.enqueue(
                session,
                chat_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}},
                priority=Priority.BULK,
                now=now,
            )


async def _residents_reached(
    session: AsyncSession, community_id: int
) -> list[tuple[int, str | None]]:
    """(Telegram user id, language) of the community's linked, reachable residents."""
    rows = await session.execute(
        select(TelegramAccount.telegram_user_id, TelegramAccount.language)
        .join(Person, Person.id == TelegramAccount.person_id)
        .join(DormRoom, DormRoom.id == Person.dorm_room_id)
        .join(Floor, Floor.id == DormRoom.floor_id)
        .join(Building, Building.id == Floor.building_id)
        .where(
            Building.community_id == community_id,
            Person.active,
            TelegramAccount.unreachable_since.is_(None),
        )
        .order_by(TelegramAccount.telegram_user_id)
    )
    return [(user_id, language) for user_id, language in rows.all()]


async def _groups_of(session: AsyncSession, community_id: int) -> list[int]:
    """The reachable group chats bound to the community or to one of its buildings or floors."""
    buildings = select(Building.id).where(Building.community_id == community_id)
    floors = select(Floor.id).where(Floor.building_id.in_(buildings))
    rows = await session.scalars(
        select(GroupChat.chat_id)
        .where(
            GroupChat.unreachable_since.is_(None),
            or_(
                and_(
                    GroupChat.scope_kind == ScopeKind.COMMUNITY,
                    GroupChat.scope_id == community_id,
                ),
                and_(GroupChat.scope_kind == ScopeKind.BUILDING, GroupChat.scope_id.in_(buildings)),
                and_(GroupChat.scope_kind == ScopeKind.FLOOR, GroupChat.scope_id.in_(floors)),
            ),
        )
        .order_by(GroupChat.chat_id)
    )
    return list(rows.all())
