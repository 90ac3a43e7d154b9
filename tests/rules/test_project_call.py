"""The yearly call for community party-building projects: its days are the yearly period
``project-call`` of rules/calendar.yaml, the same every year; reminders count from them; a broken
date is refused by `assistant check` with file, line and a suggestion."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.cli import main
from assistant.config import REPO_ROOT
from assistant.rules import RulesError, load_rules
from tests.rules.helpers import write_rules

CAMPUS = ZoneInfo("Asia/Shanghai")
SHIPPED = load_rules(REPO_ROOT / "rules")

CALL = """
    yearly:
      - id: project-call
        name: {zh: 社区党建课题申报, en: call for projects}
        from: 09-01
        to: 12-15
"""
REMINDER = """
    reminders:
      - id: call-closing
        name: {zh: 申报即将截止, en: The call closes soon}
        at: {closes: project-call, days_before: 7, time: "09:00"}
        audience:
          may: project.apply
        template: reminder_project_call
"""


def test_the_shipped_call_runs_from_1_september_to_15_december_every_year() -> None:
    call = SHIPPED.calendar.yearly_period("project-call")
    assert call is not None
    for year in (2026, 2027, 2031):
        assert call.in_year(year) == (date(year, 9, 1), date(year, 12, 15))
    assert not call.holds(date(2027, 8, 31)) and call.holds(date(2027, 9, 1))
    assert call.holds(date(2027, 12, 15)) and not call.holds(date(2027, 12, 16))
    # Past this year's call, the one to come is next year's.
    assert call.current(date(2026, 12, 16)) == (date(2027, 9, 1), date(2027, 12, 15))
    assert "project-call" in SHIPPED.calendar.facts(date(2028, 10, 1))["periods"]


def moments(text: str, tmp_path: Path, start: datetime, end: datetime) -> list[str]:
    rules = load_rules(write_rules(tmp_path, calendar=CALL, reminders=text))
    reminder = rules.reminders["call-closing"]
    return [
        m.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M")
        for m in reminder.at.times(rules.calendar, start, end, CAMPUS)
    ]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (
            '{closes: project-call, days_before: 7, time: "09:00"}',
            ["2026-12-08 09:00", "2027-12-08 09:00", "2028-12-08 09:00"],
        ),
        ('{opens: project-call, time: "09:00"}', ["2027-09-01 09:00", "2028-09-01 09:00"]),
        (
            '{opens: project-call, days_before: 10, time: "08:30"}',
            ["2027-08-22 08:30", "2028-08-22 08:30"],
        ),
        ('{closes: project-call, time: "17:00"}', ["2026-12-15 17:00", "2027-12-15 17:00"]),
    ],
)
def test_a_reminder_counted_from_the_call_comes_every_year(
    tmp_path: Path, at: str, expected: list[str]
) -> None:
    text = REMINDER.replace('{closes: project-call, days_before: 7, time: "09:00"}', at)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = datetime(2028, 12, 31, tzinfo=UTC)
    assert moments(text, tmp_path, start, end)[: len(expected)] == expected


@pytest.mark.parametrize(
    ("change", "line", "says", "suggestion"),
    [
        (("to: 12-15", "to: 12-32"), 5, "'to' is '12-32', not a day of every year", None),
        (("from: 09-01", "from: 13-01"), 4, "'from' is '13-01', not a day of every year", None),
        (("to: 12-15", "to: 02-29"), 5, "'to' is '02-29', not a day of every year", "02-28"),
        (
            ("from: 09-01", "from: 2026-09-01"),
            4,
            "'from' is 2026-09-01: write the month and day only",
            "09-01",
        ),
        (("to: 12-15", "to: 08-15"), 5, "'to' (08-15) comes before 'from' (09-01)", None),
        (("to: 12-15", "too: 12-15"), 5, "unknown key 'too'", "to"),
        (("from: 09-01", "from: first of September"), 4, "not a day of every year", None),
    ],
)
def test_a_broken_call_date_is_refused_with_line_and_hint(
    tmp_path: Path, change: tuple[str, str], line: int, says: str, suggestion: str | None
) -> None:
    assert change[0] in CALL
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, calendar=CALL.replace(*change)))
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    assert problems[0].file == "rules/calendar.yaml"
    assert (problems[0].line, problems[0].rule_id) == (line, "project-call"), str(problems[0])
    assert says in problems[0].message
    assert problems[0].suggestion == suggestion


def test_a_reminder_counted_from_a_period_the_calendar_lacks_is_refused(tmp_path: Path) -> None:
    text = REMINDER.replace("closes: project-call", "closes: project-cal")
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, calendar=CALL, reminders=text))
    assert [str(p) for p in caught.value.problems] == [
        "rules/reminders.yaml:2 [call-closing]: at counts from 'project-cal', which is no yearly "
        "period of calendar.yaml (known: project-call) (did you mean 'project-call'?)"
    ]


def test_days_before_beside_at_counts_back_from_days_before_inside_it(tmp_path: Path) -> None:
    # Inside at: a week before the call closes (8 December); beside it: 7 and 1 days before that.
    text = REMINDER.replace("        audience:", "        days_before: [7, 1]\n        audience:")
    rules = load_rules(write_rules(tmp_path, calendar=CALL, reminders=text))
    reminder = rules.reminders["call-closing"]
    found = reminder.occasions(
        rules.calendar, datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), CAMPUS
    )
    assert [(d.astimezone(CAMPUS), e.astimezone(CAMPUS)) for d, e in found] == [
        (datetime(2026, 12, 1, 9, tzinfo=CAMPUS), datetime(2026, 12, 8, 9, tzinfo=CAMPUS)),
        (datetime(2026, 12, 7, 9, tzinfo=CAMPUS), datetime(2026, 12, 8, 9, tzinfo=CAMPUS)),
    ]


@pytest.mark.parametrize(
    ("change", "says", "suggestion"),
    [
        # The list of a reminder's own days_before, written inside at.
        (
            ("days_before: 7,", "days_before: [7, 1],"),
            "days_before inside at is [7, 1]: one whole number of days before the yearly period "
            "opens or closes, like 7, and a list like [7, 1] goes beside at, not inside it",
            None,
        ),
        # The one number inside at, written beside it.
        (
            (
                '{closes: project-call, days_before: 7, time: "09:00"}',
                '{closes: project-call, time: "09:00"}\n        days_before: 7',
            ),
            "days_before must be a list of different whole numbers of days, 0 to 60, like [7, 1] "
            "(a week and a day before), not 7; only inside at, with opens or closes, is it one "
            "number",
            "[7]",
        ),
        # days_before inside an at that counts from no yearly period.
        (
            ("closes: project-call", "period: graduation"),
            "at has days_before, period, time; write one of {weeks, weekday, time}, {days, time}, "
            "{date, time}, {opens or closes, days_before, time}, {period, time} or {cron} "
            "(days_before inside at goes only with opens or closes; to be reminded days before "
            "any other at, write days_before: [7, 1] beside at, not inside it)",
            None,
        ),
    ],
)
def test_the_two_days_before_mixed_up_are_refused_saying_which_is_which(
    tmp_path: Path, change: tuple[str, str], says: str, suggestion: str | None
) -> None:
    assert change[0] in REMINDER
    text = REMINDER.replace(*change)
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, calendar=CALL, reminders=text))
    [problem] = caught.value.problems
    assert (problem.file, problem.rule_id) == ("rules/reminders.yaml", "call-closing")
    assert problem.message == says
    assert problem.suggestion == suggestion


def shipped_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    return rules / "calendar.yaml"


def test_assistant_check_refuses_a_broken_call_date_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar = shipped_copy(tmp_path, monkeypatch)
    text = calendar.read_text(encoding="utf-8").replace("    to: 12-15", "    to: 12-35")
    calendar.write_text(text, encoding="utf-8")
    line = text.splitlines().index("    to: 12-35") + 1
    out = io.StringIO()
    assert main(["check"], out=out) == 1
    assert (
        f"rules/calendar.yaml:{line} [project-call]: 'to' is '12-35', not a day of every year"
        in (out.getvalue())
    )
    # The reminders that count from the call are not blamed for the calendar's mistake twice.
    assert "1 problem(s) found" in capsys.readouterr().err


def test_assistant_check_warns_when_the_call_has_no_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = shipped_copy(tmp_path, monkeypatch)
    text = calendar.read_text(encoding="utf-8")
    calendar.write_text(text[: text.index("\nyearly:")] + "\n", encoding="utf-8")
    reminders = calendar.parent / "reminders.yaml"
    kept = reminders.read_text(encoding="utf-8")
    reminders.write_text(kept[: kept.index("  # 社区党建课题申报开始")], encoding="utf-8")
    out = io.StringIO()
    assert main(["check"], out=out) == 0
    assert (
        "rules/calendar.yaml: warning: no yearly period 'project-call', so the call for community "
        "party-building projects never opens"
    ) in out.getvalue()
