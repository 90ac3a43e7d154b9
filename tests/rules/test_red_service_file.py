"""The Red Service Team's file: kinds, windows and routes read with their lines; the first route
that matches decides; broken files refused with file, line, id and a suggestion, by the loader
and by `assistant check`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from assistant.cli import main
from assistant.config import REPO_ROOT
from assistant.domain import Role
from assistant.rules import RulesError, SubjectError, load_rules
from assistant.rules.red_service import RedService
from tests.rules.helpers import write_rules

GOOD = """
    days_ahead: 3
    kinds:
      - id: phone
        name: {zh: 手机维修, en: Fix a phone}
      - id: computer
        name: {zh: 电脑维修, en: Fix a computer}
        hours: 1.5
    windows:
      - id: evening
        name: {zh: 晚上, en: Evening}
        from: "18:30"
        to: "21:30"
    routes:
      - id: computers-at-weekends
        when: kind == 'computer' and weekday >= 6
        to: service_team_leader
        escalate_hours: 2
        escalate_to: [counsellor]
      - id: default
        when: true
        to: service_volunteer
        escalate_hours: 12
        escalate_to: [service_team_leader, counsellor]
"""


def load(tmp_path: Path, text: str) -> RedService:
    team = load_rules(write_rules(tmp_path, red_service=text)).red_service
    assert team is not None
    return team


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RulesError) as raised:
        load(tmp_path, text)
    return [str(problem) for problem in raised.value.problems]


def request(**changes: Any) -> dict[str, Any]:
    """The facts of a request: a phone, this evening, a student of B1-3, with ``changes``."""
    facts: dict[str, Any] = {
        "kind": "phone",
        "window": "evening",
        "days_ahead": 0,
        "weekday": 3,
        "is_holiday": False,
        "hour": 10,
        "community": "C1",
        "building": "B1",
        "floor": 3,
        "college": "BUS",
        "requester_status": "student",
    }
    return {**facts, **changes}


def test_the_shipped_file_follows_the_plan() -> None:
    team = load_rules(REPO_ROOT / "rules").red_service
    assert team is not None
    # Work plan item 6: phones, computers, waste sorting; and whatever else a student needs.
    assert list(team.kinds) == ["phone", "computer", "waste_sorting", "other"]
    assert team.route(request()).id == "same-day"
    default = team.route(request(days_ahead=2))
    assert (default.id, default.to, default.escalate_to) == (
        "default",
        Role.SERVICE_VOLUNTEER,
        (Role.SERVICE_TEAM_LEADER, Role.COUNSELLOR),
    )


def test_a_good_file_is_read_and_the_first_route_that_matches_decides(tmp_path: Path) -> None:
    team = load(tmp_path, GOOD)
    assert team.days_ahead == 3
    assert [(k.id, k.hours) for k in team.kinds.values()] == [("phone", 1.0), ("computer", 1.5)]
    assert team.kinds["phone"].name == {"zh-CN": "手机维修", "en": "Fix a phone"}
    assert team.route(request(kind="computer", weekday=6)).id == "computers-at-weekends"
    assert team.route(request(kind="computer", weekday=5)).id == "default"
    # A subject that does not fit the file is named, not guessed at.
    with pytest.raises(SubjectError):
        team.route(request(kind="tablet"))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("kind == 'computer'", "kind == 'computr'")],
            "rules/red_service.yaml:15 [computers-at-weekends]: when: unknown kind value "
            "'computr' (did you mean 'computer'?)",
        ),
        (
            [("to: service_team_leader", "to: floor_leader")],
            "rules/red_service.yaml:16 [computers-at-weekends]: 'floor_leader' is not a role held "
            "over a community (one of: committee_secretary, workstation_head, counsellor, "
            "service_volunteer, service_team_leader)",
        ),
        (
            [("escalate_to: [counsellor]", "escalate_to: [counselor]")],
            "rules/red_service.yaml:18 [computers-at-weekends]: 'counselor' is not a role held "
            "over a community (one of: committee_secretary, workstation_head, counsellor, "
            "service_volunteer, service_team_leader) (did you mean 'counsellor'?)",
        ),
        (
            [('to: "21:30"', 'to: "18:00"')],
            "rules/red_service.yaml:12 [evening]: to (18:00) must be after from (18:30): a window "
            "ends the day it starts",
        ),
        (
            [('from: "18:30"', "from: 18:30")],
            "rules/red_service.yaml:11 [evening]: from is 1110, not a time in quotes like "
            '"18:30" (did you mean \'"18:30"\'?)',
        ),
        (
            [("hours: 1.5", "hours: 0")],
            "rules/red_service.yaml:7 [computer]: hours must be a number above 0 and at most 24, "
            "like 1 or 1.5",
        ),
        (
            [("escalate_hours: 2", "escalate_hour: 2")],
            "rules/red_service.yaml:17 [computers-at-weekends]: unknown key 'escalate_hour' "
            "(known: id, description, when, to, escalate_hours, escalate_to) "
            "(did you mean 'escalate_hours'?)",
        ),
        (
            [("days_ahead: 3", "days_ahaed: 3")],
            "rules/red_service.yaml:1: unknown key 'days_ahaed' (known: days_ahead, kinds, "
            "windows, routes) (did you mean 'days_ahead'?)",
        ),
        (
            [("- id: computer", "- id: phone"), ("kind == 'computer'", "kind == 'phone'")],
            "rules/red_service.yaml:5 [phone]: id 'phone' is used twice in kinds (first on line 3)",
        ),
        (
            [("when: true", "when: kind == 'phone'")],
            "rules/red_service.yaml:19 [default]: the last route must be the default (when: "
            "true), so that every request reaches someone",
        ),
        (
            [("when: kind == 'computer' and weekday >= 6", "when: true")],
            "rules/red_service.yaml:19 [default]: this route is never reached: route "
            "'computers-at-weekends' (line 14) matches every request before it",
        ),
    ],
)
def test_a_broken_file_is_refused_with_line_id_and_suggestion(
    tmp_path: Path, changes: list[tuple[str, str]], expected: str
) -> None:
    text = GOOD
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    assert problems(tmp_path, text) == [expected]


def test_assistant_check_names_the_broken_red_service_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write_rules(tmp_path, red_service=GOOD.replace("weekday >= 6", "weekdya >= 6"))
    for name in ("routing", "access", "policies", "roles"):
        (rules / f"{name}.yaml").write_text(
            (REPO_ROOT / "rules" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    monkeypatch.setenv("ASSISTANT_RULES_DIR", str(rules))
    out = io.StringIO()
    assert main(["check"], out=out) == 1
    [line] = out.getvalue().splitlines()
    assert line.startswith(
        "rules/red_service.yaml:15 [computers-at-weekends]: when: unknown symbol 'weekdya'"
    )
    assert line.endswith("(did you mean 'weekday'?)")
    assert "1 problem(s) found" in capsys.readouterr().err
