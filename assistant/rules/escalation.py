"""Escalation chains (上报链条) of grid issue reports, ``rules/escalation.yaml``.

The plan (§六) builds the chain 学校党委 — 二级学院党委 — 学生社区党支部 — 网格党小组 — 网格党员 and
wants a grid's matters handled in the grid ("人往网中走、事在格中办"). A report the routing gave to
someone who leaves it unresolved climbs that chain from the grid upward, one tier per deadline.
Each rule of the file names a :class:`Chain` for the reports its ``when`` (over the routing
file's symbols) matches: its tiers, bottom first, the hours a report may stay at each, who is told
(an information copy) when a report reaches or passes a tier, and who has it when nobody on any
tier above can be reached.

A tier is a role, held over the unit of the report's place that the role's scope kind names (the
grid of its floor, the party branch of its building, the college of its community). Units nest
(:data:`LEVEL`): a report only ever climbs to a tier whose unit holds the unit of the people who
had it, so never down and never sideways, as from a grid of two floors to one floor's leader.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.domain import ROLE_SCOPE, Language, Role, ScopeKind

LEVEL: dict[ScopeKind, int] = {
    ScopeKind.ROOM: 0,
    ScopeKind.FLOOR: 1,
    # A grid cell is one or more floors of one building.
    ScopeKind.GRID: 2,
    ScopeKind.BUILDING: 3,
    # A party branch and a sub-station each cover some buildings of one community.
    ScopeKind.BRANCH: 4,
    ScopeKind.SUBSTATION: 4,
    ScopeKind.COMMUNITY: 5,
    ScopeKind.COLLEGE: 6,
    ScopeKind.SCHOOL: 7,
}
"""How far up the campus each scope kind is: a unit of one kind lies inside the units of higher
levels that hold the same place, never inside one of a lower level."""

URGENCIES = ("high", "normal", "low")
HOURS_MAX = 24 * 60
"""The longest a report may wait at one tier: sixty days."""


def level(role: Role) -> int:
    """How far up the campus ``role`` is held."""
    return LEVEL[ROLE_SCOPE[role]]


@dataclass(frozen=True, slots=True)
class Hours:
    """How long a report may stay unresolved at one tier, by its urgency."""

    high: float
    normal: float
    low: float

    def of(self, urgency: str) -> float:
        """The hours for a report of ``urgency``."""
        return float(getattr(self, urgency))

    def describe(self) -> str:
        """The hours as the file writes them."""
        if self.high == self.normal == self.low:
            return f"{self.high:g}"
        return f"{{high: {self.high:g}, normal: {self.normal:g}, low: {self.low:g}}}"


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of a chain: its role, its own hours (None: the chain's), whom to tell."""

    role: Role
    hours: Hours | None = None
    inform: tuple[Role, ...] = ()


@dataclass(frozen=True, slots=True)
class Chain:
    """An escalation rule's outcome: the tiers a report climbs, bottom first; how long it may
    stay anywhere a tier does not say; and who has it (``otherwise``) when no tier above its
    holders has anyone who can be reached (None: it stays, and its holders are reminded)."""

    hours: Hours
    tiers: tuple[Tier, ...]
    otherwise: Role | None = None

    def above(self, role: Role) -> tuple[Tier, ...]:
        """The tiers a report held by ``role`` may climb to, nearest first: those after it when
        it is a tier, otherwise every tier not below it (a report routed to a floor leader joins
        the chain at the grid)."""
        roles = [tier.role for tier in self.tiers]
        if role in roles:
            return self.tiers[roles.index(role) + 1 :]
        return tuple(tier for tier in self.tiers if level(tier.role) >= level(role))

    def hours_at(self, role: Role, urgency: str) -> float:
        """How long a report of ``urgency`` may stay with ``role`` before it climbs."""
        tier = next((tier for tier in self.tiers if tier.role is role), None)
        hours = tier.hours if tier is not None and tier.hours is not None else self.hours
        return hours.of(urgency)

    def describe(self, language: Language) -> str:
        """The chain in words, with role names as the rule files write them."""
        zh = language == "zh-CN"
        steps = []
        for tier in self.tiers:
            step = tier.role.value
            if tier.hours is not None:
                step += f" ({tier.hours.describe()} h)"
            if tier.inform:
                told = ", ".join(role.value for role in tier.inform)
                step += f"（告知 {told}）" if zh else f" (inform {told})"
            steps.append(step)
        text = " → ".join(steps) or ("不上移" if zh else "no climb")
        text += f"；时限 {self.hours.describe()} 小时" if zh else f"; hours {self.hours.describe()}"
        if self.otherwise is not None:
            text += (
                f"；都联系不上时交 {self.otherwise.value}"
                if zh
                else f"; otherwise {self.otherwise.value}"
            )
        return text


PLAN_CHAIN = Chain(
    hours=Hours(high=2, normal=24, low=72),
    tiers=(
        Tier(Role.GRID_PARTY_MEMBER),
        Tier(Role.GRID_GROUP_LEADER),
        Tier(Role.BRANCH_SECRETARY, inform=(Role.COUNSELLOR,)),
        Tier(Role.COLLEGE_PARTY_LEADER),
    ),
    otherwise=Role.COUNSELLOR,
)
"""The plan's chain (§六), which a rules folder without ``escalation.yaml`` climbs; the shipped
file says the same."""
