"""The words of the domain: who people are, what roles and scopes there are, where things stand.

Rules, services, storage and templates all speak these words, so they live here, below every
layer, and import nothing of the assistant's own. The ORM stores them (``storage/models.py``);
rules compare them; templates show them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
# The campus clock unless ASSISTANT_TIMEZONE says otherwise: every time a person reads is on it.
CAMPUS_TIMEZONE = "Asia/Shanghai"


class PersonStatus(enum.StrEnum):
    """Where a person stands: the plan treats each differently."""

    STUDENT = "student"
    ACTIVIST = "activist"
    PARTY_MEMBER = "party_member"
    TEACHER = "teacher"
    STAFF = "staff"


class ScopeKind(enum.StrEnum):
    """The level of the campus a role or a group chat belongs to."""

    SCHOOL = "school"
    COLLEGE = "college"
    COMMUNITY = "community"
    BUILDING = "building"
    FLOOR = "floor"
    ROOM = "room"
    GRID = "grid"
    # The party organisation's own units over buildings (docs/org-files.md): a community's
    # student party branch (学生社区党支部) and its building sub-station (社区楼工作分站).
    BRANCH = "branch"
    SUBSTATION = "substation"


SCHOOL_SCOPE_ID = 0
"""``scope_id`` of roles that cover the whole school (there is one school per database)."""


class Role(enum.StrEnum):
    """Every role of the plan's chain of responsibility, the heads of its party organisation's
    units, and the school-wide offices."""

    COLLEGE_PARTY_LEADER = "college_party_leader"
    # 社区党工委书记: the community party working committee the college party organisation sends.
    COMMITTEE_SECRETARY = "committee_secretary"
    # 社区党建工作站站长: the head of the community's party-building workstation.
    WORKSTATION_HEAD = "workstation_head"
    COUNSELLOR = "counsellor"
    # 社区楼工作分站站长: the head of the sub-station of a group of buildings.
    SUBSTATION_HEAD = "substation_head"
    # 学生社区党支部书记: the secretary of a student community party branch.
    BRANCH_SECRETARY = "branch_secretary"
    # 楼栋党建工作中心负责人: the head of a building's party-building centre.
    CENTRE_HEAD = "centre_head"
    BUILDING_MANAGER = "building_manager"
    BUILDING_LEADER = "building_leader"
    FLOOR_LEADER = "floor_leader"
    DORM_HEAD = "dorm_head"
    # 网格党小组组长: the leader of a grid's party group.
    GRID_GROUP_LEADER = "grid_group_leader"
    GRID_PARTY_MEMBER = "grid_party_member"
    # 红色服务队 (work plan item 6): a community's team of volunteers and its leader.
    SERVICE_VOLUNTEER = "service_volunteer"
    SERVICE_TEAM_LEADER = "service_team_leader"
    ORG_DEPARTMENT = "org_department"
    # The other offices of the coordination group (协调小组, §三), which the Organisation
    # Department leads: 后勤保卫处, 党委学生工作部, 党委宣传部, 校团委, 体育部.
    LOGISTICS_SECURITY = "logistics_security"
    STUDENT_AFFAIRS = "student_affairs"
    PUBLICITY = "publicity"
    YOUTH_LEAGUE = "youth_league"
    SPORTS = "sports"
    SERVICE_CENTRE = "service_centre"
    EXPERT = "expert"
    ADMIN = "admin"


ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.COLLEGE_PARTY_LEADER: ScopeKind.COLLEGE,
    Role.COMMITTEE_SECRETARY: ScopeKind.COMMUNITY,
    Role.WORKSTATION_HEAD: ScopeKind.COMMUNITY,
    Role.COUNSELLOR: ScopeKind.COMMUNITY,
    Role.SUBSTATION_HEAD: ScopeKind.SUBSTATION,
    Role.BRANCH_SECRETARY: ScopeKind.BRANCH,
    Role.CENTRE_HEAD: ScopeKind.BUILDING,
    Role.BUILDING_MANAGER: ScopeKind.BUILDING,
    Role.BUILDING_LEADER: ScopeKind.BUILDING,
    Role.FLOOR_LEADER: ScopeKind.FLOOR,
    Role.DORM_HEAD: ScopeKind.ROOM,
    Role.GRID_GROUP_LEADER: ScopeKind.GRID,
    Role.GRID_PARTY_MEMBER: ScopeKind.GRID,
    Role.SERVICE_VOLUNTEER: ScopeKind.COMMUNITY,
    Role.SERVICE_TEAM_LEADER: ScopeKind.COMMUNITY,
    Role.ORG_DEPARTMENT: ScopeKind.SCHOOL,
    Role.LOGISTICS_SECURITY: ScopeKind.SCHOOL,
    Role.STUDENT_AFFAIRS: ScopeKind.SCHOOL,
    Role.PUBLICITY: ScopeKind.SCHOOL,
    Role.YOUTH_LEAGUE: ScopeKind.SCHOOL,
    Role.SPORTS: ScopeKind.SCHOOL,
    Role.SERVICE_CENTRE: ScopeKind.SCHOOL,
    Role.EXPERT: ScopeKind.SCHOOL,
    Role.ADMIN: ScopeKind.SCHOOL,
}
"""The one scope kind each role is held at; the importer rejects any other."""


class RoleGroup(enum.StrEnum):
    """Roles that rules and services address together by one name."""

    # 党建进社区工作协调小组 (§三): the Organisation Department leads, five offices take part.
    COORDINATION_GROUP = "coordination_group"


GROUP_ROLES: dict[RoleGroup, tuple[Role, ...]] = {
    RoleGroup.COORDINATION_GROUP: (
        Role.ORG_DEPARTMENT,
        Role.LOGISTICS_SECURITY,
        Role.STUDENT_AFFAIRS,
        Role.PUBLICITY,
        Role.YOUTH_LEAGUE,
        Role.SPORTS,
    ),
}
"""The roles of each group; the first one leads it."""


def roles_named(word: str) -> tuple[Role, ...] | None:
    """The roles ``word`` stands for in a rule file: a role itself, or every role of a group
    (``coordination_group``); None for a word that is neither."""
    if word in {role.value for role in Role}:
        return (Role(word),)
    if word in {group.value for group in RoleGroup}:
        return GROUP_ROLES[RoleGroup(word)]
    return None


class FunctionalRoomKind(enum.StrEnum):
    """The kinds of bookable rooms the plan names."""

    READING_ROOM = "reading_room"
    ACTIVITY_ROOM = "activity_room"
    PSYCH_STUDIO = "psych_studio"
    PARTY_STUDIO = "party_studio"
    GROWTH_CENTRE = "growth_centre"


class IssueStatus(enum.StrEnum):
    """Where a grid issue stands; the closing states say honestly how it ended."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    NOT_RESOLVABLE = "not_resolvable"
    NOT_OURS = "not_ours"
    DUPLICATE = "duplicate"


