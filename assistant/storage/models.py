"""The SQL store: one declarative model per table.

The same schema runs on SQLite and PostgreSQL. Times are stored as UTC and always come back
timezone-aware (:class:`UTCDateTime`), because SQLite would otherwise hand back naive values.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel
from sqlalchemy.types import JSON

from assistant.domain import (
    ActivityStatus,
    Attendance,
    BookingStatus,
    BroadcastStatus,
    FunctionalRoomKind,
    IssueStatus,
    MissedPolicy,
    PersonStatus,
    RequestKind,
    RequestStatus,
    Role,
    ScopeKind,
    ServiceStatus,
    ShiftStatus,
    SignupStatus,
    StarScope,
    TalkOrigin,
    TalkSlotStatus,
    TalkStatus,
    Thing,
    reference,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # VARCHAR plus a named CHECK: portable, and adding a value is a migration of one constraint.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base with the explicit constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class College(Base):
    """A college (学院): the academic home of people and of party/league activity rooms."""

    __tablename__ = "colleges"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class Community(Base):
    """One of the six student living communities (社区), each with its workstation."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    college_id: Mapped[int | None] = mapped_column(ForeignKey("colleges.id"), index=True)


class PartyBranch(Base):
    """A student community party branch (学生社区党支部) of a community; a community may have
    several, each over some of its buildings, and its grids' party groups are under it."""

    __tablename__ = "party_branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)


class Substation(Base):
    """A building sub-station (社区楼工作分站) of a community's party-building workstation,
    over a group of its buildings."""

    __tablename__ = "substations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)


class Building(Base):
    """A dormitory building (楼栋) of a community, in at most one party branch and one
    sub-station; its party-building centre (楼栋党建工作中心) is the building itself."""

    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("party_branches.id"), index=True)
    substation_id: Mapped[int | None] = mapped_column(ForeignKey("substations.id"), index=True)


class GridCell(Base):
    """A grid cell (网格): one or more floors of a building with their grid party member."""

    __tablename__ = "grid_cells"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)


class Floor(Base):
    """A floor (楼层) of a building; belongs to at most one grid cell."""

    __tablename__ = "floors"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    number: Mapped[int] = mapped_column(Integer)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id"), index=True)


