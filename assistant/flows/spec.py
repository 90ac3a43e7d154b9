"""Guided conversations as data: ``conversations/<name>.yaml`` read, checked and compiled.

A conversation names its steps, what each asks (a template) and what its answer is called once
given, the kind of answer it takes, checks with the re-prompt shown on failure, conditions to skip
a step, a summary to confirm, and the service action that submits it; also the checks that must
pass before its first question (a limit already reached refuses at once, not after the last step)
and where the facts its templates state come from (a room's capacity). Adding a field or a step
is a YAML edit, not a code change. Every problem is reported with file, line, step id and, where
one is close, a suggestion.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import rule_engine

from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml


class Kind(enum.StrEnum):
    """The kinds of answer a step takes."""

    CHOICE = "choice"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    SLOT = "slot"
    PHOTO = "photo"
    # Several photos and documents, one message each, until the person presses Done.
    FILES = "files"
    YES_NO = "yes_no"


_TYPES = {
    Kind.CHOICE: rule_engine.DataType.STRING,
    Kind.TEXT: rule_engine.DataType.STRING,
    Kind.NUMBER: rule_engine.DataType.FLOAT,
    Kind.DATE: rule_engine.DataType.STRING,
    Kind.SLOT: rule_engine.DataType.STRING,
    Kind.PHOTO: rule_engine.DataType.STRING,
    # Each file: {kind: photo or document, file_id, name}.
    Kind.FILES: rule_engine.DataType.ARRAY(
        rule_engine.DataType.MAPPING(rule_engine.DataType.STRING)
    ),
    Kind.YES_NO: rule_engine.DataType.BOOLEAN,
}
# What expressions may name besides the answers: who is answering.
ACTOR_SYMBOLS = {
    "status": rule_engine.DataType.STRING,
    "roles": rule_engine.DataType.ARRAY(rule_engine.DataType.STRING),
}
_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong in a conversation file."""

    file: str
    line: int
    step: str | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f" [{self.step}]" if self.step else ""
        hint = f" ({self.suggestion})" if self.suggestion else ""
        return f"{self.file}:{self.line}{where}: {self.message}{hint}"


class FlowError(Exception):
    """Conversation files that cannot be used; ``problems`` lists every one found."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Option:
    """One choice: the stored value and its label in each language."""

    value: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class Check:
    """A condition the answer must meet, and the template of the re-prompt when it does not."""

    message: str
    rule: rule_engine.Rule | None = None
    named: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Step:
    """One question; ``label`` names its answer in each language ("类别" / "Category")."""

    id: str
    kind: Kind
    ask: str
    line: int
    label: Mapping[str, str] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    options_from: str | None = None
    optional: bool = False
    skip_if: rule_engine.Rule | None = None
    checks: tuple[Check, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default_from: str | None = None


@dataclass(frozen=True)
class Conversation:
    """A guided conversation, ready to run."""

    id: str
    # None for a conversation a service starts (a rejection's reason), not a person's command.
    command: str | None
    title: str
    steps: tuple[Step, ...]
    summary: str
    submit: str
    file: str
    timeout_minutes: int = 30
    access: str | None = None
    # Named checks that run before the first question; each may refuse, as the submit would.
    start_checks: tuple[str, ...] = ()
    # A named provider of the facts templates state (a room's capacity, the booking window).
    facts_from: str | None = None
    steps_by_id: Mapping[str, Step] = field(default_factory=dict)

    def step(self, step_id: str) -> Step:
        """The step with this id."""
        return self.steps_by_id[step_id]


@dataclass(frozen=True)
class Catalogue:
    """What conversation files may name: option providers, named checks, submit actions, the
    checks run at a conversation's start and the providers of facts for its templates."""

    providers: frozenset[str]
    checks: frozenset[str]
    actions: frozenset[str]
    start_checks: frozenset[str] = frozenset()
    facts: frozenset[str] = frozenset()


_TOP = {
    "id": "the conversation's id (lowercase letters, digits, _)",
    "command": "the command that starts it, without the slash (none: a service starts it)",
    "title": "a template name",
    "timeout_minutes": "minutes of silence before it expires",
    "access": "an action of rules/access.yaml, e.g. grid.report",
    "start_checks": "a list of named checks that run before the first question",
    "facts_from": "a named provider of the facts its templates state",
    "steps": "the list of steps",
    "summary": "the template shown to confirm",
    "submit": "the service action that submits the answers",
}
_STEP = {
    "id": "the step's id",
    "kind": "one of " + ", ".join(k.value for k in Kind),
    "label": "what the answer is called, {zh: 类别, en: Category}",
    "ask": "a template name",
    "options": "a list of {value, label: {zh, en}}",
    "options_from": "a named option provider",
    "optional": "true or false",
    "skip_if": "a rule expression over earlier answers",
    "checks": "a list of {rule or check, message}",
    "min": "a number (for files: the fewest files)",
    "max": "a number (for files: the most files, at most 20)",
    "default_from": "a named option provider that suggests the answer",
}


