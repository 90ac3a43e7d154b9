"""Runs the guided conversations of ``conversations/*.yaml``.

Every step a person takes is a committed change of their ``conversation_states`` row, made in the
update's own transaction: nothing lives in memory, so a restart, a crash or a second bot process
resumes them where they were, and an expiry time survives too. The engine speaks in screens
(text + buttons) and never imports Telegram; the bot layer turns screens into messages.

Only the latest question of a conversation carries buttons: each screen with buttons is named
(``Screen.ref``), and once the conversation moves on, the earlier one is settled (``Settled``):
its buttons go and, when it was answered, the answer is shown in it ("类别：设施报修"). A list
redrawn for the same question keeps every item where it stood (``conversation_states.layout``);
an item no longer offered stays in its place, struck through, and no other item ever takes it.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import rule_engine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import digest, fits, number
from assistant.domain import Actor, Language
from assistant.flows.dates import parse_day
from assistant.flows.spec import Catalogue, Conversation, Kind, Option, Step
from assistant.storage.models import ConversationState, ConversationStatus
from assistant.texts import Texts
from assistant.wellformed import well_formed

log = logging.getLogger(__name__)

CONFIRM = "_confirm"
PAGE_SIZE = 8
MAX_TEXT = 2000
PREFIX = "cv"
# How much of a typed answer its question shows once answered; the person's message has it all.
SHOWN_ANSWER = 60
# A typed date's example is a day at least this far ahead, so it never reads as "today".
EXAMPLE_AHEAD = 2


@dataclass(frozen=True)
class Button:
    """An inline button: its label and its callback data."""

    label: str
    data: str


@dataclass(frozen=True)
class Screen:
    """A message: text (HTML) and rows of buttons; ``ref`` names a question's message, which
    is settled (``Settled``) once the conversation moves on."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ref: str | None = None


@dataclass(frozen=True)
class Settled:
    """An earlier message of a conversation as it reads from now on: ``text``, no buttons."""

    ref: str
    text: str


@dataclass
class Outcome:
    """What to show: new messages, a replacement for the pressed message, a toast, and the
    earlier messages that lose their buttons."""

    send: list[Screen] = field(default_factory=list)
    edit: Screen | None = None
    toast: str | None = None
    alert: bool = False
    settle: list[Settled] = field(default_factory=list)


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
# Runs before a conversation's first question; raises Refused, as its submit would, to refuse.
StartCheck = Callable[[FlowContext], Awaitable[None]]
# The facts a conversation's templates state (a room's capacity), from the answers so far.
Facts = Callable[[FlowContext], Awaitable[Mapping[str, Any]]]


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
    """The named providers, checks, actions, start checks and facts conversation files may use."""

    providers: Mapping[str, Provider]
    checks: Mapping[str, NamedCheck]
    actions: Mapping[str, Action]
    start_checks: Mapping[str, StartCheck] = field(default_factory=dict)
    facts: Mapping[str, Facts] = field(default_factory=dict)

    def catalogue(self) -> Catalogue:
        """Just the names, for checking conversation files."""
        return Catalogue(
            frozenset(self.providers),
            frozenset(self.checks),
            frozenset(self.actions),
            frozenset(self.start_checks),
            frozenset(self.facts),
        )


def settle_all(state: ConversationState) -> list[Settled]:
    """Every message of ``state`` that still carries buttons, as it reads without them; the
    state then holds none (a conversation that ends, expires or is set aside)."""
    settled = [Settled(entry["ref"], entry["text"]) for entry in state.shown]
    state.shown = []
    return settled


