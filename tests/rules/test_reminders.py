"""Reminder files: each form of `at` gives the right moments; broken files are refused with
file, line, reminder id and a suggestion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.config import REPO_ROOT
from assistant.domain import GROUP_ROLES, Role, RoleGroup
from assistant.rules import RulesError, load_rules
from assistant.rules.reminders import Reminder
from tests.rules.helpers import write_rules

CAMPUS = ZoneInfo("Asia/Shanghai")
SHIPPED = load_rules(REPO_ROOT / "rules")

CALENDAR = """
    semesters:
      - id: autumn
        name: {zh: 秋季学期, en: Autumn}
        first_day: 2026-09-07
        teaching_weeks: 16
        exam_weeks: [17, 18]
        last_day: 2027-01-10
"""

GOOD = """
    reminders:
      - id: meeting
        name: {zh: 联席会, en: Meeting}
        at: {weeks: [2, 16], weekday: 1, time: "10:00"}
        audience:
          roles: [counsellor]
        template: reminder_semester_meeting
"""


def load(tmp_path: Path, text: str) -> dict[str, Reminder]:
    return load_rules(write_rules(tmp_path, calendar=CALENDAR, reminders=text)).reminders


def campus_times(reminder: Reminder, start: datetime, end: datetime) -> list[str]:
    rules_calendar = SHIPPED.calendar
    return [
        m.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M")
        for m in reminder.at.times(rules_calendar, start, end, CAMPUS)
    ]


def test_weeks_of_every_semester(tmp_path: Path) -> None:
    reminder = load(tmp_path, GOOD)["meeting"]
    folder_calendar = load_rules(write_rules(tmp_path, calendar=CALENDAR)).calendar
    moments = reminder.at.times(
        folder_calendar,
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
        CAMPUS,
    )
    assert [m.astimezone(CAMPUS) for m in moments] == [
        datetime(2026, 9, 14, 10, 0, tzinfo=CAMPUS),
        datetime(2026, 12, 21, 10, 0, tzinfo=CAMPUS),
    ]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ('{days: [1, 20], time: "09:00"}', ["2026-10-01 09:00", "2026-10-20 09:00"]),
        ('{date: 2026-10-08, time: "18:30"}', ["2026-10-08 18:30"]),
        # Mondays at 08:00 (crontab: minute hour day month weekday; 1 is Monday, 0 and 7 Sunday).
        ('{cron: "0 8 * * 1"}', ["2026-10-05 08:00", "2026-10-12 08:00", "2026-10-19 08:00"]),
        ('{cron: "30 20 * * 0"}', ["2026-10-04 20:30", "2026-10-11 20:30", "2026-10-18 20:30"]),
        # Day and weekday must both match (1-3 October that fall on a weekend).
        ('{cron: "0 7 1-3 10 6-7"}', ["2026-10-03 07:00"]),
    ],
)
def test_each_form_of_at(tmp_path: Path, at: str, expected: list[str]) -> None:
    reminder = load(tmp_path, GOOD.replace('{weeks: [2, 16], weekday: 1, time: "10:00"}', at))[
        "meeting"
    ]
    start = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 1 October, 00:00 on campus
    end = datetime(2026, 10, 24, 16, 0, tzinfo=UTC)
    assert campus_times(reminder, start, end) == expected


def due_and_about(reminder: Reminder, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """(when it comes, what it reminds of), in campus time."""
    return [
        (
            due.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M"),
            event.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M"),
        )
        for due, event in reminder.occasions(SHIPPED.calendar, start, end, CAMPUS)
    ]


def test_the_shipped_reminders_load() -> None:
    assert set(SHIPPED.reminders) >= {
        "coordination-deployment-meeting",
        "coordination-inspection-meeting",
        "star-open",
        "star-last-days",
    }
    year = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2027, 8, 1, tzinfo=UTC))
    # The group meets on Monday of weeks 2 and 16 at 10:00, and hears of it a week and a day
    # before, at that hour (§七(一)).
    assert due_and_about(SHIPPED.reminders["coordination-deployment-meeting"], *year) == [
        ("2026-09-07 10:00", "2026-09-14 10:00"),
        ("2026-09-13 10:00", "2026-09-14 10:00"),
        ("2027-03-01 10:00", "2027-03-08 10:00"),
        ("2027-03-07 10:00", "2027-03-08 10:00"),
    ]
    assert due_and_about(SHIPPED.reminders["coordination-inspection-meeting"], *year) == [
        ("2026-12-14 10:00", "2026-12-21 10:00"),
        ("2026-12-20 10:00", "2026-12-21 10:00"),
        ("2027-06-07 10:00", "2027-06-14 10:00"),
        ("2027-06-13 10:00", "2027-06-14 10:00"),
    ]
    # The calendar's special periods: their first day.
    assert campus_times(SHIPPED.reminders["graduation-checklist"], *year) == ["2027-06-14 09:00"]
    arrival = (datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    assert campus_times(SHIPPED.reminders["freshmen-arrival-leaders"], *arrival) == [
        "2026-09-01 08:00"
    ]


def test_a_reminder_days_before_comes_only_inside_the_stretch_planned(tmp_path: Path) -> None:
    reminder = load(
        tmp_path,
        GOOD.replace("        audience:", "        days_before: [7, 1]\n        audience:"),
    )["meeting"]
    assert reminder.days_before == (7, 1)
    calendar = load_rules(write_rules(tmp_path, calendar=CALENDAR)).calendar
    # Week 2's Monday is 14 September; the stretch ends before the day-before reminder.
    moments = reminder.occasions(
        calendar,
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 9, 10, tzinfo=UTC),
        CAMPUS,
    )
    assert [(d.astimezone(CAMPUS).day, e.astimezone(CAMPUS).day) for d, e in moments] == [(7, 14)]


@pytest.mark.parametrize(
    ("days_before", "says"),
    [
        ("[7, 7]", "days_before must be a list of different whole numbers of days"),
        ("[-1]", "days_before must be a list"),
        ("[61]", "0 to 60"),
        ("7", "days_before must be a list"),
        ("[]", "days_before must be a list"),
        ("[1.5]", "days_before must be a list"),
    ],
)
def test_bad_days_before_is_refused(tmp_path: Path, days_before: str, says: str) -> None:
    text = GOOD.replace(
        "        audience:", f"        days_before: {days_before}\n        audience:"
    )
    with pytest.raises(RulesError) as caught:
        load(tmp_path, text)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.rule_id) == ("rules/reminders.yaml", 5, "meeting")
    assert says in problem.message


PERIODS = (
    CALENDAR
    + """
    periods:
      - id: graduation
        name: {zh: 毕业季, en: Graduation}
        from: 2027-06-14
        to: 2027-06-30