class DormRoom(Base):
    """A dorm room (宿舍) on a floor; its number (floor digits first: 301) is unique per floor."""

    __tablename__ = "dorm_rooms"
    __table_args__ = (UniqueConstraint("floor_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    floor_id: Mapped[int] = mapped_column(ForeignKey("floors.id"))
    number: Mapped[str] = mapped_column(String(16))


class FunctionalRoom(Base):
    """A bookable room (功能房): reading rooms, activity rooms and the shared studios."""

    __tablename__ = "functional_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[FunctionalRoomKind] = mapped_column(_enum(FunctionalRoomKind, "room_kind"))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    college_id: Mapped[int | None] = mapped_column(ForeignKey("colleges.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)


class Person(Base):
    """A resident, party member, counsellor or staff member, keyed by student or staff number."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[PersonStatus] = mapped_column(_enum(PersonStatus, "person_status"))
    college_id: Mapped[int | None] = mapped_column(ForeignKey("colleges.id"), index=True)
    dorm_room_id: Mapped[int | None] = mapped_column(ForeignKey("dorm_rooms.id"), index=True)
    # The year a student graduates (people.csv), for what the graduation period brings them.
    graduation_year: Mapped[int | None] = mapped_column(SmallInteger)
    # People who leave the roster are kept for history, not deleted.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoleAssignment(Base):
    """A person holding a role over one scope (floor leader of floor X, counsellor of Y...)."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "scope_kind", "scope_id"),
        Index("ix_role_assignments_scope", "scope_kind", "scope_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    scope_kind: Mapped[ScopeKind] = mapped_column(_enum(ScopeKind, "scope_kind"))
    # Points into the table named by scope_kind; SCHOOL_SCOPE_ID for school-wide roles.
    scope_id: Mapped[int] = mapped_column(Integer)


class TelegramAccount(Base):
    """The one Telegram account linked to a person through an invite."""

    __tablename__ = "telegram_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    linked_at: Mapped[datetime]
    # Set when Telegram answers 403 (the person blocked the bot); cleared when they write again.
    unreachable_since: Mapped[datetime | None]


class Invite(Base):
    """A one-time invite; only the SHA-256 of its token is stored, so a leak links no one."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)


class GroupChat(Base):
    """A Telegram group chat bound to a floor or building, where announcements land."""

    __tablename__ = "group_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(255))
    scope_kind: Mapped[ScopeKind] = mapped_column(_enum(ScopeKind, "scope_kind"))
    scope_id: Mapped[int] = mapped_column(Integer)
    bound_by_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    bound_at: Mapped[datetime]
    # Set when Telegram answers 403 (the bot was removed from the group).
    unreachable_since: Mapped[datetime | None]

    __table_args__ = (Index("ix_group_chats_scope", "scope_kind", "scope_id"),)


class AuditEntry(Base):
    """Who did what, when: every change of identity or authority leaves one row."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboxStatus(enum.StrEnum):
    """Where an incoming update stands."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"


class InboxUpdate(Base):
    """An update from Telegram, stored before it is acknowledged and handled from here.

    The primary key is Telegram's update_id, so a repeated delivery is dropped on insert.
    """

    __tablename__ = "inbox_updates"
    __table_args__ = (Index("ix_inbox_updates_status", "status", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[InboxStatus] = mapped_column(
        _enum(InboxStatus, "inbox_status"), default=InboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # After a failed attempt: not to be tried again before this time.
    retry_at: Mapped[datetime | None]


class OutboxStatus(enum.StrEnum):
    """Where an outgoing message stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class Priority(enum.IntEnum):
    """Replies to the person in front of the bot go before notifications and broadcasts."""

    INTERACTIVE = 0
    BULK = 1


class OutboxMessage(Base):
    """A Bot API call to make, committed with the change that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "priority", "id"),
        Index("ix_outbox_messages_chat_id", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.BULK)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    # A sender holds a row until then; after it, a crashed sender's row is sent again.
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the message is about (e.g. "grid:12"), so that every card of it can be updated later.
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    # The rows one update queues go in one INSERT ... RETURNING; on SQLite only this column tells
    # which returned id is whose (without it, one INSERT per row). Meaningless after the insert.
    _insert_sentinel: Mapped[int | None] = orm_insert_sentinel("insert_sentinel")


class ConversationStatus(enum.StrEnum):
    """Where a guided conversation stands."""

    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ConversationState(Base):
    """A person's place in a guided conversation, committed with every step they take.

    A restart, a crash or a second bot process resumes them exactly here. ``version`` grows with
    every step, so a button from an earlier step is recognised as stale.
    """

    __tablename__ = "conversation_states"
    __table_args__ = (
        # One active conversation per person and chat.
        Index(
            "uq_conversation_states_active",
            "person_id",
            "chat_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_conversation_states_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    conversation: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[list[str]] = mapped_column(JSON, default=list)
    page: Mapped[int] = mapped_column(Integer, default=0)
    # The conversation's messages that still carry buttons: {"ref", "text", "step"} each.
    shown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # Where each item of the current step's list stands: [key, label] by position.
    layout: Mapped[list[list[str]]] = mapped_column(JSON, default=list, server_default="[]")
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.ACTIVE
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class GridIssue(Base):
    """A problem reported in a grid cell (网格问题), and who has it."""

    __tablename__ = "grid_issues"
    __table_args__ = (
        Index("ix_grid_issues_reporter", "reporter_person_id", "created_at"),
        Index("ix_grid_issues_assignee", "assignee_scope_kind", "assignee_scope_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(255))
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    # Private reports (a student in difficulty) are shown to counsellors only.
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    floor_id: Mapped[int | None] = mapped_column(ForeignKey("floors.id"), index=True)
    status: Mapped[IssueStatus] = mapped_column(
        _enum(IssueStatus, "issue_status"), default=IssueStatus.OPEN
    )
    assignee_role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    assignee_scope_kind: Mapped[ScopeKind] = mapped_column(_enum(ScopeKind, "scope_kind"))
    assignee_scope_id: Mapped[int] = mapped_column(Integer)
    routed_by: Mapped[str] = mapped_column(String(64))
    # The facts the routing rules decided on, so `assistant explain` can replay the decision.
    routing_subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What people said on the way, oldest first: {"kind": "reopened" | "not_resolvable" |
    # "passed_on", "by": name, "text": ..., "at": ISO time}; cards and news show the latest.
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # Raised when the report is reopened or passed on: it then climbs the chain afresh, and the
    # escalation firings of an earlier round no longer count.
    round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    @property
    def reference(self) -> str:
        """What everyone calls this report ("R-7")."""
        return reference(Thing.REPORT, self.id)


class Request(Base):
    """Something a person asked for that the rules send to an approver (审批).

    The current stage's approvers are one role at one scope: everyone holding it gets a card,
    and whoever of them decides first decides for all. ``stage_no`` grows with every stage, so a
    card of an earlier stage is recognised as stale.
    """

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_requester", "requester_person_id", "created_at"),
        Index(
            "ix_requests_approver",
            "status",
            "approver_role",
            "approver_scope_kind",
            "approver_scope_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RequestKind] = mapped_column(_enum(RequestKind, "request_kind"))
    requester_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus, "request_status"), default=RequestStatus.PENDING
    )
    # The name of the current stage (e.g. "college", "experts"); stage_no counts stages passed.
    stage: Mapped[str] = mapped_column(String(32))
    stage_no: Mapped[int] = mapped_column(Integer, default=1)
    approver_role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))
    approver_scope_kind: Mapped[ScopeKind | None] = mapped_column(_enum(ScopeKind, "scope_kind"))
    approver_scope_id: Mapped[int | None] = mapped_column(Integer)
    # The rule that named the approver, for `assistant explain`.
    routed_by: Mapped[str] = mapped_column(String(64), default="")
    # What the request is about; its shape belongs to the kind (a project's plan and budget).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    # When it lapses undecided (a booking's start): its nudge and fallback come before then.
    lapses_at: Mapped[datetime | None]

    @property
    def reference(self) -> str:
        """What everyone calls the thing asked for: a booking request is its booking ("B-12"),
        a project is itself ("P-3")."""
        if self.kind is RequestKind.BOOKING:
            return reference(Thing.BOOKING, int(self.detail["booking"]))
        return reference(Thing.PROJECT, self.id)


class RequestDecision(Base):
    """One decision on one stage of a request: who, what, why."""

    __tablename__ = "request_decisions"
    __table_args__ = (
        # The first decision on a stage wins: a second one cannot be stored.
        UniqueConstraint("request_id", "stage_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    stage_no: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


_HOLDING_SQL = "status IN ('pending', 'confirmed', 'checked_in')"


class Booking(Base):
    """A functional room held for one slot (预约功能房).

    Two bookings that hold a room can never overlap: the store refuses the second one (a unique
    slot start on every database; over the time range, an exclusion constraint on PostgreSQL and
    on SQLite the triggers of migration 0011, run on insert and update under its write lock),
    so two people pressing at the same moment cannot both get it, whatever the slots' lengths.
    SQLite drops triggers with their table: a batch migration of bookings creates them again.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_room_slot",
            "room_id",
            "starts_at",
            unique=True,
            sqlite_where=text(_HOLDING_SQL),
            postgresql_where=text(_HOLDING_SQL),
        ),
        Index("ix_bookings_person", "person_id", "starts_at"),
        Index("ix_bookings_due", "status", "starts_at"),
        # Slots come from the rules and may change; ranges must still never overlap.
        ExcludeConstraint(
            ("room_id", "="),
            (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            name="ex_bookings_room_time",
            using="gist",
            where=text(_HOLDING_SQL),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("functional_rooms.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # Set when the room needs an approver.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[BookingStatus] = mapped_column(
        _enum(BookingStatus, "booking_status"), default=BookingStatus.CONFIRMED
    )
    purpose: Mapped[str] = mapped_column(Text)
    attendees: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    checked_in_at: Mapped[datetime | None]
    # Released because nobody checked in: counted in the rooms' usage evaluation.
    no_show: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def reference(self) -> str:
        """What everyone calls this booking ("B-12"), its request's cards included."""
        return reference(Thing.BOOKING, self.id)


class ProjectScore(Base):
    """One expert's scores of one project; no expert sees another's."""

    __tablename__ = "project_scores"
    __table_args__ = (UniqueConstraint("request_id", "expert_person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    expert_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # criterion -> score, filled one criterion at a time.
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The weighted total, set when every criterion is scored.
    total: Mapped[float | None]
    updated_at: Mapped[datetime]


class ProjectResult(Base):
    """What a funded project achieved (成果), as its applicant submitted it at the end: a
    summary and the photos and documents they sent. One per project: the request is the key."""

    __tablename__ = "project_results"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    summary: Mapped[str] = mapped_column(Text)
    # [{"kind": "photo" or "document", "file_id": ..., "name": a document's name or null}]
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime]


class StarNomination(Base):
    """A nomination for the Star of the Month (每月之星): one per nominator per month."""

    __tablename__ = "star_nominations"
    __table_args__ = (
        UniqueConstraint("month", "nominator_person_id"),
        Index("ix_star_nominations_month", "month", "community_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "2026-11": the month the nomination is for.
    month: Mapped[str] = mapped_column(String(7))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    nominator_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    nominee_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class StarAward(Base):
    """The Star of the Month the Community Service Centre picked for one month and scope (the
    school, or one community: ``star.scope``), and the award given with it (颁发奖励: what, on
    which day, by whom), empty until the Centre records it."""

    __tablename__ = "star_awards"
    # One Star a month per scope: the first pick wins, also when two are pressed at once.
    __table_args__ = (UniqueConstraint("month", "scope", "scope_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    scope: Mapped[StarScope] = mapped_column(_enum(StarScope, "star_scope"))
    # SCHOOL_SCOPE_ID for the school's Star, the community's id for a community's.
    scope_id: Mapped[int]
    # The Star's own community (where they were nominated), whatever the scope.
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("star_nominations.id"))
    chosen_by_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    chosen_at: Mapped[datetime]
    prize: Mapped[str | None] = mapped_column(Text)
    presented_on: Mapped[date | None]
    presented_by: Mapped[str | None] = mapped_column(String(200))


class FiringStatus(enum.StrEnum):
    """Where one scheduled firing stands."""

    PENDING = "pending"
    FIRED = "fired"
    SKIPPED = "skipped"
    # Its handler failed every try, or no handler knows its kind; the admins were told.
    FAILED = "failed"


class Firing(Base):
    """One future moment something must happen: a reminder, an escalation, a shift's prompt.

    Every firing is a row, committed with the change that planned it, so a restart re-arms it by
    reading the table. ``key`` names the firing (its source and due time), so planning the same
    thing twice stores it once; a firing is claimed by a conditional update, so two running
    instances never both fire it. A failed try is tried again after a growing delay, from
    ``next_attempt_at``; ``due_at`` stays the moment the firing is about.
    """

    __tablename__ = "firings"
    __table_args__ = (
        Index("ix_firings_due", "status", "due_at"),
        Index("ix_firings_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # Which handler fires it (assistant.schedule.scheduler), e.g. "reminder".
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    missed: Mapped[MissedPolicy] = mapped_column(
        _enum(MissedPolicy, "missed_policy"), default=MissedPolicy.LATE_ONCE
    )
    status: Mapped[FiringStatus] = mapped_column(
        _enum(FiringStatus, "firing_status"), default=FiringStatus.PENDING
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    # When it is tried (again): its due time until a try fails.
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class DutyShift(Base):
    """One shift of an activity room's duty roster (值班), planned from ``rules/duty.yaml``."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        UniqueConstraint("room_id", "starts_at"),
        Index("ix_duty_shifts_person", "person_id", "starts_at"),
        Index("ix_duty_shifts_due", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("functional_rooms.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[ShiftStatus] = mapped_column(
        _enum(ShiftStatus, "shift_status"), default=ShiftStatus.PLANNED
    )
    # Who held it before a swap, for the record.
    swapped_from_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    planned_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DutyLog(Base):
    """The work log of one shift (值班记录): who came, what happened, what was found."""

    __tablename__ = "duty_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shifts.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    attendance: Mapped[int] = mapped_column(Integer)
    happened: Mapped[str] = mapped_column(Text)
    issues: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Meeting(Base):
    """A meeting of the meeting system (会议制度, §七(一)) someone called: the coordination
    group's (at the school) or a college's workstation, sub-station or building centre's (at
    its community, sub-station or building); and its minutes once recorded."""

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_scope", "scope_kind", "scope_id", "starts_at"),
        Index("ix_meetings_minutes_at", "minutes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_kind: Mapped[ScopeKind] = mapped_column(_enum(ScopeKind, "scope_kind"))
    # The unit's row of the kind's table; SCHOOL_SCOPE_ID for the coordination group.
    scope_id: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    called_by_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    # The minutes (会议纪要): who came, what was decided, the problems found; null until then.
    minutes_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    minutes_at: Mapped[datetime | None]
    attendees: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[str | None] = mapped_column(Text)


class TalkSlot(Base):
    """A time a teacher offers for a heart-to-heart talk (谈心谈话, §三): in a room of the
    communities, or online. A weekly pattern is one slot per week, published together."""

    __tablename__ = "talk_slots"
    __table_args__ = (
        UniqueConstraint("teacher_person_id", "starts_at"),
        Index("ix_talk_slots_open", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The room it is held in; none for a talk online.
    room_id: Mapped[int | None] = mapped_column(ForeignKey("functional_rooms.id"))
    # How to join a talk online (a meeting number), as the teacher wrote it.
    online: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[TalkSlotStatus] = mapped_column(
        _enum(TalkSlotStatus, "talk_slot_status"), default=TalkSlotStatus.OPEN
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


_HOLDING_TALK_SQL = "status IN ('booked', 'held', 'no_show')"


class Talk(Base):
    """A heart-to-heart talk between a teacher and a student, in one slot.

    Private by design: only the two of them, and the student's counsellors where the rules say
    so, are ever shown that it exists; ``note`` is the teacher's, read by the teacher and those
    counsellors only; counts of talks never show content. One talk holds a slot (a unique index
    over the holding statuses), so two students pressing for the same slot cannot both get it.
    """

    __tablename__ = "talks"
    __table_args__ = (
        Index(
            "uq_talks_slot",
            "slot_id",
            unique=True,
            sqlite_where=text(_HOLDING_TALK_SQL),
            postgresql_where=text(_HOLDING_TALK_SQL),
        ),
        Index("ix_talks_student", "student_person_id", "status"),
        Index("ix_talks_teacher", "teacher_person_id", "status"),
        Index("ix_talks_community", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("talk_slots.id"))
    teacher_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    student_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # Where the student lived and studied when it was booked: what the counts are by.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    college_id: Mapped[int | None] = mapped_column(ForeignKey("colleges.id"))
    origin: Mapped[TalkOrigin] = mapped_column(_enum(TalkOrigin, "talk_origin"))
    status: Mapped[TalkStatus] = mapped_column(
        _enum(TalkStatus, "talk_status"), default=TalkStatus.BOOKED
    )
    # What the student would like to talk about; they may leave it blank.
    topic: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    noted_at: Mapped[datetime | None]
    cancelled_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # When the teacher recorded that it was held, or that the student did not come.
    recorded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Broadcast(Base):
    """An announcement to an audience (群发通知): its messages are outbox rows with ``ref``
    "bc:<id>", so their progress and outcome are counted from the outbox."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for a scheduled broadcast of rules/broadcasts.yaml.
    sender_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # The id of a scheduled broadcast in rules/broadcasts.yaml.
    source: Mapped[str | None] = mapped_column(String(64))
    # The audience as chosen: scope kind and id, roles, channels (people, groups).
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus, "broadcast_status"), default=BroadcastStatus.DRAFT
    )
    total: Mapped[int] = mapped_column(Integer, default=0)
    # The sender's chat and the message edited to show progress.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_ref: Mapped[str | None] = mapped_column(String(64))
    # The sender pressed Cancel and has not answered "really cancel?" yet.
    cancel_asked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ServiceRequest(Base):
    """A student's request for the Red Service Team's help (红色服务队), offered to the team of
    their community until a volunteer takes it; the volunteer's hours are recorded once the
    student says it is done."""

    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_requester", "requester_person_id", "created_at"),
        Index("ix_service_requests_team", "community_id", "status"),
        Index("ix_service_requests_volunteer", "volunteer_person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # The community whose team it goes to: the requester's, when they asked.
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    # A kind of rules/red_service.yaml ("phone") and what the student said about it.
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(255))
    # The time window of rules/red_service.yaml and the moments it stands for on its day.
    window: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[ServiceStatus] = mapped_column(
        _enum(ServiceStatus, "service_status"), default=ServiceStatus.OPEN
    )
    # The route of rules/red_service.yaml that sent it.
    routed_by: Mapped[str] = mapped_column(String(64))
    # The roles whose holders in the community were offered it, in order (the route's, then
    # the one it went up to): those who may take it.
    offered_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    escalated_at: Mapped[datetime | None]
    volunteer_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    taken_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    # The volunteer hours recorded when it is done (the kind's, rules/red_service.yaml).
    hours: Mapped[float | None] = mapped_column(Float)
    thanks: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def reference(self) -> str:
        """What everyone calls this request ("H-5")."""
        return reference(Thing.SERVICE, self.id)


class Activity(Base):
    """An activity (活动) people sign up for: in a functional room booked for it, or at a place
    typed by its organiser; announced to an audience (a place of the campus, narrowed by roles
    or statuses as for broadcasts) with a Sign up button."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_status", "status", "starts_at"),
        Index("ix_activities_organiser", "organiser_person_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id of a fixed activity or an optional kind in rules/activities.yaml.
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    organiser_person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # A functional room booked for it, through the booking service; else ``place`` as typed.
    room_id: Mapped[int | None] = mapped_column(ForeignKey("functional_rooms.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    place: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    # The audience: a place of the campus, and who there (roles, statuses), as for broadcasts.
    scope_kind: Mapped[ScopeKind] = mapped_column(_enum(ScopeKind, "scope_kind"))
    scope_id: Mapped[int] = mapped_column(Integer)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signup_deadline: Mapped[datetime]
    attendance: Mapped[Attendance] = mapped_column(_enum(Attendance, "activity_attendance"))
    status: Mapped[ActivityStatus] = mapped_column(_enum(ActivityStatus, "activity_status"))
    # The last sign-up's position: each press takes the next under the activity's row lock.
    positions: Mapped[int] = mapped_column(Integer, default=0)
    checkin_opened_at: Mapped[datetime | None]
    # The short code shown in the room (Attendance.CODE), set when check-in opens.
    checkin_code: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    summary_photo: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def reference(self) -> str:
        """What everyone calls this activity ("E-4")."""
        return reference(Thing.ACTIVITY, self.id)


class ActivitySignup(Base):
    """One person's sign-up for an activity: a place, or a place on the waiting list.

    A person signs up for an activity once (a unique pair); ``position`` is the order sign-ups
    were taken in (the press order), unique within the activity, so the waiting list is the
    waiting sign-ups by position.
    """

    __tablename__ = "activity_signups"
    __table_args__ = (
        UniqueConstraint("activity_id", "person_id"),
        UniqueConstraint("activity_id", "position"),
        Index("ix_activity_signups_status", "activity_id", "status", "position"),
        Index("ix_activity_signups_person", "person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[SignupStatus] = mapped_column(_enum(SignupStatus, "activity_signup_status"))
    position: Mapped[int] = mapped_column(Integer)
    # An offered place is theirs if they confirm before then; else it goes to the next.
    offer_expires_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
