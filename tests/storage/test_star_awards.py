"""The store keeps one Star of the Month per month and scope, whoever writes it: a second Star
for the whole school, or for the same community, is refused; other communities' are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from assistant import directory
from assistant.domain import SCHOOL_SCOPE_ID, StarScope
from assistant.runner import DEMO_CAMPUS
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Community, StarAward, StarNomination

NOW = datetime(2026, 9, 26, 2, 0, tzinfo=UTC)
MONTH = "2026-09"


@pytest.fixture
async def nominations(db: Database) -> dict[str, tuple[int, int, int]]:
    """The demo campus and one nomination in each of communities C1 and C2: for each, the
    community, the nominee and the nomination."""
    found = {}
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
        pairs = {"C1": ("2023010001", "2023010004"), "C2": ("2024010006", "2024010005")}
        for code, (by, of) in pairs.items():
            community = await session.scalar(select(Community.id).where(Community.code == code))
            nominator = await repo.person_by_number(session, by)
            nominee = await repo.person_by_number(session, of)
            assert community is not None and nominator is not None and nominee is not None
            nomination = StarNomination(
                month=MONTH,
                community_id=community,
                nominator_person_id=nominator.id,
                nominee_person_id=nominee.id,
                reason="Tutors the whole floor",
                created_at=NOW,
            )
            session.add(nomination)
            await session.flush()
            found[code] = (community, nominee.id, nomination.id)
    return found


async def _award(
    db: Database, nomination: tuple[int, int, int], scope: StarScope, chooser: int
) -> None:
    community, nominee, nomination_id = nomination
    async with db.unit_of_work() as session:
        session.add(
            StarAward(
                month=MONTH,
                scope=scope,
                scope_id=SCHOOL_SCOPE_ID if scope is StarScope.SCHOOL else community,
                community_id=community,
                person_id=nominee,
                nomination_id=nomination_id,
                chosen_by_person_id=chooser,
                chosen_at=NOW,
            )
        )


async def _centre(db: Database) -> int:
    async with db.unit_of_work() as session:
        person = await repo.person_by_number(session, "T0019")
    assert person is not None
    return person.id


async def test_a_second_star_of_the_school_in_a_month_is_refused(
    db: Database, nominations: dict[str, tuple[int, int, int]]
) -> None:
    centre = await _centre(db)
    await _award(db, nominations["C1"], StarScope.SCHOOL, centre)
    with pytest.raises(IntegrityError):
        await _award(db, nominations["C2"], StarScope.SCHOOL, centre)


async def test_each_community_has_one_star_of_its_own_a_month(
    db: Database, nominations: dict[str, tuple[int, int, int]]
) -> None:
    centre = await _centre(db)
    await _award(db, nominations["C1"], StarScope.COMMUNITY, centre)
    await _award(db, nominations["C2"], StarScope.COMMUNITY, centre)
    with pytest.raises(IntegrityError):
        await _award(db, nominations["C1"], StarScope.COMMUNITY, centre)