"""
)


def test_a_period_must_be_one_of_the_calendar(tmp_path: Path) -> None:
    good = GOOD.replace(
        '{weeks: [2, 16], weekday: 1, time: "10:00"}', '{period: graduation, time: "09:00"}'
    )
    folder = write_rules(tmp_path, calendar=PERIODS, reminders=good)
    reminder = load_rules(folder).reminders["meeting"]
    assert reminder.at.period == "graduation"
    folder = write_rules(
        tmp_path, calendar=PERIODS, reminders=good.replace("graduation", "graduaton")
    )
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    [problem] = caught.value.problems
    assert str(problem) == (
        "rules/reminders.yaml:4 [meeting]: period 'graduaton' is not a period of calendar.yaml "
        "(known: graduation) (did you mean 'graduation'?)"
    )


def test_an_audience_may_ask_the_graduation_year_and_the_day(tmp_path: Path) -> None:
    text = GOOD.replace(
        "roles: [counsellor]", "when: graduation_year == year and 'graduation' in (periods ?? [])"
    )
    reminder = load(tmp_path, text)["meeting"]
    assert reminder.when is not None
    with pytest.raises(RulesError) as caught:
        load(tmp_path, GOOD.replace("roles: [counsellor]", "when: graduaton_year == year"))
    [problem] = caught.value.problems
    assert "unknown symbol 'graduaton_year'" in problem.message
    assert problem.suggestion == "graduation_year"


@pytest.mark.parametrize(
    ("change", "line", "says", "suggestion"),
    [
        (('time: "10:00"', "time: 10:00"), 4, "time is 600, not a time in quotes", '"10:00"'),
        (("weekday: 1", "weekday: 8"), 4, "weekday must be 1 (Monday) to 7 (Sunday)", None),
        (
            ("roles: [counsellor]", "roles: [counsellr]"),
            6,
            "unknown role 'counsellr'",
            "counsellor",
        ),
        (("template: reminder", "templat: reminder"), 7, "unknown key 'templat'", "template"),
        (
            ("    template:", "    missed: later\n        template:"),
            7,
            "missed is 'later' (late_once or skip)",
            None,
        ),
        (
            ('{weeks: [2, 16], weekday: 1, time: "10:00"}', '{cron: "0 9 * * mon-fryday"}'),
            4,
            "cron is '0 9 * * mon-fryday'",
            "0 9 * * 1",
        ),
        (
            ('{weeks: [2, 16], weekday: 1, time: "10:00"}', '{weeks: [2], time: "10:00"}'),
            4,
            "at has time, weeks; write one of",
            None,
        ),
        (
            ("roles: [counsellor]", "when: statuss == 'student'"),
            6,
            "unknown symbol 'statuss'",
            "status",
        ),
        (
            ("roles: [counsellor]", "roles: [coordination_grup]"),
            6,
            "unknown role 'coordination_grup'",
            "coordination_group",
        ),
    ],
)
def test_a_broken_reminder_is_refused_with_line_and_hint(
    tmp_path: Path, change: tuple[str, str], line: int, says: str, suggestion: str | None
) -> None:
    assert change[0] in GOOD
    with pytest.raises(RulesError) as caught:
        load(tmp_path, GOOD.replace(change[0], change[1]))
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    assert problems[0].file == "rules/reminders.yaml"
    assert (problems[0].line, problems[0].rule_id) == (line, "meeting"), str(problems[0])
    assert says in problems[0].message
    assert problems[0].suggestion == suggestion


def test_the_coordination_group_stands_for_its_offices(tmp_path: Path) -> None:
    group = load(tmp_path, GOOD.replace("[counsellor]", "[coordination_group, counsellor]"))
    assert group["meeting"].roles == (
        Role.ORG_DEPARTMENT,
        Role.LOGISTICS_SECURITY,
        Role.STUDENT_AFFAIRS,
        Role.PUBLICITY,
        Role.YOUTH_LEAGUE,
        Role.SPORTS,
        Role.COUNSELLOR,
    )
    office = load(tmp_path, GOOD.replace("[counsellor]", "[youth_league, youth_league]"))
    assert office["meeting"].roles == (Role.YOUTH_LEAGUE,)
    # The group meets twice a semester (§七(一)): the shipped reminders of its meetings are
    # for it, and for nobody else.
    for meeting in ("coordination-deployment-meeting", "coordination-inspection-meeting"):
        reminder = SHIPPED.reminders[meeting]
        assert reminder.roles == GROUP_ROLES[RoleGroup.COORDINATION_GROUP]
        assert reminder.when is None


def test_a_reminder_id_used_twice_is_refused(tmp_path: Path) -> None:
    twice = GOOD + GOOD.split("reminders:\n")[1]
    with pytest.raises(RulesError) as caught:
        load(tmp_path, twice)
    assert [str(p) for p in caught.value.problems] == [
        "rules/reminders.yaml:8 [meeting]: id 'meeting' is used twice (first on line 2)"
    ]


def test_unknown_template_stops_the_start(tmp_path: Path) -> None:
    from assistant.app import StartupError, load_files
    from assistant.config import load_settings
    from assistant.texts import Texts

    folder = write_rules(
        tmp_path,
        calendar=CALENDAR,
        reminders=GOOD.replace("reminder_semester_meeting", "reminder_nothing"),
    )
    for name in ("routing", "access", "policies"):
        (folder / f"{name}.yaml").write_text(
            (REPO_ROOT / "rules" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    settings = load_settings(rules_dir=folder)
    with pytest.raises(StartupError) as caught:
        load_files(settings, Texts(settings.conversations_dir))
    assert caught.value.problems == [
        "rules/reminders.yaml:2 [meeting]: no template 'reminder_nothing' in "
        f"conversations/templates/{language}/"
        for language in ("zh-CN", "en")
    ]
    assert date.today()  # the check needs no clock
