"""The academic calendar: the facts rules ask about a day, and broken calendar files refused
with file, line, id and a suggestion."""

from __future__ import annotations

import io
import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import REPO_ROOT
from assistant.rules import RulesError, load_rules
from tests.rules.helpers import person, report, write_rules

SHIPPED = load_rules(REPO_ROOT / "rules").calendar

GOOD = """
    semesters:
      - id: autumn
        name: {zh: 秋季学期, en: Autumn}
        first_day: 2026-09-07
        teaching_weeks: 16
        exam_weeks: [17, 18]
        last_day: 2027-01-10
    periods:
      - id: graduation
        name: {zh: 毕业季, en: Graduation}
        from: 2026-12-28
        to: 2026-12-31
"""


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Freshmen arrive before teaching starts: vacation, in the arrival period.
        (
            date(2026, 9, 1),
            {"semester": None, "is_vacation": True, "periods": ["freshmen-arrival"]},
        ),
        (date(2026, 9, 7), {"semester": "2026-autumn", "week": 1, "teaching_week": 1}),
        (date(2026, 9, 27), {"week": 3, "teaching_week": 3, "is_exam_week": False}),
        # National Day: a public holiday from chinese-calendar, inside teaching week 4.
        (date(2026, 10, 1), {"teaching_week": 4, "is_holiday": True}),
        # A make-up workday (Saturday 10 October 2026) is not a holiday.
        (date(2026, 10, 10), {"is_holiday": False}),
        (date(2027, 1, 15), {"week": 19, "teaching_week": None, "is_exam_week": True}),
        (date(2027, 2, 10), {"semester": None, "is_vacation": True, "is_exam_week": False}),
    ],
)
def test_the_shipped_calendar_answers_what_rules_ask(
    day: date, expected: dict[str, object]
) -> None:
    facts = SHIPPED.facts(day)
    assert {key: facts[key] for key in expected} == expected


def test_rules_can_ask_about_teaching_and_exam_weeks(tmp_path: Path) -> None:
    folder = write_rules(
        tmp_path,
        calendar=GOOD,
        access="""
            rules:
              - id: quiet-in-exams
                action: booking.create
                when: (is_exam_week ?? false) and room_kind == 'activity_room'
                deny: {zh: 考试周活动室不开放。, en: Activity rooms are closed in exam weeks.}
              - id: week-three
                action: booking.create
                when: teaching_week == 3
                allow: true
              - id: refuse
                action: "*"
                when: true
                deny: {zh: 不行。, en: No.}
            """,
    )
    rules = load_rules(folder)

    def decide(day: date, room_kind: str) -> str | None:
        facts = rules.calendar.facts(day)
        return rules.allowed("booking.create", person(room_kind=room_kind, **facts)).rule_id

    assert decide(date(2026, 9, 21), "activity_room") == "week-three"
    assert decide(date(2027, 1, 4), "activity_room") == "quiet-in-exams"
    assert decide(date(2027, 1, 4), "reading_room") == "refuse"
    assert rules.calendar.facts(date(2026, 12, 29))["periods"] == ["graduation"]


def test_routing_rules_see_the_calendar(tmp_path: Path) -> None:
    folder = write_rules(
        tmp_path,
        calendar=GOOD,
        routing="""
            rules:
              - id: exams
                when: is_exam_week ?? false
                assign: counsellor
              - id: default
                when: true
                assign: grid_party_member
            """,
    )
    rules = load_rules(folder)
    exam = rules.calendar.facts(date(2027, 1, 4))
    assert rules.route(report(**exam)).rule_id == "exams"
    assert rules.route(report(**rules.calendar.facts(date(2026, 9, 8)))).rule_id == "default"


def test_without_a_calendar_nothing_is_known_about_terms(tmp_path: Path) -> None:
    facts = load_rules(write_rules(tmp_path)).calendar.facts(date(2026, 10, 1))
    assert facts["is_holiday"] is True
    assert facts["semester"] is None and facts["is_vacation"] is None


