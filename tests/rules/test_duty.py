"""Duty files: rooms, shifts, pools and skip rules read with their lines; broken files refused
with file, line, room/shift id and a suggestion, by the loader and by `assistant check`."""

from __future__ import annotations

import io
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import REPO_ROOT
from assistant.domain import Role
from assistant.rules import RulesError, load_rules
from assistant.rules.duty import DutyRoom, Order
from assistant.services.people import day_facts
from tests.rules.helpers import person, with_shipped_periods, write_rules

CALENDAR = """
    semesters:
      - id: autumn
        name: {zh: 秋季学期, en: Autumn}
        first_day: 2026-09-07
        teaching_weeks: 16
        exam_weeks: [3]
        last_day: 2027-01-10
    # The shipped reminders count from the yearly call for projects.
    yearly:
      - id: project-call
        name: {zh: 社区党建课题申报, en: call for projects}
        from: 09-01
        to: 12-15
"""
GOOD = """
    rooms:
      - room: BUS-ACT
        owner: counsellor
        pool: status == 'party_member' and college == 'BUS'
        order: fair
        skip: is_holiday or (is_exam_week ?? false)
        shifts:
          - id: evening
            days: [1, 2, 3, 4, 5]
            from: "18:30"
            to: "21:30"
          - id: saturday
            days: [6]
            from: "09:00"
            to: "11:30"
"""


def load(tmp_path: Path, text: str) -> dict[str, DutyRoom]:
    return load_rules(write_rules(tmp_path, calendar=CALENDAR, duty=text)).duty


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RulesError) as raised:
        load(tmp_path, text)
    return [str(problem) for problem in raised.value.problems]


def test_the_shipped_file_loads() -> None:
    rooms = load_rules(REPO_ROOT / "rules").duty
    assert set(rooms) == {"BUS-ACT", "ART-ACT", "MEE-ACT"}
    assert all(room.owner is Role.COUNSELLOR for room in rooms.values())


def test_a_room_as_written(tmp_path: Path) -> None:
    room = load(tmp_path, GOOD)["BUS-ACT"]
    assert (room.owner, room.order, room.line) == (Role.COUNSELLOR, Order.FAIR, 2)
    assert room.remind == timedelta(days=1) and room.escalate == timedelta(hours=4)
    evening, saturday = room.shifts
    assert (evening.id, sorted(evening.days), evening.start, evening.end, evening.hours) == (
        "evening",
        [1, 2, 3, 4, 5],
        time(18, 30),
        time(21, 30),
        3.0,
    )
    assert saturday.hours == 2.5
    assert room.admits(person(status="party_member"))
    assert not room.admits(person(status="party_member", college="ART"))
    assert not room.admits(person())


