"""Runs the guided conversations of ``conversations/*.yaml``.

Every step a person takes is a committed change of their ``conversation_states`` row, made in the
update's own transaction: nothing lives in memory, so a restart, a crash or a second bot process
resumes them where they were, and an expiry time survives too. The engine speaks in screens
(text + buttons) and never imports Telegram; the bot layer turns screens into messages.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import rule_engine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import digest, fits, number
from assistant.domain import Actor, Language
from assistant.flows.spec import Catalogue, Conversation, Kind, Option, Step
from assistant.storage.models import ConversationState, ConversationStatus
from assistant.texts import Texts
from assistant.wellformed import well_formed

log = logging.getLogger(__name__)

CONFIRM = "_confirm"
PAGE_SIZE = 8
MAX_TEXT = 2000
PREFIX = "cv"


@dataclass(frozen=True)
class Button:
    """An inline button: its label and its callback data."""

    label: str
    data: str


@dataclass(frozen=True)
class Screen:
    """A message: text (HTML) and rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass
class Outcome:
    """What to show: new messages, a replacement for the pressed message, a toast."""

    send: list[Screen] = field(default_factory=list)
    edit: Screen | None = None
    toast: str | None = None
    alert: bool = False


@dataclass(frozen=True)
class FlowContext:
    """What providers, checks and actions get."""

    session: AsyncSession
    actor: Actor
    chat_id: int
    answers: Mapping[str, Any]
    now: datetime
    language: Language
    conversation: Conversation

    def label(self, step: str, language: Language) -> str:
        """The label of the answer to ``step`` in ``language`` (the answer itself if free)."""
        shown = labels(self.conversation, self.answers, language)
        return shown.get(step, str(self.answers.get(step, "")))


@dataclass(frozen=True)
class Submitted:
    """What an action reports back: the template to show and its variables."""

    template: str
    variables: Mapping[str, Any] = field(default_factory=dict)


Provider = Callable[[FlowContext], Awaitable[list[Option]]]
NamedCheck = Callable[[FlowContext, Any], Awaitable[bool]]
Action = Callable[[FlowContext], Awaitable[Submitted]]