@pytest.mark.parametrize(
    ("name", "change", "line", "item", "says", "suggestion"),
    [
        (
            "not-a-monday",
            ("first_day: 2026-09-07", "first_day: 2026-09-09"),
            4,
            "autumn",
            "first_day 2026-09-09 is not a Monday",
            "2026-09-07",
        ),
        (
            "typo-in-a-key",
            ("teaching_weeks: 16", "teachng_weeks: 16"),
            5,
            "autumn",
            "unknown key 'teachng_weeks'",
            "teaching_weeks",
        ),
        (
            "not-a-date",
            ("last_day: 2027-01-10", "last_day: 2027-1-10"),
            7,
            "autumn",
            "'last_day' is '2027-1-10', not a date like 2026-09-07",
            None,
        ),
        (
            "exam-after-the-end",
            ("exam_weeks: [17, 18]", "exam_weeks: [17, 30]"),
            6,
            "autumn",
            "exam week 30 is after last_day (the semester has 18 weeks)",
            None,
        ),
        (
            "end-before-start",
            ("last_day: 2027-01-10", "last_day: 2026-08-01"),
            7,
            "autumn",
            "last_day must come after first_day",
            None,
        ),
        (
            "period-backwards",
            ("to: 2026-12-31", "to: 2026-12-01"),
            12,
            "graduation",
            "'to' must not come before 'from'",
            None,
        ),
        (
            "name-in-one-language",
            ("name: {zh: 毕业季, en: Graduation}", "name: {zh: 毕业季}"),
            10,
            "graduation",
            "name must be {zh: ..., en: ...}",
            None,
        ),
        (
            "same-id-twice",
            ("- id: graduation", "- id: autumn"),
            9,
            "autumn",
            "id 'autumn' is used twice",
            None,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "-" in value else "",
)
def test_a_broken_calendar_is_refused_with_line_and_hint(
    tmp_path: Path,
    name: str,
    change: tuple[str, str],
    line: int,
    item: str,
    says: str,
    suggestion: str | None,
) -> None:
    assert change[0] in GOOD, name
    folder = write_rules(tmp_path, calendar=GOOD.replace(change[0], change[1]))
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    assert problems[0].file == "rules/calendar.yaml"
    assert (problems[0].line, problems[0].rule_id) == (line, item), str(problems[0])
    assert says in problems[0].message
    assert problems[0].suggestion == suggestion


def test_overlapping_semesters_are_refused(tmp_path: Path) -> None:
    spring = """
      - id: spring
        name: {zh: 春季学期, en: Spring}
        first_day: 2026-12-07
        teaching_weeks: 4
        last_day: 2027-01-31
"""
    text = GOOD.replace("    periods:", spring.lstrip("\n") + "    periods:")
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, calendar=text))
    assert [str(p) for p in caught.value.problems] == [
        "rules/calendar.yaml:1 [spring]: semester 'spring' begins before 'autumn' ends"
    ]


def test_assistant_check_rejects_a_broken_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    calendar = rules / "calendar.yaml"
    calendar.write_text(
        calendar.read_text(encoding="utf-8").replace(
            "first_day: 2026-09-07", "first_day: 2026-09-08"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    line = calendar.read_text(encoding="utf-8").splitlines().index("    first_day: 2026-09-08") + 1
    out = io.StringIO()
    assert main(["check"], out=out) == 1
    assert f"rules/calendar.yaml:{line} [2026-autumn]: first_day 2026-09-08 is not a Monday" in (
        out.getvalue()
    )


# A year chinese-calendar has no data for, with made-up holidays as the file would list them.
SPRING_2027 = """
    semesters:
      - id: 2027-spring
        name: {zh: 春季学期, en: Spring}
        first_day: 2027-03-01
        teaching_weeks: 18
        exam_weeks: [19, 20]
        last_day: 2027-07-18
    holidays:
      - id: 2027-qingming
        name: {zh: 清明节, en: Qingming Festival}
        from: 2027-04-03
        to: 2027-04-05
    workdays: [2027-04-10]
"""


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2027, 4, 2), False),  # a Friday before the listed days off
        (date(2027, 4, 3), True),  # a Saturday, listed anyway
        (date(2027, 4, 5), True),  # a Monday off, as listed
        (date(2027, 4, 6), False),
        (date(2027, 4, 10), False),  # a Saturday worked instead, as listed
        (date(2027, 4, 11), True),  # an ordinary Sunday
    ],
)
def test_listed_holidays_and_workdays_come_before_the_package(
    tmp_path: Path, day: date, holiday: bool
) -> None:
    calendar = load_rules(write_rules(tmp_path, calendar=SPRING_2027)).calendar
    assert calendar.facts(day)["is_holiday"] is holiday
    assert calendar.gaps() == []


def test_check_warns_of_a_semester_year_without_holidays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    unlisted = textwrap.dedent(SPRING_2027).split("holidays:")[0]
    (rules / "calendar.yaml").write_text(unlisted, encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) == 0
    first, ok = out.getvalue().splitlines()
    assert first.startswith(
        "rules/calendar.yaml:3 [2027-spring]: warning: chinese-calendar has no public holidays "
        "for 2027 and this file lists none"
    )
    assert ok.startswith("ok: ")
    (rules / "calendar.yaml").write_text(textwrap.dedent(SPRING_2027), encoding="utf-8")
    out = io.StringIO()
    assert main(["check"], out=out) == 0
    assert out.getvalue().startswith("ok: ")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("workdays: [2027-04-10]", "'workdays' must be a list of dates"),
        ("workdays: [2027-04-10, saturday]", "'workdays' must be a list of dates"),
        ("workdays: [2027-04-04]", "2027-04-04 is listed both as a holiday and as a workday"),
        ("        to: 2027-04-05", "'to' must not come before 'from'"),
    ],
)
def test_broken_holidays_are_refused(tmp_path: Path, change: str, says: str) -> None:
    broken = {
        "workdays: [2027-04-10]": SPRING_2027.replace("[2027-04-10]", "2027-04-10"),
        "workdays: [2027-04-10, saturday]": SPRING_2027.replace(
            "[2027-04-10]", "[2027-04-10, saturday]"
        ),
        "workdays: [2027-04-04]": SPRING_2027.replace("[2027-04-10]", "[2027-04-04]"),
        "        to: 2027-04-05": SPRING_2027.replace("to: 2027-04-05", "to: 2027-04-01"),
    }[change]
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, calendar=broken))
    assert [says in p.message for p in caught.value.problems] == [True]
    assert all(p.file == "rules/calendar.yaml" and p.line > 0 for p in caught.value.problems)