class Engine:
    """Starts conversations and moves them on with each answer, press, /back or /cancel."""

    def __init__(
        self,
        conversations: Mapping[str, Conversation],
        registry: Registry,
        texts: Texts,
        campus: tzinfo,
    ) -> None:
        self.conversations = dict(conversations)
        self._commands = {c.command: c for c in conversations.values()}
        self._registry = registry
        self._texts = texts
        # Dates people type or press are campus dates: "today" starts at the campus's midnight.
        self.campus = campus

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
        is for); no step asks them and Back never undoes them. Its start checks run first: a
        refusal says why and changes nothing, not even the conversation it would set aside.
        """
        context = FlowContext(
            session, actor, chat_id, dict(preset or {}), now, language, conversation
        )
        for name in conversation.start_checks:
            try:
                await self._registry.start_checks[name](context)
            except Refused as refusal:
                text = self._texts.render(language, refusal.template, **refusal.variables)
                return Outcome(send=[Screen(text)])
        outcome = Outcome()
        intro = self._texts.render(language, conversation.title)
        replaced = await self._active(session, actor.person_id, chat_id)
        if replaced is not None:
            replaced.status = ConversationStatus.CANCELLED
            replaced.updated_at = now
            outcome.settle += settle_all(replaced)
            given_up = self.conversations.get(replaced.conversation)
            if given_up is not None:
                title = self._texts.render(language, given_up.title)
                intro = self._texts.render(language, "flow_replaced", title=title) + "\n\n" + intro
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
        # The title and the first question are one message: one a second is all a chat gets.
        return await run.advance(outcome, intro=intro)

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

    async def document(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        file_id: str,
        name: str | None,
        *,
        now: datetime,
        language: Language,
    ) -> Outcome | None:
        """A document (a file) sent as an answer; None when no conversation is running here."""
        return await self._with_run(
            session, actor, chat_id, now, language, lambda r: r.documented(file_id, name)
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
            settle=settle_all(state),
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
        # The step just answered and how its question shows the answer, once settled.
        self._answered: tuple[str, str] | None = None
        # What each day of a date step would be told, judged once per update.
        self._days: dict[date, _Problem | None] = {}

    # Moving ----------------------------------------------------------------------------------

    def _touch(self) -> None:
        state = self.state
        state.version += 1
        state.updated_at = self.now
        state.expires_at = self.now + timedelta(minutes=self.conversation.timeout_minutes)

    async def advance(self, outcome: Outcome, *, intro: str | None = None) -> Outcome:
        """Go to the next step that is not skipped, or to the summary, and ask it; ``intro``
        (the title) opens the same message."""
        answered = set(self.state.history)
        for step in self.conversation.steps:
            # A preset answer (the meeting a button is about) is never asked.
            if step.id in answered or step.id in self.state.answers:
                continue
            if step.skip_if is not None and self._matches(step.skip_if, None):
                continue
            self._goto(step.id)
            self._present(outcome, await self._ask(step, intro=intro), step.id)
            return outcome
        self._goto(CONFIRM)
        self._present(outcome, await self._summary(intro=intro), CONFIRM)
        return outcome

    def _goto(self, step_id: str) -> None:
        self.state.step = step_id
        self.state.page = 0
        # A new question lays its list out afresh.
        self.state.layout = []
        self._touch()

    def _present(self, outcome: Outcome, screen: Screen, step_id: str) -> None:
        """Send ``screen`` as the conversation's one message with live buttons: every earlier
        one is settled, the question just answered showing its answer."""
        outcome.settle += self._settle()
        ref = f"{PREFIX}:{self.state.id}:{self.state.version}"
        self.state.shown = [{"ref": ref, "text": screen.text, "step": step_id}]
        outcome.send.append(replace(screen, ref=ref))

    def _settle(self) -> list[Settled]:
        answered = self._answered
        settled = []
        for entry in self.state.shown:
            text = entry["text"]
            if answered is not None and entry["step"] == answered[0]:
                text += "\n\n" + answered[1]
            settled.append(Settled(entry["ref"], text))
        self.state.shown = []
        return settled

    def _end(self, outcome: Outcome, template: str, **variables: Any) -> Outcome:
        outcome.settle += self._settle()
        outcome.send.append(Screen(self.texts.render(self.language, template, **variables)))
        return outcome

    async def _accept(
        self, step: Step, value: Any, outcome: Outcome, label: str | None = None
    ) -> Outcome:
        problem = await self._problem(step, value)
        if problem is not None:
            # A new version first: the re-prompt's own buttons must be the live ones.
            self._touch()
            month = _day(value) if step.kind is Kind.DATE else None
            screen = await self._ask(step, problem=problem, month=month)
            self._present(outcome, screen, step.id)
            return outcome
        self._answered = (step.id, self._answer_line(step, value, label))
        self.state.answers = {**self.state.answers, step.id: value}
        self.state.history = [*self.state.history, step.id]
        self._days.clear()
        return await self.advance(outcome)

    async def went_back(self, outcome: Outcome | None = None) -> Outcome:
        """Undo the last answer and ask that question again."""
        outcome = outcome or Outcome()
        history = list(self.state.history)
        if not history:
            step = self._current()
            if step is not None:
                self._touch()
                self._present(outcome, await self._ask(step), step.id)
            return outcome
        last = history.pop()
        self.state.history = history
        # Files gathered for the question being left go too: it starts afresh when asked again.
        dropped = {last, self.state.step}
        self.state.answers = {k: v for k, v in self.state.answers.items() if k not in dropped}
        self._days.clear()
        self._goto(last)
        self._present(outcome, await self._ask(self.conversation.step(last)), last)
        return outcome

    async def cancel(self) -> Outcome:
        """/cancel: end the conversation without submitting."""
        return self.cancelled()

    def cancelled(self, outcome: Outcome | None = None) -> Outcome:
        """End the conversation without submitting."""
        outcome = outcome or Outcome()
        self.state.status = ConversationStatus.CANCELLED
        self._touch()
        return self._end(outcome, "flow_cancelled")

    async def submit(self, outcome: Outcome) -> Outcome:
        """Run the conversation's action; the conversation ends either way it decides."""
        action = self.registry.actions[self.conversation.submit]
        try:
            result = await action(self._context())
        except Refused as refusal:
            self.state.status = ConversationStatus.CANCELLED
            self._touch()
            return self._end(outcome, refusal.template, **refusal.variables)
        self.state.status = ConversationStatus.DONE
        self._touch()
        return self._end(outcome, result.template, **result.variables)

    # Input -----------------------------------------------------------------------------------

    def _current(self) -> Step | None:
        if self.state.step == CONFIRM:
            return None
        return self.conversation.steps_by_id.get(self.state.step)

    def _today(self) -> date:
        return self.now.astimezone(self.engine.campus).date()

    async def _summary_again(self, outcome: Outcome) -> Outcome:
        self._touch()
        self._present(outcome, await self._summary(), CONFIRM)
        return outcome

    async def typed(self, text: str) -> Outcome:
        """A message typed while the conversation waits for an answer."""
        step = self._current()
        outcome = Outcome()
        if step is None:
            return await self._summary_again(outcome)
        value, label, problem = await self._parse_typed(step, text)
        if problem is not None:
            self._touch()
            self._present(outcome, await self._ask(step, problem=_Problem(problem)), step.id)
            return outcome
        return await self._accept(step, value, outcome, label)

    async def photographed(self, file_id: str) -> Outcome:
        """A photo sent while the conversation waits."""
        step = self._current()
        if step is not None and step.kind is Kind.FILES:
            return await self._gather(step, {"kind": "photo", "file_id": file_id, "name": None})
        if step is None or step.kind is not Kind.PHOTO:
            return await self.typed("")
        return await self._accept(step, file_id, Outcome())

    async def documented(self, file_id: str, name: str | None) -> Outcome:
        """A document sent while the conversation waits: only a files step takes one."""
        step = self._current()
        if step is None or step.kind is not Kind.FILES:
            return await self.typed("")
        return await self._gather(step, {"kind": "document", "file_id": file_id, "name": name})

    def _gathered(self, step: Step) -> list[dict[str, Any]]:
        """The files a files step has been sent so far (kept in the answers, not yet given)."""
        return list(self.state.answers.get(step.id) or [])

    async def _gather(self, step: Step, file: dict[str, Any]) -> Outcome:
        """One more file for a files step: kept at once (a restart loses none); the step is
        answered when it reaches its most, else asked again with the count and Done."""
        files = [*self._gathered(step), file]
        if step.maximum is not None and len(files) >= step.maximum:
            return await self._accept(step, files, Outcome())
        self.state.answers = {**self.state.answers, step.id: files}
        self._touch()
        outcome = Outcome()
        self._present(outcome, await self._ask(step), step.id)
        return outcome

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
            return await self._summary_again(outcome)
        if op == "p" and (page := number(arg, 999)) is not None:
            self.state.page = page
            self._touch()
            outcome.edit = await self._redraw(step)
            return outcome
        if op == "g" and step.kind in (Kind.CHOICE, Kind.SLOT):
            # A struck-through item: it stays where it was, and pressing it only says why.
            outcome.toast = self.texts.render(self.language, "flow_no_longer_available")
            return outcome
        if step.kind is Kind.DATE and op in ("m", "u", "d"):
            return await self._pressed_day(step, op, arg, outcome)
        if op == _DONE and step.kind is Kind.FILES and self._gathered(step):
            return await self._accept(step, self._gathered(step), outcome)
        value = await self._pressed_value(step, op, arg)
        if value is _GONE:
            # Taken or withdrawn since it was shown: said in place, the list as it is now, every
            # other item where it was.
            self._touch()
            problem = _Problem("flow_no_longer_available")
            outcome.edit = await self._redraw(step, problem=problem)
            outcome.toast = self.texts.render(self.language, problem.template)
            return outcome
        if not isinstance(value, _Picked):
            return self._expired(outcome)
        return await self._accept(step, value.value, outcome, value.label)

    def _expired(self, outcome: Outcome) -> Outcome:
        outcome.toast = self.texts.render(self.language, "button_expired")
        outcome.alert = True
        return outcome

    async def _pressed_day(self, step: Step, op: str, arg: str, outcome: Outcome) -> Outcome:
        """A month turned, a day pressed, or a day shown as not bookable pressed."""
        if op == "m":
            month = _month(arg)
            if month is None:
                return self._expired(outcome)
            self._touch()
            outcome.edit = await self._redraw(step, month=month)
            return outcome
        day = _digits_day(arg)
        if day is None:
            return self._expired(outcome)
        problem = await self._day_problem(step, day)
        if problem is None and op == "d":
            return await self._accept(step, day.isoformat(), outcome, None)
        if problem is not None:
            outcome.toast = await self._problem_text(step, problem)
        if (problem is None) == (op == "u"):
            # Shown as it no longer is (a day filled up, or freed): the calendar as it is now.
            self._touch()
            outcome.edit = await self._redraw(step, month=day)
        return outcome

    async def _pressed_value(self, step: Step, op: str, arg: str) -> object:
        if op in (_VALUE, _DIGEST) and (step.kind in (Kind.CHOICE, Kind.SLOT) or step.default_from):
            # The item the button showed, or nothing: never whatever now stands in its place.
            offered = await self._offered(step)
            found = {
                o.value: o for o in offered if (o.value if op == _VALUE else digest(o.value)) == arg
            }
            if len(found) != 1:
                return _GONE
            [option] = found.values()
            return _Picked(option.value, self._label_of(option))
        if op == "y" and step.kind is Kind.YES_NO and arg in ("0", "1"):
            return _Picked(arg == "1")
        if op == "k" and step.optional:
            return _Picked(None)
        return _INVALID

    async def _parse_typed(self, step: Step, text: str) -> tuple[Any, str | None, str | None]:
        """(value, its label, None), or (None, None, the re-prompt's template)."""
        text = well_formed(text).strip()
        kind = step.kind
        if kind in (Kind.CHOICE, Kind.SLOT):
            wanted = text.casefold()
            for option in await self._options(step):
                labels = {option.value.casefold(), *(v.casefold() for v in option.label.values())}
                if wanted in labels:
                    return option.value, self._label_of(option), None
            return None, None, "flow_pick_a_button"
        if kind is Kind.YES_NO:
            answer = _YES_NO.get(text.casefold())
            if answer is None:
                return None, None, "flow_pick_a_button"
            return answer, None, None
        if kind is Kind.PHOTO:
            return None, None, "flow_send_a_photo"
        if kind is Kind.FILES:
            return None, None, "flow_send_files"
        if kind is Kind.NUMBER:
            try:
                number = float(text.replace(",", ""))
            except ValueError:
                return None, None, "flow_need_number"
            if number != number or number in (float("inf"), float("-inf")):
                return None, None, "flow_need_number"
            return number, None, None
        if kind is Kind.DATE:
            parsed = parse_day(text, self._today())
            if parsed is None:
                return None, None, "flow_need_date"
            return parsed.isoformat(), None, None
        if not text:
            return None, None, "flow_need_text"
        if len(text) > MAX_TEXT:
            return None, None, "flow_too_long"
        return text, None, None

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
        if step.kind is Kind.FILES and step.minimum is not None and len(value) < step.minimum:
            return _Problem("flow_send_files")
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

    async def _day_problem(self, step: Step, day: date) -> _Problem | None:
        """What the date step would say of ``day``: the calendar shows as bookable exactly the
        days that would be taken, typed or pressed."""
        if day not in self._days:
            self._days[day] = await self._problem(step, day.isoformat())
        return self._days[day]

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

    async def _facts(self) -> Mapping[str, Any]:
        if self.conversation.facts_from is None:
            return {}
        return await self.registry.facts[self.conversation.facts_from](self._context())

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

    def _label_of(self, option: Option) -> str:
        return option.label.get(self.language, option.value)

    def _data(self, op: str, arg: str | int = "") -> str:
        return f"{PREFIX}:{self.state.id}:{self.state.version}:{op}:{arg}"

    def _pick(self, option: Option) -> Button:
        """The button of an item: it carries the item's value, or the value's digest where the
        value would not fit in callback data, so a press means that item and no other."""
        data = self._data(_VALUE, option.value)
        if not (option.value.isprintable() and fits(data)):
            data = self._data(_DIGEST, digest(option.value))
        return Button(self._label_of(option), data)

    def _nav(self, step: Step | None) -> tuple[Button, ...]:
        buttons = []
        if self.state.history:
            buttons.append(Button(self.texts.render(self.language, "flow_back"), self._data("b")))
        if step is not None and step.optional:
            buttons.append(Button(self.texts.render(self.language, "flow_skip"), self._data("k")))
        buttons.append(Button(self.texts.render(self.language, "flow_cancel"), self._data("x")))
        return tuple(buttons)

    async def _known(self, step: Step) -> dict[str, Any]:
        """What a question's and a re-prompt's templates state besides the answers: the
        conversation's facts, and for a date the example of a typed one."""
        example = await self._example(step) if step.kind is Kind.DATE else None
        return {"facts": await self._facts(), "example": example}

    async def _problem_text(self, step: Step, problem: _Problem) -> str:
        return self.texts.render(
            self.language,
            problem.template,
            step=step,
            limit=problem.limit,
            **await self._known(step),
        )

    async def _ask(
        self,
        step: Step,
        *,
        problem: _Problem | None = None,
        month: date | None = None,
        intro: str | None = None,
    ) -> Screen:
        known = await self._known(step)
        choice = step.kind in (Kind.CHOICE, Kind.SLOT)
        options = await self._options(step) if choice else []
        # The question may depend on what is offered (an empty list is said in words).
        text = self.texts.render(
            self.language,
            step.ask,
            answers=self.state.answers,
            actor=self.actor,
            options=options,
            **known,
        )
        if problem is not None:
            shown = self.texts.render(
                self.language, problem.template, step=step, limit=problem.limit, **known
            )
            text = shown + "\n\n" + text
        files = self._gathered(step) if step.kind is Kind.FILES else []
        if files:
            received = self.texts.render(
                self.language, "flow_files_received", count=len(files), step=step
            )
            text = received + "\n\n" + text
        if intro is not None:
            text = intro + "\n\n" + text
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
            rows += await self._calendar(step, month)
        elif files and (step.minimum is None or len(files) >= step.minimum):
            done = self.texts.render(self.language, "flow_files_done", count=len(files))
            rows.append((Button(done, self._data(_DONE)),))
        if step.default_from:
            suggestions = await self._provided(step.default_from)
            if suggestions:
                button = self._pick(suggestions[0])
                rows.append((Button(f"✔ {button.label}", button.data),))
        rows.append(self._nav(step))
        return Screen(text, tuple(rows))

    async def _redraw(
        self, step: Step, *, problem: _Problem | None = None, month: date | None = None
    ) -> Screen:
        """The live question again, in place: its message keeps its words (the title, where it
        opened the conversation), with ``problem`` above them, and gets today's buttons."""
        screen = await self._ask(step, month=month)
        text = self.state.shown[-1]["text"] if self.state.shown else screen.text
        if problem is not None:
            text = await self._problem_text(step, problem) + "\n\n" + text
        return Screen(text, screen.buttons)

    def _choice_rows(self, options: list[Option]) -> list[tuple[Button, ...]]:
        """The list, page by page, every item where it stood when the question was first
        asked; one no longer offered stays there struck through, and newcomers go at the end."""
        live: dict[str, Option] = {}
        for option in options:
            live.setdefault(digest(option.value), option)
        layout = [[key, label] for key, label in self.state.layout]
        placed = {key for key, _ in layout}
        layout += [[key, ""] for key in live if key not in placed]
        for entry in layout:
            if entry[0] in live:
                entry[1] = well_formed(self._label_of(live[entry[0]]))
        if layout != self.state.layout:
            self.state.layout = layout
        pages = max(1, -(-len(layout) // PAGE_SIZE))
        page = min(self.state.page, pages - 1)
        start = page * PAGE_SIZE
        shown = [
            self._pick(live[key]) if key in live else Button(_struck(label), self._data("g"))
            for key, label in layout[start : start + PAGE_SIZE]
        ]
        rows = [tuple(shown[i : i + 2]) for i in range(0, len(shown), 2)]
        if pages > 1:
            paging = []
            if page > 0:
                paging.append(Button("‹", self._data("p", page - 1)))
            paging.append(Button(f"{page + 1}/{pages}", self._data("n")))
            if page < pages - 1:
                paging.append(Button("›", self._data("p", page + 1)))
            rows.append(tuple(paging))
        return rows

    async def _calendar(self, step: Step, month: date | None) -> list[tuple[Button, ...]]:
        """A month: its name, the weekdays, then every day, today marked; a day the step would
        refuse is struck through and pressing it only says why. Never a month gone by, and
        forward only while a later day can still be had: another month asked for (a typed day's,
        a forged page) that has none is this month."""
        today = self._today()
        current = today.replace(day=1)
        shown = max(current, (month or today).replace(day=1))
        if shown != current and not await self._any_day(step, shown):
            shown = current
        following = (shown + timedelta(days=32)).replace(day=1)
        header = []
        if shown > current:
            previous = (shown - timedelta(days=1)).replace(day=1)
            header.append(Button("‹", self._data("m", previous.strftime("%Y%m"))))
        name = self.texts.render(self.language, "flow_month", month=shown)
        header.append(Button(name, self._data("n")))
        if await self._any_day(step, following):
            header.append(Button("›", self._data("m", following.strftime("%Y%m"))))
        weekdays = self.texts.render(self.language, "flow_weekdays").split()
        rows: list[tuple[Button, ...]] = [
            tuple(header),
            tuple(Button(day, self._data("n")) for day in weekdays),
        ]
        for week in calendar.Calendar().monthdatescalendar(shown.year, shown.month):
            cells = []
            for day in week:
                if day.month != shown.month:
                    cells.append(Button("·", self._data("n")))
                    continue
                mark = "•" if day == today else ""
                arg = day.strftime("%Y%m%d")
                if await self._day_problem(step, day) is None:
                    cells.append(Button(f"{mark}{day.day}", self._data("d", arg)))
                else:
                    cells.append(Button(mark + _struck(str(day.day)), self._data("u", arg)))
            rows.append(tuple(cells))
        return rows

    async def _any_day(self, step: Step, month: date) -> bool:
        """Whether the step would take some day of ``month``."""
        day = month
        while day.month == month.month:
            if await self._day_problem(step, day) is None:
                return True
            day += timedelta(days=1)
        return False

    async def _example(self, step: Step) -> date:
        """A day to give as an example of a typed date: the first the step would take from
        EXAMPLE_AHEAD days on, the same in the question and in its re-prompt."""
        first = self._today() + timedelta(days=EXAMPLE_AHEAD)
        for ahead in range(31):
            day = first + timedelta(days=ahead)
            if await self._day_problem(step, day) is None:
                return day
        return first

    def _answer_line(self, step: Step, value: Any, label: str | None) -> str:
        """How the question shows its answer once answered ("类别：设施报修")."""
        render = self.texts.render
        if value is None:
            answer = render(self.language, "flow_skipped")
        elif label is not None:
            answer = label
        elif step.kind is Kind.YES_NO:
            answer = render(self.language, "flow_yes" if value else "flow_no")
        elif step.kind is Kind.PHOTO:
            answer = render(self.language, "flow_photo_received")
        elif step.kind is Kind.FILES:
            answer = render(self.language, "flow_files_count", count=len(value))
        elif step.kind is Kind.NUMBER:
            answer = f"{value:,.2f}".rstrip("0").rstrip(".")
        elif step.kind is Kind.DATE and (day := _day(value)) is not None:
            answer = self.texts.day(self.language, day)
        else:
            text = str(value)
            answer = text if len(text) <= SHOWN_ANSWER else text[: SHOWN_ANSWER - 1] + "…"
        called = step.label.get(self.language, step.id)
        return render(self.language, "flow_answered", label=called, answer=answer)

    async def _labels(self) -> dict[str, str]:
        """The label of every answer picked from a list, provided ones included."""
        shown = labels(self.conversation, self.state.answers, self.language)
        for step in self.conversation.steps:
            if step.options_from and step.id in self.state.answers:
                for option in await self._provided(step.options_from):
                    if option.value == self.state.answers[step.id]:
                        shown[step.id] = option.label.get(self.language, option.value)
        return shown

    async def _summary(self, *, intro: str | None = None) -> Screen:
        text = self.texts.render(
            self.language,
            self.conversation.summary,
            answers=self.state.answers,
            labels=await self._labels(),
            actor=self.actor,
            facts=await self._facts(),
        )
        if intro is not None:
            text = intro + "\n\n" + text
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


@dataclass(frozen=True)
class _Picked:
    """A pressed answer, and the label its button showed (None where there is none)."""

    value: Any
    label: str | None = None


_INVALID = object()
# A pressed item that is no longer offered.
_GONE = object()
# The ops of an item's button: it carries the value itself, or the value's digest.
_VALUE, _DIGEST = "o", "h"
# The op of a files step's Done: the files sent so far are the answer.
_DONE = "f"
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


def _digits_day(text: str) -> date | None:
    """A day as a calendar button carries it: YYYYMMDD."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _month(text: str) -> date | None:
    """The first day of a month as a calendar's paging carries it: YYYYMM."""
    day = _digits_day(text + "01")
    return day if len(text) == 6 else None


def _day(value: object) -> date | None:
    """A date step's answer, as stored (ISO)."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _struck(label: str) -> str:
    """``label`` struck through (a combining long stroke on each character): still legible,
    plainly not on offer."""
    return "".join(char + "\u0336" for char in label) or "—"