class _Reader:
    def __init__(self, file: str, catalogue: Catalogue) -> None:
        self.file = file
        self.catalogue = catalogue
        self.problems: list[FlowProblem] = []

    def problem(
        self, line: int, message: str, step: str | None = None, suggestion: str | None = None
    ) -> None:
        self.problems.append(FlowProblem(self.file, line, step, message, suggestion))

    def keys(self, data: Located, known: Mapping[str, str], step: str | None) -> None:
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(known)
                self.problem(data.lines[key], f"unknown key '{key}'", step, hint)

    def text(self, data: Located, key: str, step: str | None, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(data.line, f"missing '{key}'", step, _TOP.get(key) or _STEP.get(key))
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(data.lines[key], f"'{key}' must be text", step, _STEP.get(key))
            return ""
        return value.strip()

    def rule(
        self,
        expression: object,
        line: int,
        step: str | None,
        symbols: Mapping[str, rule_engine.DataType],
    ) -> rule_engine.Rule | None:
        if not isinstance(expression, str):
            self.problem(line, "a rule expression must be text", step)
            return None
        context = rule_engine.Context(type_resolver=rule_engine.type_resolver_from_dict(symbols))
        try:
            return rule_engine.Rule(expression, context=context)
        except rule_engine.SymbolResolutionError as exc:
            known = list(symbols)
            close = difflib.get_close_matches(exc.symbol_name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(known)
            self.problem(line, f"unknown symbol '{exc.symbol_name}'", step, hint)
        except rule_engine.EngineError as exc:
            self.problem(line, f"bad rule expression: {exc.message}", step)
        return None


def read_conversation(
    path: Path, catalogue: Catalogue
) -> tuple[Conversation | None, list[FlowProblem]]:
    """One conversation file, and every problem found in it."""
    reader = _Reader(str(path), catalogue)
    try:
        data = load_yaml(path)
    except YamlError as exc:
        reader.problem(exc.line, str(exc))
        return None, reader.problems
    if not isinstance(data, Located):
        reader.problem(line_of(data), "expected a mapping with id, command, steps, ...")
        return None, reader.problems
    reader.keys(data, _TOP, None)
    conversation_id = reader.text(data, "id", None)
    if conversation_id and not _ID.fullmatch(conversation_id):
        reader.problem(data.lines["id"], "bad id", None, "lowercase letters, digits and _")
    if conversation_id and conversation_id != path.stem:
        reader.problem(data.lines["id"], "the id must be the file name", None, path.stem)
    command = reader.text(data, "command", None, required=False) or None
    if command and not re.fullmatch(r"[a-z0-9_]{1,32}", command):
        reader.problem(data.lines["command"], "bad command", None, "1-32 of a-z, 0-9 and _")
    timeout = data.get("timeout_minutes", 30)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 1440:
        reader.problem(
            data.lines.get("timeout_minutes", data.line),
            "bad timeout",
            None,
            "a whole number of minutes from 1 to 1440",
        )
        timeout = 30
    submit = reader.text(data, "submit", None)
    if submit and submit not in catalogue.actions:
        close = difflib.get_close_matches(submit, catalogue.actions, n=1)
        reader.problem(
            data.lines["submit"],
            f"unknown action '{submit}'",
            None,
            f"did you mean '{close[0]}'?"
            if close
            else "known: " + ", ".join(sorted(catalogue.actions)),
        )
    steps = _steps(reader, data)
    start_checks = _start_checks(reader, data)
    facts_from = reader.text(data, "facts_from", None, required=False) or None
    if facts_from and facts_from not in catalogue.facts:
        reader.problem(
            data.lines["facts_from"],
            f"unknown facts provider '{facts_from}'",
            None,
            _known(facts_from, catalogue.facts),
        )
    conversation = Conversation(
        id=conversation_id,
        command=command,
        title=reader.text(data, "title", None),
        steps=tuple(steps),
        summary=reader.text(data, "summary", None),
        submit=submit,
        file=str(path),
        timeout_minutes=timeout,
        access=reader.text(data, "access", None, required=False) or None,
        start_checks=start_checks,
        facts_from=facts_from,
        steps_by_id={s.id: s for s in steps},
    )
    return (None if reader.problems else conversation), reader.problems


def _known(name: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(sorted(known))


def _start_checks(reader: _Reader, data: Located) -> tuple[str, ...]:
    raw = data.get("start_checks")
    if raw is None:
        return ()
    if not isinstance(raw, LocatedList):
        reader.problem(data.lines["start_checks"], "expected a list of check names")
        return ()
    found: list[str] = []
    for name, line in zip(raw, raw.lines, strict=True):
        if not isinstance(name, str) or name not in reader.catalogue.start_checks:
            reader.problem(
                line,
                f"unknown start check '{name}'",
                None,
                _known(str(name), reader.catalogue.start_checks),
            )
            continue
        found.append(name)
    return tuple(found)


def _label(reader: _Reader, item: Located, step_id: str) -> dict[str, str]:
    label = item.get("label")
    if (
        not isinstance(label, Located)
        or set(label) != {"zh", "en"}
        or not all(isinstance(label[lang], str) and label[lang].strip() for lang in ("zh", "en"))
    ):
        reader.problem(
            item.lines.get("label", item.line),
            "a step needs a label in zh and en: what its answer is called",
            step_id,
            "{zh: 类别, en: Category}",
        )
        return {}
    return {"zh-CN": label["zh"].strip(), "en": label["en"].strip()}


def _steps(reader: _Reader, data: Located) -> list[Step]:
    raw = data.get("steps")
    if not isinstance(raw, LocatedList) or not raw:
        reader.problem(data.lines.get("steps", data.line), "expected a list of steps")
        return []
    symbols: dict[str, rule_engine.DataType] = dict(ACTOR_SYMBOLS)
    steps: list[Step] = []
    for item, line in zip(raw, raw.lines, strict=True):
        if not isinstance(item, Located):
            reader.problem(line, "a step must be a mapping with id, kind and ask")
            continue
        step = _step(reader, item, symbols)
        if step is None:
            continue
        if step.id in symbols:
            reader.problem(
                item.lines["id"], f"step id '{step.id}' is used twice or reserved", step.id
            )
            continue
        steps.append(step)
        symbols[step.id] = _TYPES[step.kind]
    return steps


def _step(
    reader: _Reader, item: Located, earlier: Mapping[str, rule_engine.DataType]
) -> Step | None:
    step_id = reader.text(item, "id", None)
    if not step_id:
        return None
    if not _ID.fullmatch(step_id):
        reader.problem(item.lines["id"], "bad step id", step_id, "lowercase letters, digits, _")
    reader.keys(item, _STEP, step_id)
    kind_text = reader.text(item, "kind", step_id)
    try:
        kind = Kind(kind_text)
    except ValueError:
        if kind_text:
            close = difflib.get_close_matches(kind_text, [k.value for k in Kind], n=1)
            reader.problem(
                item.lines["kind"],
                f"unknown kind '{kind_text}'",
                step_id,
                f"did you mean '{close[0]}'?" if close else _STEP["kind"],
            )
        return None
    options = _options(reader, item, step_id)
    provider = reader.text(item, "options_from", step_id, required=False) or None
    default_from = reader.text(item, "default_from", step_id, required=False) or None
    for key, name in (("options_from", provider), ("default_from", default_from)):
        if name and name not in reader.catalogue.providers:
            close = difflib.get_close_matches(name, reader.catalogue.providers, n=1)
            reader.problem(
                item.lines[key],
                f"unknown provider '{name}'",
                step_id,
                f"did you mean '{close[0]}'?"
                if close
                else "known: " + ", ".join(sorted(reader.catalogue.providers)),
            )
    if kind in (Kind.CHOICE, Kind.SLOT) and not options and not provider:
        reader.problem(item.line, f"a {kind} step needs options or options_from", step_id)
    # A check sees the answer being given under its own name; skip_if sees only earlier ones.
    here = {**earlier, step_id: _TYPES[kind]}
    skip_if = None
    if "skip_if" in item:
        skip_if = reader.rule(item["skip_if"], item.lines["skip_if"], step_id, earlier)
    checks = _checks(reader, item, step_id, here)
    bounds = []
    for key in ("min", "max"):
        value = item.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            reader.problem(item.lines[key], f"'{key}' must be a number", step_id)
            value = None
        bounds.append(float(value) if value is not None else None)
    if kind is Kind.FILES:
        bounds = _file_bounds(reader, item, step_id, bounds)
    optional = item.get("optional", False)
    if not isinstance(optional, bool):
        reader.problem(item.lines["optional"], "'optional' must be true or false", step_id)
        optional = False
    return Step(
        id=step_id,
        kind=kind,
        ask=reader.text(item, "ask", step_id),
        line=item.line,
        label=_label(reader, item, step_id),
        options=tuple(options),
        options_from=provider,
        optional=optional,
        skip_if=skip_if,
        checks=tuple(checks),
        minimum=bounds[0],
        maximum=bounds[1],
        default_from=default_from,
    )


MAX_FILES = 20
"""The most files one step takes: each is a message of its own to everyone who sees them."""


def _file_bounds(
    reader: _Reader, item: Located, step_id: str, bounds: list[float | None]
) -> list[float | None]:
    """A files step's fewest (1 unless given) and most (MAX_FILES unless given) files."""
    low, high = bounds
    low = 1 if low is None else low
    high = MAX_FILES if high is None else high
    if not (low == int(low) and high == int(high) and 1 <= low <= high <= MAX_FILES):
        reader.problem(
            item.lines.get("max", item.lines.get("min", item.line)),
            f"a files step takes from min to max files, whole numbers with 1 <= min <= max <= "
            f"{MAX_FILES}",
            step_id,
        )
    return [low, high]


def _options(reader: _Reader, item: Located, step_id: str) -> list[Option]:
    raw = item.get("options")
    if raw is None:
        return []
    if not isinstance(raw, LocatedList):
        reader.problem(item.lines["options"], "expected a list of options", step_id)
        return []
    options: list[Option] = []
    for entry, line in zip(raw, raw.lines, strict=True):
        label = entry.get("label") if isinstance(entry, Located) else None
        value = entry.get("value") if isinstance(entry, Located) else None
        if (
            not isinstance(value, str | int)
            or not isinstance(label, Located)
            or not all(
                isinstance(label.get(lang), str) and label.get(lang) for lang in ("zh", "en")
            )
        ):
            reader.problem(
                line,
                "an option needs a value and a label in zh and en",
                step_id,
                "{value: safety, label: {zh: 安全隐患, en: Safety hazard}}",
            )
            continue
        options.append(Option(str(value), {"zh-CN": label["zh"], "en": label["en"]}))
    if len({o.value for o in options}) != len(options):
        reader.problem(raw.line, "two options have the same value", step_id)
    return options


def _checks(
    reader: _Reader, item: Located, step_id: str, symbols: Mapping[str, rule_engine.DataType]
) -> list[Check]:
    raw = item.get("checks")
    if raw is None:
        return []
    if not isinstance(raw, LocatedList):
        reader.problem(item.lines["checks"], "expected a list of checks", step_id)
        return []
    checks: list[Check] = []
    for entry, line in zip(raw, raw.lines, strict=True):
        if not isinstance(entry, Located) or ("rule" in entry) == ("check" in entry):
            reader.problem(line, "a check has either 'rule' or 'check', and a 'message'", step_id)
            continue
        message = reader.text(entry, "message", step_id)
        if "rule" in entry:
            rule = reader.rule(entry["rule"], entry.lines["rule"], step_id, symbols)
            checks.append(Check(message, rule=rule, line=line))
            continue
        named = entry["check"]
        if named not in reader.catalogue.checks:
            close = difflib.get_close_matches(str(named), reader.catalogue.checks, n=1)
            reader.problem(
                entry.lines["check"],
                f"unknown check '{named}'",
                step_id,
                f"did you mean '{close[0]}'?"
                if close
                else "known: " + ", ".join(sorted(reader.catalogue.checks)),
            )
            continue
        checks.append(Check(message, named=str(named), line=line))
    return checks


def load_conversations(directory: Path, catalogue: Catalogue) -> dict[str, Conversation]:
    """Every ``*.yaml`` of ``directory``, by id; raises FlowError listing all problems."""
    found: dict[str, Conversation] = {}
    problems: list[FlowProblem] = []
    commands: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        conversation, trouble = read_conversation(path, catalogue)
        problems += trouble
        if conversation is None:
            continue
        if conversation.command is None:
            found[conversation.id] = conversation
            continue
        if conversation.command in commands:
            problems.append(
                FlowProblem(
                    str(path),
                    1,
                    None,
                    f"command /{conversation.command} is already used by "
                    f"{commands[conversation.command]}",
                )
            )
            continue
        commands[conversation.command] = conversation.id
        found[conversation.id] = conversation
    if problems:
        raise FlowError(problems)
    return found


def template_names(conversation: Conversation) -> Iterable[tuple[str, str, int, str | None]]:
    """(template, its use, line, step id) of every template a conversation names.

    The use (title, summary, ask, problem) decides which variables the template is given.
    """
    yield conversation.title, "title", 1, None
    yield conversation.summary, "summary", 1, None
    for step in conversation.steps:
        yield step.ask, "ask", step.line, step.id
        for check in step.checks:
            yield check.message, "problem", check.line, step.id