class RequestKind(enum.StrEnum):
    """The kinds of request that wait for someone's approval."""

    BOOKING = "booking"
    PROJECT = "project"


class Thing(enum.StrEnum):
    """What people can hold a reference to (:func:`reference`)."""

    BOOKING = "booking"
    REPORT = "report"
    PROJECT = "project"
    NOMINATION = "nomination"
    BROADCAST = "broadcast"
    MEETING = "meeting"
    # A request for the Red Service Team's help.
    SERVICE = "service"
    ACTIVITY = "activity"


_LETTERS = {
    Thing.BOOKING: "B",
    Thing.REPORT: "R",
    Thing.PROJECT: "P",
    Thing.NOMINATION: "S",
    Thing.BROADCAST: "A",
    Thing.MEETING: "M",
    Thing.SERVICE: "H",
    Thing.ACTIVITY: "E",
}


def reference(thing: str, number: int) -> str:
    """The one reference everyone sees for a thing, in every message and every language: a
    letter for its kind and its number ("B-12" for booking 12, "R-7" for report 7). The number
    is the thing's own, never that of a request about it: a booking keeps its "B-" whether or
    not someone approves it. A request for help from the Red Service Team is "H-5"."""
    return f"{_LETTERS[Thing(thing)]}-{number}"


def floor_span(numbers: list[int]) -> str:
    """Floors as people say them, in either language: "1–2" for a run, "1, 3" otherwise."""
    ordered = sorted(numbers)
    if len(ordered) > 1 and ordered[-1] - ordered[0] == len(ordered) - 1:
        return f"{ordered[0]}–{ordered[-1]}"
    return ", ".join(str(n) for n in ordered)