def test_the_skip_rule_asks_the_calendar(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, calendar=CALENDAR, duty=GOOD))
    room = rules.duty["BUS-ACT"]

    def skips(day: date) -> bool:
        return room.skips(day_facts(day, rules.calendar))

    assert not skips(date(2026, 9, 14))  # a Monday of teaching week 2
    assert skips(date(2026, 9, 22))  # exam week
    assert skips(date(2026, 10, 1)) and skips(date(2026, 10, 7))  # National Day
    assert skips(date(2026, 9, 19))  # a Saturday is a day off too
    assert not skips(date(2026, 10, 8))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("owner: counsellor", "owner: counselor")],
            "rules/duty.yaml:3 [BUS-ACT]: owner 'counselor' is not a role held over a room's "
            "building, community, college or the school (one of: college_party_leader, "
            "committee_secretary, workstation_head, counsellor, centre_head, building_manager, "
            "building_leader, service_volunteer, service_team_leader, org_department, "
            "logistics_security, student_affairs, publicity, "
            "youth_league, sports, service_centre, expert, admin) (did you mean 'counsellor'?)",
        ),
        (
            [("owner: counsellor", "owner: floor_leader")],
            "rules/duty.yaml:3 [BUS-ACT]: owner 'floor_leader' is not a role held over a room's "
            "building, community, college or the school (one of: college_party_leader, "
            "committee_secretary, workstation_head, counsellor, centre_head, building_manager, "
            "building_leader, service_volunteer, service_team_leader, org_department, "
            "logistics_security, student_affairs, publicity, "
            "youth_league, sports, service_centre, expert, admin)",
        ),
        (
            [("college == 'BUS'", "colege == 'BUS'")],
            "rules/duty.yaml:4 [BUS-ACT]: pool: unknown symbol 'colege' (did you mean 'college'?)",
        ),
        (
            [("is_exam_week ?? false", "is_exam_wek ?? false")],
            "rules/duty.yaml:6 [BUS-ACT]: skip: unknown symbol 'is_exam_wek' "
            "(did you mean 'is_exam_week'?)",
        ),
        (
            [("order: fair", "order: fiar")],
            "rules/duty.yaml:5 [BUS-ACT]: order is 'fiar' (round_robin or fair) "
            "(did you mean 'fair'?)",
        ),
        (
            [("    shifts:", "    shfits:")],
            "rules/duty.yaml:7 [BUS-ACT]: unknown key 'shfits' (known: room, owner, pool, order, "
            "skip, remind_minutes, escalate_hours, shifts) (did you mean 'shifts'?)",
        ),
        (
            [('from: "18:30"', "from: 18:30")],
            "rules/duty.yaml:10 [BUS-ACT/evening]: from is 1110, not a time in quotes like "
            '"18:00" (did you mean \'"18:30"\'?)',
        ),
        (
            [("days: [6]", "days: [6, 8]")],
            "rules/duty.yaml:13 [BUS-ACT/saturday]: days must be a list of weekdays, 1 (Monday) "
            "to 7 (Sunday), like [1, 3, 5]",
        ),
        (
            [('to: "11:30"', 'to: "08:30"')],
            "rules/duty.yaml:15 [BUS-ACT/saturday]: to (08:30) must be after from (09:00): a "
            "shift ends the day it starts",
        ),
        (
            [
                ("days: [6]", "days: [5]"),
                ('from: "09:00"', 'from: "19:00"'),
                ('to: "11:30"', 'to: "22:00"'),
            ],
            "rules/duty.yaml:14 [BUS-ACT/saturday]: shift 'saturday' overlaps shift 'evening' "
            "(line 8) on Friday",
        ),
        (
            [("- id: saturday", "- id: evening")],
            "rules/duty.yaml:12 [BUS-ACT]: shift id 'evening' is used twice in this room",
        ),
        (
            [("    order: fair", "    order: fair\n        escalate_hours: 30")],
            "rules/duty.yaml:6 [BUS-ACT]: escalate_hours (30) must end before the reminder "
            "(1440 minutes before the shift): the reminder's button offers the shift to the pool "
            "first",
        ),
    ],
)
def test_a_broken_room_is_refused_with_line_id_and_suggestion(
    tmp_path: Path, changes: list[tuple[str, str]], expected: str
) -> None:
    text = GOOD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    assert problems(tmp_path, text) == [expected]


def test_a_room_listed_twice_and_a_missing_pool(tmp_path: Path) -> None:
    room = """
      - room: BUS-ACT
        owner: counsellor
        pool: "true"
        shifts: [{id: a, days: [1], from: "08:00", to: "09:00"}]
    """
    text = "rooms:" + room + room + room.replace('pool: "true"', "").replace("BUS", "ART")
    assert problems(tmp_path, text) == [
        "rules/duty.yaml:7 [BUS-ACT]: room 'BUS-ACT' is used twice (first on line 2)",
        "rules/duty.yaml:12 [ART-ACT]: missing pool: who takes turns: a rule over people, like "
        "status == 'party_member'",
    ]


