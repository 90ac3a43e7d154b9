"""Star of the Month (每月之星): nominations from each community, the Service Centre's pick, the
award given with the Star.

While nominations are open (``star.nominate`` in rules/access.yaml) a student nominates one
student party member of their own community who has not won recently (``star.eligible``, with
``star.cooldown_months`` from rules/policies.yaml), and says why; one nomination per person per
month, which a unique row makes sure of even when two arrive at once. The Community Service
Centre (``star.select``) sees every community's nominations with their reasons and picks the
Star: one a month for the whole school, as the plan says, or one for each community
(``star.scope``). The first pick for a month and scope wins (a unique row again), and the choice
is announced through the outbox to everyone it is for and their group chats, each in their own
language. The pick's button only asks: authority is checked here, and a refusal is audited.
The award (what, on which day, by whom) is then recorded with the Star (conversations/
star_award.yaml), and /stars lists the Stars so far with their awards.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from assistant.domain import SCHOOL_SCOPE_ID, Actor, Language, Named, ScopeKind, StarScope
from assistant.flows.engine import (
    Action,
    Facts,
    FlowContext,
    NamedCheck,
    Provider,
    Refused,
    StartCheck,
    Submitted,
)
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


# The selector's list, the pick and the award ----------------------------------------------------

HISTORY_PAGE = 10
"""How many past Stars one page of /stars shows, newest first."""

AWARD_DAYS_AHEAD = 120
"""How far ahead of today an award's day may be recorded: a ceremony planned for next term, not
a mistyped year. The earliest is the first of the Star's month."""


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
class Star:
    """A Star of the Month as shown: who, of which community, for which month and scope, who
    picked them, and the award (what, on which day, by whom) once recorded."""

    award_id: int
    month: date
    scope: StarScope
    name: str
    community: Named
    chosen_by: str
    prize: str | None = None
    presented_on: date | None = None
    presented_by: str | None = None


@dataclass(frozen=True)
class Board:
    """A community's nominations of one month, and the Star of the scope they are judged in
    (the whole school's, or the community's own) once picked."""

    month: date
    community: Named
    scope: StarScope
    entries: list[Entry] = field(default_factory=list)
    star: Star | None = None


class Picking(enum.StrEnum):
    """What a press of a Pick (or an award's) button did."""

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
    # The Star an award's button, or the recording of its award, is about.
    star: Star | None = None


@dataclass(frozen=True)
class Boards:
    """What /stars shows first: this month's boards and the scope a Star is picked for, or why
    the person may not pick."""

    month: date
    scope: StarScope
    boards: list[Board]
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class History:
    """One page of the Stars picked so far, newest first."""

    page: int
    stars: list[Star]
    # Whether an older page follows.
    more: bool


def award_preset(star: Star) -> dict[str, object]:
    """The preset answers of the star_award conversation about ``star``."""
    return {"award": star.award_id, "month": star.month.strftime("%Y-%m")}