class Reprompt(Exception):
    """Raised by a named check to re-prompt naming a limit (the most one may ask for)."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


@dataclass(frozen=True)
class _Problem:
    """Why an answer was not taken: the template that says so, and the limit it may name."""

    template: str
    limit: float | None = None


class Refused(Exception):
    """An action declined to submit; ``template`` tells the person why."""

    def __init__(self, template: str, **variables: Any) -> None:
        super().__init__(template)
        self.template = template
        self.variables = variables


@dataclass(frozen=True)
class Registry:
    """The named providers, checks and actions conversation files may use."""

    providers: Mapping[str, Provider]
    checks: Mapping[str, NamedCheck]
    actions: Mapping[str, Action]

    def catalogue(self) -> Catalogue:
        """Just the names, for checking conversation files."""
        return Catalogue(frozenset(self.providers), frozenset(self.checks), frozenset(self.actions))


class Engine:
    """Starts conversations and moves them on with each answer, press, /back or /cancel."""

    def __init__(
        self, conversations: Mapping[str, Conversation], registry: Registry, texts: Texts
    ) -> None:
        self.conversations = dict(conversations)
        self._commands = {c.command: c for c in conversations.values()}
        self._registry = registry
        self._texts = texts

    def for_command(self, command: str) -> Conversation | None:
        """The conversation a command starts."""
        return self._commands.get(command)

    # Entry points --------------------------------------------------------------------------

    async def start(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        conversation: Conversation,
        *,
        now: datetime,
        language: Language,
        preset: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Begin ``conversation``; an unfinished one in this chat is set aside first.

        ``preset`` answers are what a service starting it already knows (the request a reason
        is for); no step asks them and Back never undoes them.
        """
        replaced = await self._active(session, actor.person_id, chat_id)
        if replaced is not None:
            replaced.status = ConversationStatus.CANCELLED
            replaced.updated_at = now
            await session.flush()
        state = ConversationState(
            person_id=actor.person_id,
            chat_id=chat_id,
            conversation=conversation.id,
            step="",
            answers=dict(preset or {}),
            history=[],
            page=0,
            status=ConversationStatus.ACTIVE,
            version=1,
            started_at=now,
            updated_at=now,
            expires_at=now + timedelta(minutes=conversation.timeout_minutes),
        )
        session.add(state)
        await session.flush()
        run = _Run(self, session, actor, chat_id, conversation, state, now, language)
        intro = self._texts.render(language, conversation.title)
        if replaced is not None:
            intro = self._texts.render(language, "flow_replaced", title=intro)
        return await run.advance(Outcome(send=[Screen(intro)]))

    async def text(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        text: str,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome | None:
        """A typed answer; None when no conversation is running in this chat."""
        return await self._with_run(session, actor, chat_id, now, language, lambda r: r.typed(text))

    async def photo(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        file_id: str,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome | None:
        """A photo sent as an answer; None when no conversation is running in this chat."""
        return await self._with_run(
            session, actor, chat_id, now, language, lambda r: r.photographed(file_id)
        )

    async def press(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        data: str,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome:
        """A button of a conversation; stale, foreign or forged data is refused kindly."""
        parsed = _parse(data)
        expired = Outcome(toast=self._texts.render(language, "button_expired"), alert=True)
        if parsed is None:
            return expired
        state_id, version, op, arg = parsed
        state = await session.get(ConversationState, state_id, with_for_update=True)
        if (
            state is None
            or state.person_id != actor.person_id
            or state.chat_id != chat_id
            or state.status is not ConversationStatus.ACTIVE
            or state.version != version
        ):
            return expired
        if state.expires_at <= now:
            return await self._expire(state, now, language)
        conversation = self.conversations.get(state.conversation)
        if conversation is None:
            return expired
        run = _Run(self, session, actor, chat_id, conversation, state, now, language)
        return await run.pressed(op, arg)

    async def cancel(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome | None:
        """/cancel: end the running conversation; None when there is none."""
        return await self._with_run(session, actor, chat_id, now, language, _Run.cancel)

    async def back(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome | None:
        """/back: return to the previous question; None when no conversation is running."""
        return await self._with_run(session, actor, chat_id, now, language, _Run.went_back)

    # Plumbing --------------------------------------------------------------------------------

    async def _with_run(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        now: datetime,
        language: Language,
        act: Callable[[_Run], Awaitable[Outcome]],
    ) -> Outcome | None:
        """``act`` on the conversation running in this chat; None when there is none."""
        run = await self._run(session, actor, chat_id, now, language)
        if run is None or isinstance(run, Outcome):
            return run
        return await act(run)

    async def _active(
        self, session: AsyncSession, person_id: int, chat_id: int
    ) -> ConversationState | None:
        return await session.scalar(
            select(ConversationState)
            .where(
                ConversationState.person_id == person_id,
                ConversationState.chat_id == chat_id,
                ConversationState.status == ConversationStatus.ACTIVE,
            )
            .with_for_update()
        )

    async def _run(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        now: datetime,
        language: Language,
    ) -> _Run | Outcome | None:
        state = await self._active(session, actor.person_id, chat_id)
        if state is None:
            return None
        if state.expires_at <= now:
            return await self._expire(state, now, language)
        conversation = self.conversations.get(state.conversation)
        if conversation is None:
            # The file was removed since: end it rather than leave the person stuck.
            state.status = ConversationStatus.CANCELLED
            return None
        return _Run(self, session, actor, chat_id, conversation, state, now, language)

    async def _expire(self, state: ConversationState, now: datetime, language: Language) -> Outcome:
        state.status = ConversationStatus.EXPIRED
        state.updated_at = now
        return Outcome(
            send=[Screen(self._texts.render(language, "flow_expired"))],
            toast=self._texts.render(language, "button_expired"),
            alert=True,
        )


class _Run:
    """One conversation in one update: reads and moves its state row."""

    def __init__(
        self,
        engine: Engine,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        conversation: Conversation,
        state: ConversationState,
        now: datetime,
        language: Language,
    ) -> None:
        self.engine = engine
        self.session = session
        self.actor = actor
        self.chat_id = chat_id
        self.conversation = conversation
        self.state = state
        self.now = now
        self.language = language
        self.texts = engine._texts
        self.registry = engine._registry

    # Moving ----------------------------------------------------------------------------------

    def _touch(self) -> None:
        state = self.state
        state.version += 1
        state.updated_at = self.now
        state.expires_at = self.now + timedelta(minutes=self.conversation.timeout_minutes)

    async def advance(self, outcome: Outcome) -> Outcome:
        """Go to the next step that is not skipped, or to the summary, and ask it."""
        answered = set(self.state.history)
        for step in self.conversation.steps:
            if step.id in answered:
                continue
            if step.skip_if is not None and self._matches(step.skip_if, None):
                continue
            self._goto(step.id)
            outcome.send.append(await self._ask(step))
            return outcome
        self._goto(CONFIRM)
        outcome.send.append(await self._summary())
        return outcome

    def _goto(self, step_id: str) -> None:
        self.state.step = step_id
        self.state.page = 0
        self._touch()

    async def _accept(self, step: Step, value: Any, outcome: Outcome) -> Outcome:
        problem = await self._problem(step, value)
        if problem is not None:
            # A new version first: the re-prompt's own buttons must be the live ones.
            self._touch()
            outcome.send.append(await self._ask(step, problem=problem))
            return outcome
        self.state.answers = {**self.state.answers, step.id: value}
        self.state.history = [*self.state.history, step.id]
        return await self.advance(outcome)

    async def went_back(self, outcome: Outcome | None = None) -> Outcome:
        """Undo the last answer and ask that question again."""
        outcome = outcome or Outcome()
        history = list(self.state.history)
        if not history:
            step = self._current()
            if step is not None:
                outcome.send.append(await self._ask(step))
            return outcome
        last = history.pop()
        self.state.history = history
        self.state.answers = {k: v for k, v in self.state.answers.items() if k != last}
        self._goto(last)
        outcome.send.append(await self._ask(self.conversation.step(last)))
        return outcome

    async def cancel(self) -> Outcome:
        """/cancel: end the conversation without submitting."""
        return self.cancelled()

    def cancelled(self, outcome: Outcome | None = None) -> Outcome:
        """End the conversation without submitting."""
        outcome = outcome or Outcome()
        self.state.status = ConversationStatus.CANCELLED
        self._touch()
        outcome.send.append(Screen(self.texts.render(self.language, "flow_cancelled")))
        return outcome

    async def submit(self, outcome: Outcome) -> Outcome:
        """Run the conversation's action; the conversation ends either way it decides."""
        action = self.registry.actions[self.conversation.submit]
        try:
            result = await action(self._context())
        except Refused as refusal:
            self.state.status = ConversationStatus.CANCELLED
            self._touch()
            outcome.send.append(
                Screen(self.texts.render(self.language, refusal.template, **refusal.variables))
            )
            return outcome
        self.state.status = ConversationStatus.DONE
        self._touch()
        outcome.send.append(
            Screen(self.texts.render(self.language, result.template, **result.variables))
        )
        return outcome

    # Input -----------------------------------------------------------------------------------

    def _current(self) -> Step | None:
        if self.state.step == CONFIRM:
            return None
        return self.conversation.steps_by_id.get(self.state.step)

    async def typed(self, text: str) -> Outcome:
        """A message typed while the conversation waits for an answer."""
        step = self._current()
        outcome = Outcome()
        if step is None:
            outcome.send.append(await self._summary())
            return outcome
        value, problem = await self._parse_typed(step, text)
        if problem is not None:
            self._touch()
            outcome.send.append(await self._ask(step, problem=_Problem(problem)))
            return outcome
        return await self._accept(step, value, outcome)

    async def photographed(self, file_id: str) -> Outcome:
        """A photo sent while the conversation waits."""
        step = self._current()
        if step is None or step.kind is not Kind.PHOTO:
            return await self.typed("")
        return await self._accept(step, file_id, Outcome())

    async def pressed(self, op: str, arg: str) -> Outcome:
        """A button of the current screen."""
        outcome = Outcome(toast="")
        step = self._current()
        if op == "x":
            return self.cancelled(outcome)
        if op == "b":
            return await self.went_back(outcome)
        if op == "n":
            return outcome
        if step is None:
            if op == "s":
                return await self.submit(outcome)
            outcome.send.append(await self._summary())
            return outcome
        if op == "p" and (page := number(arg, 999)) is not None:
            self.state.page = page
            self._touch()
            outcome.edit = await self._ask(step)
            return outcome
        if op == "m" and step.kind is Kind.DATE:
            self._touch()
            outcome.edit = await self._ask(step, month=arg)
            return outcome
        value = await self._pressed_value(step, op, arg)
        if value is _GONE:
            # Taken or withdrawn since it was shown: say so, with the list as it is now.
            self._touch()
            outcome.send.append(await self._ask(step, problem=_Problem("flow_no_longer_available")))
            return outcome
        if value is _INVALID:
            outcome.toast = self.texts.render(self.language, "button_expired")
            outcome.alert = True
            return outcome
        return await self._accept(step, value, outcome)

    async def _pressed_value(self, step: Step, op: str, arg: str) -> Any:
        if op in (_VALUE, _DIGEST) and (step.kind in (Kind.CHOICE, Kind.SLOT) or step.default_from):
            # The item the button showed, or nothing: never whatever now stands in its place.
            offered = [o.value for o in await self._offered(step)]
            found = {v for v in offered if (v if op == _VALUE else digest(v)) == arg}
            return found.pop() if len(found) == 1 else _GONE
        if op == "y" and step.kind is Kind.YES_NO and arg in ("0", "1"):
            return arg == "1"
        if op == "d" and step.kind is Kind.DATE:
            parsed = _date(arg)
            return parsed.isoformat() if parsed else _INVALID
        if op == "k" and step.optional:
            return None
        return _INVALID

    async def _parse_typed(self, step: Step, text: str) -> tuple[Any, str | None]:
        text = well_formed(text).strip()
        kind = step.kind
        if kind in (Kind.CHOICE, Kind.SLOT):
            wanted = text.casefold()
            for option in await self._options(step):
                labels = {option.value.casefold(), *(v.casefold() for v in option.label.values())}
                if wanted in labels:
                    return option.value, None
            return None, "flow_pick_a_button"
        if kind is Kind.YES_NO:
            answer = _YES_NO.get(text.casefold())
            return (answer, None) if answer is not None else (None, "flow_pick_a_button")
        if kind is Kind.PHOTO:
            return None, "flow_send_a_photo"
        if kind is Kind.NUMBER:
            try:
                number = float(text.replace(",", ""))
            except ValueError:
                return None, "flow_need_number"
            if number != number or number in (float("inf"), float("-inf")):
                return None, "flow_need_number"
            return number, None
        if kind is Kind.DATE:
            parsed = _date(text)
            return (parsed.isoformat(), None) if parsed else (None, "flow_need_date")
        if not text:
            return None, "flow_need_text"
        if len(text) > MAX_TEXT:
            return None, "flow_too_long"
        return text, None

    async def _problem(self, step: Step, value: Any) -> _Problem | None:
        """The re-prompt for ``value``, or None when it is acceptable."""
        if value is None:
            return None if step.optional else _Problem("flow_need_text")
        if step.kind is Kind.TEXT:
            size = len(value)
            if step.minimum is not None and size < step.minimum:
                return _Problem("flow_too_short")
            if step.maximum is not None and size > step.maximum:
                return _Problem("flow_too_long")
        if step.kind is Kind.NUMBER:
            if step.minimum is not None and value < step.minimum:
                return _Problem("flow_number_range")
            if step.maximum is not None and value > step.maximum:
                return _Problem("flow_number_range")
        for check in step.checks:
            if check.rule is not None and not self._matches(check.rule, (step.id, value)):
                return _Problem(check.message)
            if check.named is not None:
                named = self.registry.checks[check.named]
                context = self._context({**self.state.answers, step.id: value})
                try:
                    if not await named(context, value):
                        return _Problem(check.message)
                except Reprompt as reprompt:
                    return _Problem(check.message, reprompt.limit)
        return None

    def _matches(self, rule: rule_engine.Rule, extra: tuple[str, Any] | None) -> bool:
        values: dict[str, Any] = {step.id: None for step in self.conversation.steps}
        values.update(self.state.answers)
        if extra is not None:
            values[extra[0]] = extra[1]
        values["status"] = str(self.actor.status)
        values["roles"] = tuple(str(g.role) for g in self.actor.grants)
        try:
            return bool(rule.matches(values))
        except rule_engine.EngineError:
            # An expression over an answer that is absent (a skipped step) is simply false.
            return False

    # Screens ---------------------------------------------------------------------------------

    def _context(self, answers: Mapping[str, Any] | None = None) -> FlowContext:
        return FlowContext(
            session=self.session,
            actor=self.actor,
            chat_id=self.chat_id,
            answers=dict(answers if answers is not None else self.state.answers),
            now=self.now,
            language=self.language,
            conversation=self.conversation,
        )

    async def _provided(self, name: str) -> list[Option]:
        return await self.registry.providers[name](self._context())

    async def _options(self, step: Step) -> list[Option]:
        if step.options_from:
            return await self._provided(step.options_from)
        return list(step.options)

    async def _offered(self, step: Step) -> list[Option]:
        """What the step's buttons offer now: its options and its suggestion."""
        offered = await self._options(step) if step.kind in (Kind.CHOICE, Kind.SLOT) else []
        if step.default_from:
            offered += (await self._provided(step.default_from))[:1]
        return offered

    def _data(self, op: str, arg: str | int = "") -> str:
        return f"{PREFIX}:{self.state.id}:{self.state.version}:{op}:{arg}"

    def _pick(self, option: Option) -> Button:
        """The button of an item: it carries the item's value, or the value's digest where the
        value would not fit in callback data, so a press means that item and no other."""
        data = self._data(_VALUE, option.value)
        if not (option.value.isprintable() and fits(data)):
            data = self._data(_DIGEST, digest(option.value))
        return Button(option.label.get(self.language, option.value), data)

    def _nav(self, step: Step | None) -> tuple[Button, ...]:
        buttons = []
        if self.state.history:
            buttons.append(Button(self.texts.render(self.language, "flow_back"), self._data("b")))
        if step is not None and step.optional:
            buttons.append(Button(self.texts.render(self.language, "flow_skip"), self._data("k")))
        buttons.append(Button(self.texts.render(self.language, "flow_cancel"), self._data("x")))
        return tuple(buttons)

    async def _ask(self, step: Step, *, problem: _Problem | None = None, month: str = "") -> Screen:
        choice = step.kind in (Kind.CHOICE, Kind.SLOT)
        options = await self._options(step) if choice else []
        # The question may depend on what is offered (an empty list is said in words).
        variables = {"answers": self.state.answers, "actor": self.actor, "options": options}
        text = self.texts.render(self.language, step.ask, **variables)
        if problem is not None:
            shown = self.texts.render(
                self.language, problem.template, step=step, limit=problem.limit
            )
            text = shown + "\n\n" + text
        rows: list[tuple[Button, ...]] = []
        if choice:
            rows += self._choice_rows(options)
        elif step.kind is Kind.YES_NO:
            rows.append(
                (
                    Button(self.texts.render(self.language, "flow_yes"), self._data("y", 1)),
                    Button(self.texts.render(self.language, "flow_no"), self._data("y", 0)),
                )
            )
        elif step.kind is Kind.DATE:
            rows += self._calendar(month)
        if step.default_from:
            suggestions = await self._provided(step.default_from)
            if suggestions:
                button = self._pick(suggestions[0])
                rows.append((Button(f"✔ {button.label}", button.data),))
        rows.append(self._nav(step))
        return Screen(text, tuple(rows))

    def _choice_rows(self, options: list[Option]) -> list[tuple[Button, ...]]:
        pages = max(1, -(-len(options) // PAGE_SIZE))
        page = min(self.state.page, pages - 1)
        start = page * PAGE_SIZE
        shown = options[start : start + PAGE_SIZE]
        rows = [
            tuple(self._pick(option) for option in shown[i : i + 2])
            for i in range(0, len(shown), 2)
        ]
        if pages > 1:
            paging = []
            if page > 0:
                paging.append(Button("‹", self._data("p", page - 1)))
            paging.append(Button(f"{page + 1}/{pages}", self._data("n")))
            if page < pages - 1:
                paging.append(Button("›", self._data("p", page + 1)))
            rows.append(tuple(paging))
        return rows

    def _calendar(self, month: str) -> list[tuple[Button, ...]]:
        today = self.now.date()
        shown = _month(month) or today.replace(day=1)
        previous = (shown - timedelta(days=1)).replace(day=1)
        following = (shown + timedelta(days=32)).replace(day=1)
        rows: list[tuple[Button, ...]] = [
            (
                Button("‹", self._data("m", previous.strftime("%Y%m"))),
                Button(shown.strftime("%Y-%m"), self._data("n")),
                Button("›", self._data("m", following.strftime("%Y%m"))),
            )
        ]
        for week in calendar.Calendar().monthdatescalendar(shown.year, shown.month):
            rows.append(
                tuple(
                    Button(str(day.day), self._data("d", day.strftime("%Y%m%d")))
                    if day.month == shown.month
                    else Button(" ", self._data("n"))
                    for day in week
                )
            )
        return rows

    async def _labels(self) -> dict[str, str]:
        """The label of every answer picked from a list, provided ones included."""
        shown = labels(self.conversation, self.state.answers, self.language)
        for step in self.conversation.steps:
            if step.options_from and step.id in self.state.answers:
                for option in await self._provided(step.options_from):
                    if option.value == self.state.answers[step.id]:
                        shown[step.id] = option.label.get(self.language, option.value)
        return shown

    async def _summary(self) -> Screen:
        text = self.texts.render(
            self.language,
            self.conversation.summary,
            answers=self.state.answers,
            labels=await self._labels(),
            actor=self.actor,
        )
        submit = Button(self.texts.render(self.language, "flow_submit"), self._data("s"))
        return Screen(text, ((submit,), self._nav(None)))


def labels(
    conversation: Conversation, answers: Mapping[str, Any], language: Language
) -> dict[str, str]:
    """The label, in ``language``, of each answer given by a listed option."""
    shown: dict[str, str] = {}
    for step in conversation.steps:
        for option in step.options:
            if answers.get(step.id) == option.value:
                shown[step.id] = option.label.get(language, option.value)
    return shown


_INVALID = object()
# A pressed item that is no longer offered.
_GONE = object()
# The ops of an item's button: it carries the value itself, or the value's digest.
_VALUE, _DIGEST = "o", "h"
_YES_NO = {
    "yes": True,
    "y": True,
    "是": True,
    "是的": True,
    "好": True,
    "对": True,
    "no": False,
    "n": False,
    "否": False,
    "不": False,
    "不是": False,
}


def _parse(data: str) -> tuple[int, int, str, str] | None:
    # The argument is last and may itself hold the separator (a slot's "08:00").
    parts = data.split(":", 4)
    if len(parts) != 5 or parts[0] != PREFIX:
        return None
    _, state_id, version, op, arg = parts
    state, step = number(state_id), number(version)
    if state is None or step is None or len(op) != 1:
        return None
    return state, step, op, arg


def _date(text: str) -> date | None:
    cleaned = text.strip().replace("/", "-").replace(".", "-")
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(cleaned, form).date()
        except ValueError:
            continue
    return None


def _month(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m").date()
    except ValueError:
        return None
