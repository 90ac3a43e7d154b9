"""The campus files once read and checked: plain values keyed by codes, no database ids."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.domain import FunctionalRoomKind, PersonStatus, Role, ScopeKind

MAX_FLOORS = 100
# Rooms are numbered floor + two digits (301..310), so a floor holds at most 99.
MAX_ROOMS_PER_FLOOR = 99


def room_number(floor: int, index: int) -> str:
    """The number of the ``index``-th dorm room of ``floor``: room 1 of floor 3 is ``301``."""
    return f"{floor}{index:02d}"


@dataclass(frozen=True)
class Name:
    """A display name in both languages of the bot."""

    zh: str
    en: str


@dataclass(frozen=True)
class CollegeSpec:
    """A college as the campus file describes it."""

    code: str
    name: Name


@dataclass(frozen=True)
class CommunitySpec:
    """A community and the college that leads it, if any."""

    code: str
    name: Name
    college: str | None


@dataclass(frozen=True)
class BuildingSpec:
    """A building with floors ``1..floors`` and rooms ``X01..X<rooms_per_floor>`` on each."""

    code: str
    community: str
    name: Name
    floors: int
    rooms_per_floor: int


@dataclass(frozen=True)
class UnitSpec:
    """A unit of the party organisation over some buildings of one community: a student party
    branch (学生社区党支部) or a building sub-station (社区楼工作分站)."""

    code: str
    community: str
    name: Name
    buildings: tuple[str, ...]


@dataclass(frozen=True)
class GridSpec:
    """A grid cell: some floors of one building."""

    code: str
    building: str
    floors: tuple[int, ...]


@dataclass(frozen=True)
class FunctionalRoomSpec:
    """A bookable room, placed in a building and/or owned by a college."""

    code: str
    kind: FunctionalRoomKind
    name: Name
    building: str | None
    college: str | None
    capacity: int


@dataclass(frozen=True)
class FloorRef:
    """A floor addressed as ``B1-3``."""

    building: str
    number: int

    def __str__(self) -> str:
        return f"{self.building}-{self.number}"


@dataclass(frozen=True)
class RoomRef:
    """A dorm room addressed as ``B1-301``; ``number`` is in its canonical form."""

    building: str
    floor: int
    number: str

    def __str__(self) -> str:
        return f"{self.building}-{self.number}"


@dataclass(frozen=True)
class PersonSpec:
    """One row of people.csv."""

    number: str
    name: str
    status: PersonStatus
    college: str | None
    room: RoomRef | None
    # The year a student graduates (the optional graduation column).
    graduation: int | None = None


@dataclass(frozen=True)
class Scope:
    """Where a role is held: ``school``, or a kind and the code or address of one such thing."""

    kind: ScopeKind
    target: str | FloorRef | RoomRef | None = None

    def __str__(self) -> str:
        return self.kind.value if self.target is None else f"{self.kind.value}:{self.target}"


@dataclass(frozen=True)
class RoleSpec:
    """One row of roles.csv."""

    number: str
    role: Role
    scope: Scope


@dataclass(frozen=True)
class OrgData:
    """Everything the campus files say, checked and consistent, in file order."""

    colleges: tuple[CollegeSpec, ...]
    communities: tuple[CommunitySpec, ...]
    buildings: tuple[BuildingSpec, ...]
    branches: tuple[UnitSpec, ...]
    substations: tuple[UnitSpec, ...]
    grids: tuple[GridSpec, ...]
    functional_rooms: tuple[FunctionalRoomSpec, ...]
    people: tuple[PersonSpec, ...]
    roles: tuple[RoleSpec, ...]