class Selector:
    """The Service Centre's side: the list of nominations, the pick and its announcement, the
    award given with the Star, and the Stars so far."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus

    def scope(self, actor: Actor) -> StarScope:
        """Whom a Star picked by ``actor`` is for (``star.scope`` in rules/policies.yaml, whose
        words the rules' loader checks)."""
        value = self.rules.policy("star.scope", people.rule_subject(actor)).outcome.value
        return StarScope(str(value))

    def _may_select(self, actor: Actor, language: Language) -> tuple[bool, str]:
        decision = self.rules.allowed("star.select", people.rule_subject(actor))
        reason = decision.outcome.reason
        return decision.outcome.allowed, reason.text(language) if reason else ""

    async def boards(
        self, session: AsyncSession, actor: Actor, *, now: datetime, language: Language
    ) -> Boards:
        """This month's nominations by community, for a person who may pick."""
        month = month_of(now, self.campus)
        scope = self.scope(actor)
        allowed, reason = self._may_select(actor, language)
        if not allowed:
            return Boards(first_day(month), scope, [], allowed=False, reason=reason)
        return Boards(first_day(month), scope, await self._boards(session, month, scope), True)

    async def history(
        self, session: AsyncSession, actor: Actor, page: int, *, now: datetime, language: Language
    ) -> History | Picked:
        """Page ``page`` of the Stars so far (the first, when there is no such page), or the
        refusal of someone the rules do not let pick (audited)."""
        refused = self._refused(session, actor, {"page": page}, now=now, language=language)
        if refused is not None:
            return refused
        found = await self._stars(session, limit=HISTORY_PAGE + 1, offset=page * HISTORY_PAGE)
        if not found and page > 0:
            page, found = 0, await self._stars(session, limit=HISTORY_PAGE + 1)
        return History(page, found[:HISTORY_PAGE], more=len(found) > HISTORY_PAGE)

    async def _stars(
        self,
        session: AsyncSession,
        *where: ColumnElement[bool],
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Star]:
        """The Stars ``where`` selects, newest month first."""
        star, chooser = aliased(Person), aliased(Person)
        rows = (
            await session.execute(
                select(StarAward, star.name, chooser.name, Community)
                .join(star, star.id == StarAward.person_id)
                .join(chooser, chooser.id == StarAward.chosen_by_person_id)
                .join(Community, Community.id == StarAward.community_id)
                .where(*where)
                .order_by(StarAward.month.desc(), Community.code, StarAward.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        return [
            Star(
                award.id,
                first_day(award.month),
                award.scope,
                name,
                Named(community.id, community.code, community.name_zh, community.name_en),
                chosen_by,
                award.prize,
                award.presented_on,
                award.presented_by,
            )
            for award, name, chosen_by, community in rows
        ]

    async def star(self, session: AsyncSession, award_id: int) -> Star | None:
        """The Star of ``award_id``, if there is one."""
        found = await self._stars(session, StarAward.id == award_id)
        return found[0] if found else None

    async def _covering(
        self, session: AsyncSession, month: str, scope: StarScope, community_id: int
    ) -> Star | None:
        """The Star already picked for ``community_id``'s nominations of ``month``: in the
        school's scope any Star of that month, in a community's its own or the school's. So a
        month never has a second Star for the same people, even across a change of scope."""
        where = [StarAward.month == month]
        if scope is StarScope.COMMUNITY:
            where.append(
                or_(
                    StarAward.scope == StarScope.SCHOOL,
                    and_(
                        StarAward.scope == StarScope.COMMUNITY,
                        StarAward.scope_id == community_id,
                    ),
                )
            )
        found = await self._stars(session, *where, limit=1)
        return found[0] if found else None

    async def _boards(
        self,
        session: AsyncSession,
        month: str,
        scope: StarScope,
        community_id: int | None = None,
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
        # In the school's scope every board shows the one Star: asked for once.
        stars: dict[int, Star | None] = {}
        boards = []
        for cid, entries in grouped.items():
            community = await session.get(Community, cid)
            assert community is not None
            key = SCHOOL_SCOPE_ID if scope is StarScope.SCHOOL else cid
            if key not in stars:
                stars[key] = await self._covering(session, month, scope, cid)
            boards.append(
                Board(
                    first_day(month),
                    Named(community.id, community.code, community.name_zh, community.name_en),
                    scope,
                    sorted(entries.values(), key=lambda e: (-e.count, e.nomination_id)),
                    stars[key],
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
        detail = {"nomination": nomination_id}
        refused = self._refused(session, actor, detail, now=now, language=language)
        if refused is not None:
            return refused
        nomination = await session.get(StarNomination, nomination_id)
        if nomination is None:
            return Picked(Picking.GONE)
        scope = self.scope(actor)
        [board] = await self._boards(session, nomination.month, scope, nomination.community_id)
        if board.star is not None:
            return Picked(Picking.ALREADY, board)
        entry = next(e for e in board.entries if e.person_id == nomination.nominee_person_id)
        return Picked(Picking.DONE, board, entry=entry)

    def _refused(
        self,
        session: AsyncSession,
        actor: Actor,
        detail: dict[str, int],
        *,
        now: datetime,
        language: Language,
    ) -> Picked | None:
        """The refusal of someone the rules do not let pick (audited with what they pressed),
        or None."""
        allowed, reason = self._may_select(actor, language)
        if allowed:
            return None
        session.add(
            AuditEntry(
                at=now, actor_person_id=actor.person_id, action="star.refused", detail=detail
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
        """Make the nominee of ``nomination_id`` the Star of their month and scope: the whole
        school's, or their community's (``star.scope``).

        Anyone the rules do not let pick is refused and audited, whatever button they pressed
        (the question's "yes" too: it is checked again in full); the first pick of a month and
        scope wins, a later one finds it already chosen.
        """
        detail = {"nomination": nomination_id}
        refused = self._refused(session, actor, detail, now=now, language=language)
        if refused is not None:
            return refused
        nomination = await session.get(StarNomination, nomination_id)
        if nomination is None:
            return Picked(Picking.GONE)
        scope = self.scope(actor)
        month, community_id = nomination.month, nomination.community_id
        award_id = None
        if await self._covering(session, month, scope, community_id) is None:
            # Two of the Centre pressing at once: the unique row lets only the first through.
            award_id = await insert_once(
                session,
                StarAward,
                month=month,
                scope=scope,
                scope_id=SCHOOL_SCOPE_ID if scope is StarScope.SCHOOL else community_id,
                community_id=community_id,
                person_id=nomination.nominee_person_id,
                nomination_id=nomination.id,
                chosen_by_person_id=actor.person_id,
                chosen_at=now,
            )
        [board] = await self._boards(session, month, scope, community_id)
        if award_id is None:
            return Picked(Picking.ALREADY, board)
        assert board.star is not None and board.star.award_id == award_id
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="star.chosen",
                detail={
                    "award": award_id,
                    "nomination": nomination.id,
                    "month": month,
                    "scope": str(scope),
                    "community": board.community.code,
                    "person": nomination.nominee_person_id,
                },
            )
        )
        await self._announce(session, nomination, board.star, now=now)
        return Picked(Picking.DONE, board, star=board.star)

    async def awarding(
        self,
        session: AsyncSession,
        actor: Actor,
        award_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Picked:
        """Whether ``actor`` may record the award of the Star ``award_id`` (DONE, with the Star);
        nothing changes. Anyone the rules do not let pick is refused and audited."""
        refused = self._refused(session, actor, {"award": award_id}, now=now, language=language)
        if refused is not None:
            return refused
        found = await self.star(session, award_id)
        if found is None:
            return Picked(Picking.GONE)
        return Picked(Picking.DONE, star=found)

    async def record(
        self,
        session: AsyncSession,
        actor: Actor,
        award_id: int,
        *,
        prize: str,
        presented_on: date,
        presented_by: str,
        now: datetime,
        language: Language,
    ) -> Picked:
        """Keep what was given with the Star ``award_id``, on which day and by whom (a later
        recording corrects an earlier one), and tell the Star. Checked again in full: anyone the
        rules do not let pick is refused and audited."""
        refused = self._refused(session, actor, {"award": award_id}, now=now, language=language)
        if refused is not None:
            return refused
        award = await session.get(StarAward, award_id)
        if award is None:
            return Picked(Picking.GONE)
        award.prize, award.presented_on, award.presented_by = prize, presented_on, presented_by
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="star.award_recorded",
                detail={
                    "award": award_id,
                    "prize": prize,
                    "presented_on": presented_on.isoformat(),
                    "presented_by": presented_by,
                },
            )
        )
        await session.flush()
        star = await self.star(session, award_id)
        assert star is not None
        account = await repo.account_of(session, award.person_id)
        if account is not None and account.unreachable_since is None:
            text = self.texts.render(
                pick_language(account.language, self.default), "star_award_news", star=star
            )
            outbox.enqueue(
                session,
                account.telegram_user_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=now,
            )
        return Picked(Picking.DONE, star=star)

    async def _announce(
        self, session: AsyncSession, nomination: StarNomination, star: Star, *, now: datetime
    ) -> None:
        """Tell the star, the people who nominated them, and everyone the Star is for (the whole
        school, or the community) with their group chats."""
        nominators = (
            await session.scalars(
                select(StarNomination.nominator_person_id).where(
                    StarNomination.month == nomination.month,
                    StarNomination.nominee_person_id == nomination.nominee_person_id,
                    StarNomination.community_id == nomination.community_id,
                )
            )
        ).all()
        audience = None if star.scope is StarScope.SCHOOL else nomination.community_id
        # Each chat gets one message: the most personal one that applies to it.
        chats: dict[int, tuple[str, Language]] = {}
        for telegram_user_id, language in await _residents_reached(session, audience):
            chats[telegram_user_id] = ("star_announcement", pick_language(language, self.default))
        for chat_id in await _groups_of(session, audience):
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
            text = self.texts.render(language, template, star=star, nominators=len(nominators))
            outbox.enqueue(
                session,
                chat_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}},
                priority=Priority.BULK,
                now=now,
            )


async def _residents_reached(
    session: AsyncSession, community_id: int | None
) -> list[tuple[int, str | None]]:
    """(Telegram user id, language) of the linked, reachable residents of the community, or of
    every community for None."""
    where = [] if community_id is None else [Building.community_id == community_id]
    rows = await session.execute(
        select(TelegramAccount.telegram_user_id, TelegramAccount.language)
        .join(Person, Person.id == TelegramAccount.person_id)
        .join(DormRoom, DormRoom.id == Person.dorm_room_id)
        .join(Floor, Floor.id == DormRoom.floor_id)
        .join(Building, Building.id == Floor.building_id)
        .where(Person.active, TelegramAccount.unreachable_since.is_(None), *where)
        .order_by(TelegramAccount.telegram_user_id)
    )
    return [(user_id, language) for user_id, language in rows.all()]


async def _groups_of(session: AsyncSession, community_id: int | None) -> list[int]:
    """The reachable group chats bound to the community or to one of its buildings or floors;
    every reachable bound group chat for None."""
    where: list[ColumnElement[bool]] = [GroupChat.unreachable_since.is_(None)]
    if community_id is not None:
        buildings = select(Building.id).where(Building.community_id == community_id)
        floors = select(Floor.id).where(Floor.building_id.in_(buildings))
        where.append(
            or_(
                and_(
                    GroupChat.scope_kind == ScopeKind.COMMUNITY,
                    GroupChat.scope_id == community_id,
                ),
                and_(GroupChat.scope_kind == ScopeKind.BUILDING, GroupChat.scope_id.in_(buildings)),
                and_(GroupChat.scope_kind == ScopeKind.FLOOR, GroupChat.scope_id.in_(floors)),
            )
        )
    rows = await session.scalars(
        select(GroupChat.chat_id).where(*where).order_by(GroupChat.chat_id)
    )
    return list(rows.all())


# The award's conversation (conversations/star_award.yaml) --------------------------------------


def _iso_day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _award_days(context: FlowContext, campus: tzinfo) -> tuple[date, date]:
    """The first and the last day an award's day may be: the first of the Star's month, and
    :data:`AWARD_DAYS_AHEAD` days after today."""
    today = context.now.astimezone(campus).date()
    return first_day(str(context.answers["month"])), today + timedelta(days=AWARD_DAYS_AHEAD)


def award_facts(selector: Selector, campus: tzinfo) -> Facts:
    """The ``star.award_facts`` facts: the Star the award is for, the days it may be on, and the
    day answered (as a date, for the summary)."""

    async def facts(context: FlowContext) -> dict[str, Any]:
        found = await selector.star(context.session, int(context.answers["award"]))
        earliest, latest = _award_days(context, campus)
        day = _iso_day(context.answers.get("presented_on"))
        return {"star": found, "earliest": earliest, "latest": latest, "day": day}

    return facts


def award_day(campus: tzinfo) -> NamedCheck:
    """The ``star.award_day`` check: the day is within :func:`_award_days`."""

    async def check(context: FlowContext, value: Any) -> bool:
        day = _iso_day(value)
        earliest, latest = _award_days(context, campus)
        return day is not None and earliest <= day <= latest

    return check


def presenters(texts: Texts) -> Provider:
    """The ``star.presenters`` suggestion: the Community Service Centre, which gives the award
    in the plan, in the clerk's language."""

    async def provide(context: FlowContext) -> list[Option]:
        centre = texts.render(context.language, "star_award/centre")
        return [Option(centre, {context.language: centre})]

    return provide


def record_award(selector: Selector) -> Action:
    """The ``star.award`` action: the award kept with the Star, checked again in full."""

    async def submit(context: FlowContext) -> Submitted:
        answers = context.answers
        day = _iso_day(answers["presented_on"])
        assert day is not None, "a date step's answer is an ISO day"
        result = await selector.record(
            context.session,
            context.actor,
            int(answers["award"]),
            prize=str(answers["prize"]),
            presented_on=day,
            presented_by=str(answers["presented_by"]),
            now=context.now,
            language=context.language,
        )
        if result.handling is Picking.NOT_ALLOWED:
            raise Refused("star_refused", reason=result.reason)
        if result.handling is not Picking.DONE:
            raise Refused("button_expired")
        return Submitted("star_award_recorded", {"star": result.star})

    return submit


def names(kit: Kit) -> Names:
    """The nominee list, the checks before its first question (once a month, somebody to
    nominate) and the nomination of nominate_star.yaml; the award's questions, its check of the
    day and its recording for star_award.yaml."""
    selector = Selector(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        providers={
            "star_nominees": nominees(kit.rules, kit.texts, kit.campus),
            "star.presenters": presenters(kit.texts),
        },
        checks={"star.award_day": award_day(kit.campus)},
        actions={
            "star.nominate": nominate(kit.rules, kit.campus),
            "star.award": record_award(selector),
        },
        start_checks={
            "star.first_this_month": first_this_month(kit.campus),
            "star.someone_eligible": someone_eligible(kit.rules, kit.campus),
        },
        facts={"star.award_facts": award_facts(selector, kit.campus)},
    )
