"""The counsellors' office hours file: offices read with their lines, open and closed by the
day's facts, and broken files refused with file, line, entry id and a suggestion, by the loader
and by `assistant check`."""

from __future__ import annotations

import io
from datetime import date, time
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import REPO_ROOT
from assistant.rules import RulesError, load_rules
from assistant.rules.office_hours import OfficeHours
from assistant.services.people import day_facts
from tests.rules.helpers import write_rules

CALENDAR = """
    semesters:
      - id: autumn
        name: {zh: 秋季学期, en: Autumn}
        first_day: 2026-09-07
        teaching_weeks: 16
        exam_weeks: [3]
        last_day: 2027-01-10
"""
GOOD = """
    office_hours:
      - id: c1-counsellors
        community: C1
        place: {zh: 1号楼辅导员办公室, en: "Counsellors' office, Building 1"}
        skip: is_holiday or (is_vacation ?? false)
        hours:
          - {days: [1, 2, 3, 4, 5], from: "14:00", to: "17:00"}
          - days: [2, 4]
            from: "19:00"
            to: "21:00"
"""


def load(tmp_path: Path, text: str) -> dict[str, OfficeHours]:
    return load_rules(write_rules(tmp_path, calendar=CALENDAR, office_hours=text)).office_hours


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RulesError) as raised:
        load(tmp_path, text)
    return [str(problem) for problem in raised.value.problems]


def test_the_shipped_file_gives_every_community_of_the_demo_campus_its_office() -> None:
    offices = load_rules(REPO_ROOT / "rules").office_hours
    assert sorted(office.community for office in offices.values()) == [f"C{n}" for n in range(1, 7)]


def test_an_office_as_written_and_when_it_is_open(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, calendar=CALENDAR, office_hours=GOOD))
    office = rules.office_hours["c1-counsellors"]
    assert (office.community, office.place["zh-CN"], office.line) == ("C1", "1号楼辅导员办公室", 2)
    assert [(sorted(h.days), h.start, h.end) for h in office.hours] == [
        ([1, 2, 3, 4, 5], time(14), time(17)),
        ([2, 4], time(19), time(21)),
    ]

    def open_at(day: date, clock: time) -> bool:
        return office.open_at(day_facts(day, rules.calendar), clock)

    assert open_at(date(2026, 9, 15), time(19, 30))  # a Tuesday evening
    assert not open_at(date(2026, 9, 14), time(19, 30))  # Monday evenings are not
    assert not open_at(date(2026, 9, 15), time(17))  # the end is the end
    assert not open_at(date(2026, 10, 1), time(15))  # National Day
    assert not open_at(date(2026, 9, 1), time(15))  # the summer vacation


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("community: C1", "communty: C1")],
            "rules/office_hours.yaml:3 [c1-counsellors]: unknown key 'communty' (known: id, "
            "community, place, skip, hours) (did you mean 'community'?)",
        ),
        (
            [("community: C1", "community: [C1]")],
            "rules/office_hours.yaml:3 [c1-counsellors]: community must be a community's code, "
            "like C1",
        ),
        (
            [
                (
                    'place: {zh: 1号楼辅导员办公室, en: "Counsellors\' office, Building 1"}',
                    "place: 办公室",
                )
            ],
            "rules/office_hours.yaml:4 [c1-counsellors]: place must be {zh: ..., en: ...}",
        ),
        (
            [("is_vacation ?? false", "is_vaction ?? false")],
            "rules/office_hours.yaml:5 [c1-counsellors]: skip: unknown symbol 'is_vaction' "
            "(did you mean 'is_vacation'?)",
        ),
        (
            [('from: "19:00"', "from: 19:00")],
            "rules/office_hours.yaml:9 [c1-counsellors]: from is 1140, not a time in quotes like "
            '"14:00" (did you mean \'"19:00"\'?)',
        ),
        (
            [("days: [2, 4]", "days: [2, 8]")],
            "rules/office_hours.yaml:8 [c1-counsellors]: days must be a list of weekdays, "
            "1 (Monday) to 7 (Sunday), like [1, 3, 5]",
        ),
        (
            [('to: "21:00"', 'to: "18:00"')],
            "rules/office_hours.yaml:10 [c1-counsellors]: to (18:00) must be after from (19:00)",
        ),
        (
            [('from: "19:00"', 'from: "16:00"')],
            "rules/office_hours.yaml:9 [c1-counsellors]: these hours overlap those of line 7 "
            "on weekday 2",
        ),
        (
            [("    hours:", "    ours:")],
            "rules/office_hours.yaml:6 [c1-counsellors]: unknown key 'ours' (known: id, "
            "community, place, skip, hours) (did you mean 'hours'?)",
        ),
    ],
)
def test_a_broken_office_is_refused_with_line_id_and_suggestion(
    tmp_path: Path, changes: list[tuple[str, str]], expected: str
) -> None:
    text = GOOD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    assert problems(tmp_path, text) == [expected]


def test_assistant_check_names_the_broken_office_hours_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write_rules(tmp_path, calendar=CALENDAR, office_hours=GOOD.replace("C1\n", "C 1\n"))
    for name in ("routing", "access", "policies"):
        (rules / f"{name}.yaml").write_text(
            (REPO_ROOT / "rules" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) == 1
    assert out.getvalue().splitlines() == [
        "rules/office_hours.yaml:3 [c1-counsellors]: community must be a community's code, like C1"
    ]
    assert "1 problem(s) found" in capsys.readouterr().err


def test_the_shipped_duty_pools_take_teachers_with_the_student_party_members() -> None:
    # "组织邀请优秀的学生党员和老师进行坐班服务" (§四(一)).
    rooms = load_rules(REPO_ROOT / "rules").duty
    for code, college in (("BUS-ACT", "BUS"), ("ART-ACT", "ART"), ("MEE-ACT", "MEE")):
        room = rooms[code]
        teacher = {"status": "teacher", "roles": [], "college": college, "room_kind": None}
        teacher |= {"community": None, "building": None, "floor": None}
        assert room.admits(teacher)
        assert room.admits({**teacher, "status": "party_member"})
        assert not room.admits({**teacher, "status": "student"})
        assert not room.admits({**teacher, "college": "XYZ"})