def test_assistant_check_names_the_broken_duty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write_rules(
        tmp_path, calendar=with_shipped_periods(CALENDAR), duty=GOOD.replace("fair", "fiar")
    )
    for name in ("routing", "access", "policies", "reminders"):
        (rules / f"{name}.yaml").write_text(
            (REPO_ROOT / "rules" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) == 1
    assert out.getvalue().splitlines() == [
        "rules/duty.yaml:5 [BUS-ACT]: order is 'fiar' (round_robin or fair) (did you mean 'fair'?)"
    ]
    assert "1 problem(s) found" in capsys.readouterr().err


def test_the_shipped_rooms_stay_open_longer_in_exam_weeks() -> None:
    rules = load_rules(REPO_ROOT / "rules")
    room = rules.duty["BUS-ACT"]

    def shifts(day: date) -> list[str]:
        facts = day_facts(day, rules.calendar)
        return [] if room.skips(facts) else [s.id for s in room.shifts if s.runs(facts)]

    assert shifts(date(2027, 1, 6)) == ["evening"]  # a Wednesday of teaching week 18
    assert shifts(date(2027, 1, 9)) == []  # its Saturday
    # Exam week 19: not closed but longer, every day, the weekend included (§五(二)).
    assert shifts(date(2027, 1, 13)) == ["exam-afternoon", "exam-evening"]
    assert shifts(date(2027, 1, 16)) == ["exam-afternoon", "exam-evening"]
    assert shifts(date(2027, 2, 3)) == []  # the winter vacation


EXAM_SHIFT = """
          - id: exam
            days: [1, 2, 3, 4, 5, 6, 7]
            from: "14:00"
            to: "22:00"
            when: is_exam_week ?? false
"""


def test_a_shift_of_its_own_days_runs_only_on_them(tmp_path: Path) -> None:
    text = GOOD.replace("skip: is_holiday or (is_exam_week ?? false)", "skip: false")
    text = text.replace(
        '            to: "21:30"\n',
        '            to: "21:30"\n            when: not (is_exam_week ?? false)\n',
    )
    rules = load_rules(write_rules(tmp_path, calendar=CALENDAR, duty=text + EXAM_SHIFT))
    room = rules.duty["BUS-ACT"]

    def shifts(day: date) -> list[str]:
        facts = day_facts(day, rules.calendar)
        return [shift.id for shift in room.shifts if shift.runs(facts)]

    assert shifts(date(2026, 9, 14)) == ["evening"]
    assert shifts(date(2026, 9, 22)) == ["exam"]  # exam week 3
    assert shifts(date(2026, 9, 26)) == ["saturday", "exam"]  # its Saturday: both, apart
    assert shifts(date(2026, 9, 19)) == ["saturday"]


def test_shifts_that_would_overlap_on_a_day_both_run_are_refused(tmp_path: Path) -> None:
    # The evening runs every weekday, so the exam shift overlaps it on the exam week's Monday.
    assert problems(tmp_path, GOOD + EXAM_SHIFT) == [
        "rules/duty.yaml:19 [BUS-ACT/exam]: shift 'exam' overlaps shift 'evening' (line 8) on "
        "2026-09-21, a day both run (see their when)",
    ]


def test_a_shifts_when_is_a_rule_over_the_day(tmp_path: Path) -> None:
    broken = GOOD + EXAM_SHIFT.replace("is_exam_week ?? false", "is_exam_wek ?? false")
    assert problems(tmp_path, broken) == [
        "rules/duty.yaml:21 [BUS-ACT/exam]: when: unknown symbol 'is_exam_wek' "
        "(did you mean 'is_exam_week'?)",
    ]
    assert problems(tmp_path, GOOD + EXAM_SHIFT.replace("is_exam_week ?? false", "status == 'x'"))[
        0
    ].startswith("rules/duty.yaml:21 [BUS-ACT/exam]: when: unknown symbol 'status'")
