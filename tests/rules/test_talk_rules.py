"""The shipped rules of heart-to-heart talks follow the plan (§三): leaders, party organisation
heads, teachers and counsellors give talks, students book them, counsellors invite, the offices
count them, and everyone may see who is on duty."""

from __future__ import annotations

import pytest

from assistant.rules import load_rules
from tests.rules.helpers import SHIPPED, person

RULES = load_rules(SHIPPED)
TEACHER = person(status="teacher", community=None, building=None, floor=None)
STAFF = person(status="staff", college=None, community=None, building=None, floor=None)


def allowed(action: str, subject: dict[str, object]) -> bool:
    return RULES.allowed(action, subject).outcome.allowed


@pytest.mark.parametrize(
    ("subject", "offer", "invite", "book", "report"),
    [
        (person(), False, False, True, False),
        (person(status="party_member", roles=["floor_leader"]), False, False, True, False),
        (TEACHER, True, False, False, False),
        ({**TEACHER, "roles": ["counsellor"]}, True, True, False, False),
        ({**TEACHER, "roles": ["college_party_leader"]}, True, False, False, True),
        ({**STAFF, "roles": ["org_department"]}, True, False, False, True),
        ({**STAFF, "roles": ["student_affairs"]}, True, False, False, True),
        ({**STAFF, "roles": ["service_centre"]}, False, False, False, False),
    ],
)
def test_who_gives_books_invites_and_counts_talks(
    subject: dict[str, object], offer: bool, invite: bool, book: bool, report: bool
) -> None:
    assert allowed("talk.offer", subject) is offer
    assert allowed("talk.invite", subject) is invite
    assert allowed("talk.book", subject) is book
    assert allowed("talk.report", subject) is report
    assert allowed("duty.see", subject)


def test_refusals_say_who_may() -> None:
    reason = RULES.allowed("talk.offer", person()).outcome.reason
    assert reason is not None and "教师和社区辅导员发布" in reason.zh
    reason = RULES.allowed("talk.book", TEACHER).outcome.reason
    assert reason is not None and reason.en.startswith("Talks are booked by students")


def test_the_policies_of_talks() -> None:
    student = person()
    assert RULES.policy("talk.max_upcoming", student).outcome.value == 2
    assert RULES.policy("talk.remind_minutes", student).outcome.value == 120
    assert RULES.policy("talk.counsellor_sees", student).outcome.value is True
    assert RULES.policy("talk.window_days", TEACHER).outcome.value == 60
