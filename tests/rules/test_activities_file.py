"""The year's activities, rules/activities.yaml: the shipped fixed activities and optional kinds,
broken files refused by `assistant check` and at start with file, line, id and a suggestion."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.app import StartupError, load_files
from assistant.cli import main
from assistant.config import REPO_ROOT, load_settings
from assistant.domain import Role
from assistant.rules import RulesError, load_rules
from assistant.texts import Texts
from tests.rules.helpers import write_rules

CAMPUS = ZoneInfo("Asia/Shanghai")

GOOD = """
    activities:
      - id: dorm-cup
        kind: fixed
        name: {zh: 宿舍杯, en: Dorm Cup}
        owner: {roles: [youth_league]}
        window: {months: [11]}
        result: {zh: 以社区为单位, en: By community}
        remind_days: 10
      - id: freshmen-qa
        kind: fixed
        name: {zh: 新生答疑, en: Freshmen Q&A}
        owner: {roles: [counsellor], college: BUS}
        window: {period: freshmen-arrival}
        result: {zh: 答疑, en: Answers}
        part_of: dorm-cup
      - id: art
        kind: optional
        name: {zh: 艺术活动, en: Art activity}
"""


def test_the_shipped_file_holds_the_plans_fixed_activities_and_optional_kinds() -> None:
    rules = load_rules(REPO_ROOT / "rules")
    fixed = rules.activities
    assert {
        "badge-ceremony",
        "dorm-cup",
        "culture-month",
        "study-20th-congress",
        "music-party-lesson",
        "red-song-contest",
        "party-history-quiz",
        "speech-contest",
        "culture-festival",
        "freshmen-qa",
        "transfer-sharing",
        "exam-sharing",
    } <= set(fixed)
    assert fixed["badge-ceremony"].name == {"zh-CN": "挂牌仪式", "en": "Badge ceremony"}
    assert fixed["badge-ceremony"].owner.roles == (Role.COUNSELLOR,)
    assert fixed["dorm-cup"].owner.roles == (Role.YOUTH_LEAGUE,)
    assert fixed["study-20th-congress"].owner.roles == (Role.ORG_DEPARTMENT,)
    assert fixed["red-song-contest"].part_of == "study-20th-congress"
    festival = fixed["culture-festival"].owner
    assert (festival.roles, festival.college) == ((Role.COLLEGE_PARTY_LEADER,), "BUS")
    assert fixed["freshmen-qa"].window.months == (9,)
    kinds = rules.activity_kinds
    assert [k.id for k in kinds.values() if not k.fixed] == [
        "party",
        "science",
        "culture",
        "mental-health",
        "art",
        "sports",
        "civility",
        "dorm-beauty",
    ]
    # Fixed ones are offered first.
    assert list(kinds)[: len(fixed)] == list(fixed)


def test_owners_are_reminded_before_the_window_at_nine(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, activities=GOOD, calendar=_calendar()))
    cup, freshmen = rules.activities["dorm-cup"], rules.activities["freshmen-qa"]

    def moments(activity: object) -> list[str]:
        found = rules.activities[activity.id].at.times(  # type: ignore[attr-defined]
            rules.calendar,
            datetime(2026, 8, 1, tzinfo=UTC),
            datetime(2027, 12, 31, tzinfo=UTC),
            CAMPUS,
        )
        return [m.astimezone(CAMPUS).strftime("%Y-%m-%d %H:%M") for m in found]

    # November, ten days before: 22 October of every year.
    assert moments(cup) == ["2026-10-22 09:00", "2027-10-22 09:00"]
    # Freshmen arrive on 1 September 2026: fourteen days before, by default.
    assert moments(freshmen) == ["2026-08-18 09:00"]
    assert (freshmen.file, freshmen.line) == ("rules/activities.yaml", 9)


def _calendar() -> str:
    return (REPO_ROOT / "rules" / "calendar.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "line", "item", "says", "suggestion"),
    [
        (("kind: fixed\n        name: {zh: 宿舍杯", "kind: fxed\n        name: {zh: 宿舍杯"), 3,
         "dorm-cup", "kind is 'fxed'", "fixed"),
        (("owner: {roles: [youth_league]}", "owner: {roles: [youth_legue]}"), 5, "dorm-cup",
         "unknown role 'youth_legue'", "youth_league"),
        (("window: {months: [11]}", "window: {months: [13]}"), 6, "dorm-cup",
         "months must be a list of months 1-12", None),
        (("window: {period: freshmen-arrival}", "window: {period: freshman-arrival}"), 13,
         "freshmen-qa", "period 'freshman-arrival' is not a special period", "freshmen-arrival"),
        (("part_of: dorm-cup", "part_of: dorm-cap"), 9, "freshmen-qa",
         "part_of names 'dorm-cap'", "dorm-cup"),
        (("remind_days: 10", "remind_day: 10"), 8, "dorm-cup", "unknown key 'remind_day'",
         "remind_days"),
        (("result: {zh: 以社区为单位, en: By community}", "result: 以社区为单位"), 7, "dorm-cup",
         "result must be {zh: ..., en: ...}", None),
        (("name: {zh: 艺术活动, en: Art activity}",
          "name: {zh: 艺术活动, en: Art activity}\n        window: {months: [3]}"),
         19, "art", "an optional kind has no window", None),
        (("college: BUS}", "college: B U}"),
         12, "freshmen-qa", "college is 'B U'", None),
    ],
)  # fmt: skip
def test_a_broken_activity_is_refused_with_line_id_and_hint(
    tmp_path: Path,
    change: tuple[str, str],
    line: int,
    item: str,
    says: str,
    suggestion: str | None,
) -> None:
    assert change[0] in GOOD
    broken = GOOD.replace(change[0], change[1])
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, activities=broken, calendar=_calendar()))
    [found] = caught.value.problems
    assert found.file == "rules/activities.yaml"
    assert (found.line, found.rule_id) == (line, item), str(found)
    assert says in found.message, str(found)
    assert found.suggestion == suggestion


def test_assistant_check_and_the_start_refuse_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    write_rules(tmp_path, activities=GOOD.replace("[youth_league]", "[youth_legue]"))
    expected = (
        "rules/activities.yaml:5 [dorm-cup]: unknown role 'youth_legue' "
        "(did you mean 'youth_league'?)"
    )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) != 0
    assert expected in out.getvalue().splitlines()
    settings = load_settings(rules_dir=rules)
    with pytest.raises(StartupError) as caught:
        load_files(settings, Texts(settings.conversations_dir))
    assert caught.value.problems == [expected]
