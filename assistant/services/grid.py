"""Grid issues (网格问题): a report is routed by the rules to a role of the reporter's grid.

"人往网中走、事在格中办": the grid party member, floor leader or counsellor responsible for the
reporter's floor gets the report through the outbox, and the reporter is told who has it. A report
about a student in difficulty is private: whatever the rules say, it goes to the community's
counsellors only, and may be anonymous.
"""

from __future__ import annotations

from datetime import tzinfo

from assistant.config import Language
from assistant.flows.engine import Action, FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.services import people
from assistant.services.calendar import is_holiday
from assistant.storage import outbox, repo
from assistant.storage.models import GridIssue, IssueStatus, Priority, Role, ScopeKind
from assistant.texts import Texts, pick_language

PRIVATE_CATEGORIES = frozenset({"student_in_need"})


def scope_of(role: Role, place: repo.Place) -> tuple[ScopeKind, int] | None:
    """Where ``role`` is held for ``place``, or None when the place has no such unit."""
    if role in (Role.COUNSELLOR, Role.WORKSTATION_HEAD):
        return ScopeKind.COMMUNITY, place.community.id
    if role in (Role.BUILDING_LEADER, Role.BUILDING_MANAGER):
        return ScopeKind.BUILDING, place.building.id
    if role is Role.FLOOR_LEADER:
        return ScopeKind.FLOOR, place.floor_id
    if role is Role.GRID_PARTY_MEMBER:
        return (ScopeKind.GRID, place.grid_id) if place.grid_id is not None else None
    if role is Role.DORM_HEAD:
        return (ScopeKind.ROOM, place.room_id) if place.room_id else None
    return None


async def my_dorm(context: FlowContext) -> list[Option]:
    """The reporter's dorm room, offered as the location."""
    place = await people.home_of(context.session, context.actor)
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


def report(rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> Action:
    """The ``grid.report`` action: store the report, route it, tell the people who have it."""

    async def submit(context: FlowContext) -> Submitted:
        session, actor, answers = context.session, context.actor, context.answers
        place = await people.home_of(session, actor)
        if place is None:
            raise Refused("grid_no_home")
        college = await repo.college(session, actor.college_id)
        local = context.now.astimezone(campus)
        category = str(answers["category"])
        private = category in PRIVATE_CATEGORIES
        decision = rules.route(
            {
                "category": category,
                "urgency": str(answers["urgency"]),
                "private": private,
                "anonymous": bool(answers.get("anonymous")),
                "building": place.building.code,
                "floor": place.floor,
                "community": place.community.code,
                "college": college.code if college else None,
                "reporter_status": str(actor.status),
                "reporter_roles": [str(g.role) for g in actor.grants],
                "hour": local.hour,
                "weekday": local.isoweekday(),
                "is_holiday": is_holiday(local.date()),
            }
        )
        assigned = decision.outcome.assign
        assert assigned is not None, "the routing file ends with a rule that assigns"
        role = Role.COUNSELLOR if private else assigned
        scope = scope_of(role, place) or scope_of(Role.FLOOR_LEADER, place)
        assert scope is not None, "every place has a floor"
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
            created_at=context.now,
            updated_at=context.now,
        )
        session.add(issue)
        await session.flush()
        wanted = [(role, *scope)]
        if not private:
            wanted += [(r, *s) for r in decision.outcome.notify if (s := scope_of(r, place))]
        holders = [h for h in await repo.holders(session, wanted) if h.person_id != actor.person_id]
        for holder in holders:
            if holder.telegram_user_id is None:
                continue
            language = pick_language(holder.language, default)
            text = texts.render(
                language,
                "grid_assigned",
                issue=issue,
                place=place,
                reporter=None if issue.anonymous else actor,
                category=context.label("category", language),
                urgency=context.label("urgency", language),
                owner=holder.role == role,
            )
            outbox.enqueue(
                session,
                holder.telegram_user_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                priority=Priority.BULK,
                now=context.now,
            )
        return Submitted(
            "grid_reported",
            {
                "issue": issue,
                "role": str(role),
                "assignees": [h.name for h in holders if h.role == role],
            },
        )

    return submit