class RequestStatus(enum.StrEnum):
    """Where a request stands. A request in review moves through stages while pending."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class BookingStatus(enum.StrEnum):
    """Where a room booking stands; the first three hold the slot."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RELEASED = "released"


HOLDING_BOOKING = (BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


class ShiftStatus(enum.StrEnum):
    """Where a duty shift stands."""

    PLANNED = "planned"
    # Its holder can't make it: offered to the pool until someone takes it.
    OFFERED = "offered"
    # Nobody took it in time: the room's owner has it.
    ESCALATED = "escalated"
    DONE = "done"
    SKIPPED = "skipped"


class TalkSlotStatus(enum.StrEnum):
    """Whether a published heart-to-heart talk slot is still on offer."""

    OPEN = "open"
    # Its teacher took it back before anyone booked it.
    WITHDRAWN = "withdrawn"


class TalkStatus(enum.StrEnum):
    """Where a heart-to-heart talk (谈心谈话) stands; the first three hold its slot."""

    BOOKED = "booked"
    HELD = "held"
    # The student did not come: recorded by the teacher, counted for the evaluation.
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


HOLDING_TALK = (TalkStatus.BOOKED, TalkStatus.HELD, TalkStatus.NO_SHOW)


class TalkOrigin(enum.StrEnum):
    """How a talk came about: a student booked a slot, or a counsellor invited the student."""

    BOOKED = "booked"
    INVITED = "invited"


class BroadcastStatus(enum.StrEnum):
    """Where a broadcast stands."""

    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class ServiceStatus(enum.StrEnum):
    """Where a request for the Red Service Team's help stands."""

    # Offered to the team: the first volunteer to take it gets it.
    OPEN = "open"
    TAKEN = "taken"
    # The student said it was done (and thanked); the volunteer's hours are recorded.
    DONE = "done"
    # Its time window ended with nobody taking it.
    LAPSED = "lapsed"


class ActivityStatus(enum.StrEnum):
    """Where an activity stands."""

    # Its room's booking waits for an approver: announced once it is confirmed.
    PENDING = "pending"
    # Announced: people sign up until its deadline, and come.
    OPEN = "open"
    CANCELLED = "cancelled"
    # Over: no-shows recorded, participants asked to rate it.
    ENDED = "ended"


class Attendance(enum.StrEnum):
    """How an activity's attendance is taken, if at all."""

    NONE = "none"
    # A check-in button to each participant, valid while the organiser keeps check-in open.
    BUTTON = "button"
    # A short code shown in the room (a QR code of a deep link) checks people in.
    CODE = "code"


class SignupStatus(enum.StrEnum):
    """Where one person's sign-up for an activity stands."""

    SIGNED_UP = "signed_up"
    WAITING = "waiting"
    # A place came free and is theirs if they confirm in time.
    OFFERED = "offered"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


HOLDING_PLACE = (SignupStatus.SIGNED_UP, SignupStatus.OFFERED, SignupStatus.ATTENDED)
"""Sign-ups that take one of an activity's places."""


class MissedPolicy(enum.StrEnum):
    """What a firing does when it comes due while the bot was down (later than its grace)."""

    LATE_ONCE = "late_once"
    SKIP = "skip"


class StarScope(enum.StrEnum):
    """Whom one Star of the Month is chosen for (``star.scope`` in rules/policies.yaml): the
    whole school, as the plan says (§七(四)), or each community on its own."""

    SCHOOL = "school"
    COMMUNITY = "community"


@dataclass(frozen=True)
class Named:
    """A campus unit with its code and both names; templates pick the name of their language."""

    id: int
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Place:
    """Where a dorm room is, from the room up to the community."""

    room_id: int
    room: str
    floor_id: int
    floor: int
    grid_id: int | None
    grid: str | None
    building: Named
    community: Named


@dataclass(frozen=True)
class Grant:
    """One role held over one scope."""

    role: Role
    scope_kind: ScopeKind
    scope_id: int


@dataclass(frozen=True)
class Actor:
    """The known person behind an update, with everything access checks need."""

    person_id: int
    number: str
    name: str
    status: PersonStatus
    language: str | None
    college: Named | None
    home: Place | None
    """Where the person lives, if on campus."""
    grants: tuple[Grant, ...]
    unreachable: bool = False

    def holds(self, role: Role) -> bool:
        """Whether the actor holds ``role`` anywhere."""
        return any(g.role == role for g in self.grants)
