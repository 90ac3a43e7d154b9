"""Conversation files: the shipped one loads; broken ones are refused with file, line and a hint."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from assistant.config import REPO_ROOT
from assistant.flows.check import check_conversations, mermaid
from assistant.flows.spec import Catalogue, FlowError, load_conversations
from assistant.rules import load_rules
from assistant.services import catalog
from assistant.texts import Texts

CATALOGUE = Catalogue(
    providers=frozenset({"my_dorm"}),
    checks=frozenset({"not_in_past"}),
    actions=frozenset({"grid.report"}),
    start_checks=frozenset({"grid.may_report"}),
    facts=frozenset({"grid.facts"}),
)
TEXTS = Texts(REPO_ROOT / "conversations")

GOOD = """\
id: demo
command: demo
title: report_issue/title
steps:
  - id: category
    kind: choice
    ask: report_issue/ask_category
    options:
      - {value: safety, label: {zh: 安全, en: Safety}}
    label: {zh: 类别, en: Category}
  - id: note
    kind: text
    ask: report_issue/ask_description
    skip_if: category == 'safety'
    label: {zh: 说明, en: Note}
summary: report_issue/summary
submit: grid.report
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_conversations_load_with_their_templates() -> None:
    rules = load_rules(REPO_ROOT / "rules")
    shipped = catalog.services(rules, TEXTS, "zh-CN", UTC).registry.catalogue()
    found, problems = check_conversations(REPO_ROOT / "conversations", shipped, TEXTS)
    assert problems == []
    assert "report_issue" in found
    diagram = mermaid(found["report_issue"])
    assert diagram.startswith("flowchart TD")
    assert "skip if category != 'student_in_need'" in diagram


def test_a_good_file_loads(tmp_path: Path) -> None:
    found = load_conversations(write(tmp_path, GOOD), CATALOGUE)
    demo = found["demo"]
    assert [s.id for s in demo.steps] == ["category", "note"]
    assert demo.steps[1].skip_if is not None


@pytest.mark.parametrize(
    ("change", "line", "step", "message", "hint"),
    [
        (
            ("kind: choice", "kind: choise"),
            6,
            "category",
            "unknown kind 'choise'",
            "did you mean 'choice'?",
        ),
        (
            ("skip_if: category == 'safety'", "skip_if: catgory == 'safety'"),
            14,
            "note",
            "unknown symbol 'catgory'",
            "did you mean 'category'?",
        ),
        (
            ("skip_if: category == 'safety'", "skip_if: category == "),
            14,
            "note",
            "bad rule expression",
            None,
        ),
        (
            ("submit: grid.report", "submit: grid.reprot"),
            17,
            None,
            "unknown action 'grid.reprot'",
            "did you mean 'grid.report'?",
        ),
        (
            ("    ask: report_issue/ask_description\n", "    aks: report_issue/ask_description\n"),
            13,
            "note",
            "unknown key 'aks'",
            "did you mean 'ask'?",
        ),
        (("command: demo", "command: Demo!"), 2, None, "bad command", None),
        (("id: demo\n", "id: other\n"), 1, None, "the id must be the file name", "demo"),
        (
            (
                "      - {value: safety, label: {zh: 安全, en: Safety}}",
                "      - {value: safety, label: {zh: 安全}}",
            ),
            9,
            "category",
            "an option needs a value and a label in zh and en",
            None,
        ),
        (
            ("  - id: note\n", "  - id: category\n"),
            11,
            "category",
            "step id 'category' is used twice or reserved",
            None,
        ),
        (("steps:\n", "steps: 3\nx:\n"), 5, None, "unknown key 'x'", None),
        (("summary: report_issue/summary\n", ""), 1, None, "missing 'summary'", None),
        (("title: report_issue/title", "title: [1, 2"), 4, None, None, None),
        (
            ("    label: {zh: 说明, en: Note}\n", ""),
            11,
            "note",
            "a step needs a label in zh and en",
            "{zh: 类别, en: Category}",
        ),
        (
            ("    label: {zh: 类别, en: Category}", "    label: {zh: 类别}"),
            10,
            "category",
            "a step needs a label in zh and en",
            None,
        ),
        (
            ("command: demo\n", "command: demo\nstart_checks: [grid.may_reprot]\n"),
            3,
            None,
            "unknown start check 'grid.may_reprot'",
            "did you mean 'grid.may_report'?",
        ),
        (
            ("command: demo\n", "command: demo\nfacts_from: grid.fatcs\n"),
            3,
            None,
            "unknown facts provider 'grid.fatcs'",
            "did you mean 'grid.facts'?",
        ),
    ],
)
def test_broken_files_name_file_line_and_step(
    tmp_path: Path,
    change: tuple[str, str],
    line: int,
    step: str | None,
    message: str | None,
    hint: str | None,
) -> None:
    assert change[0] in GOOD
    write(tmp_path, GOOD.replace(change[0], change[1]))
    with pytest.raises(FlowError) as caught:
        load_conversations(tmp_path, CATALOGUE)
    problem = caught.value.problems[0]
    assert problem.file.endswith("demo.yaml")
    assert problem.line == line
    assert problem.step == step
    if message is not None:
        assert message in problem.message
    if hint is not None:
        assert problem.suggestion == hint


def test_a_missing_template_or_unknown_variable_is_reported(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("ask: report_issue/ask_category", "ask: nowhere/ask"))
    _, problems = check_conversations(tmp_path, CATALOGUE, TEXTS)
    assert [str(p) for p in problems] == [
        f"{tmp_path}/demo.yaml:5 [category]: no template zh-CN/nowhere/ask.j2 "
        "(create conversations/templates/zh-CN/nowhere/ask.j2)",
        f"{tmp_path}/demo.yaml:5 [category]: no template en/nowhere/ask.j2 "
        "(create conversations/templates/en/nowhere/ask.j2)",
    ]
    # A question's template gets answers and actor, not the summary's labels.
    write(tmp_path, GOOD.replace("ask: report_issue/ask_category", "ask: report_issue/summary"))
    _, problems = check_conversations(tmp_path, CATALOGUE, TEXTS)
    assert [p.message for p in problems] == [
        "template zh-CN/report_issue/summary.j2 uses labels",
        "template en/report_issue/summary.j2 uses labels",
    ]
    # The facts a conversation states come from its facts_from; without one there are none.
    write(tmp_path, GOOD.replace("ask: report_issue/ask_category", "ask: book_room/ask_attendees"))
    _, problems = check_conversations(tmp_path, CATALOGUE, TEXTS)
    assert [p.message for p in problems] == [
        "template zh-CN/book_room/ask_attendees.j2 uses facts",
        "template en/book_room/ask_attendees.j2 uses facts",
    ]
    with_facts = GOOD.replace("ask: report_issue/ask_category", "ask: book_room/ask_attendees")
    write(
        tmp_path, with_facts.replace("command: demo\n", "command: demo\nfacts_from: grid.facts\n")
    )
    assert check_conversations(tmp_path, CATALOGUE, TEXTS)[1] == []


def test_two_conversations_cannot_share_a_command(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("id: demo", "id: second"), "second.yaml")
    with pytest.raises(FlowError) as caught:
        load_conversations(tmp_path, CATALOGUE)
    assert "command /demo is already used by demo" in str(caught.value)
