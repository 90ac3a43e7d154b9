"""What a person may do, as their command menu and /help list it, from the access rules.

A command is offered to whoever the access rules let do what it does: a conversation's command
asks the conversation's ``access`` (conversations/*.yaml), /bookings what /book asks, /stars
``star.select``, /meetings ``meeting.read``, /onduty ``duty.see``, /duty whether a room's duty
pool (rules/duty.yaml) has the person, /activities whether they own a fixed activity
(rules/activities.yaml) or may read the plan (``activity.plan``), /talks whether they may
book, give, arrange or count talks, and /pending whether anything can wait for the person at
all (a request kind they approve, projects they score, a role reports are routed or climb
to). Rules that read the day (the call for projects, the nomination days) say when, not
who, and are passed over (``Rules.allowed(..., any_day=True)``): the command stays while the
window is shut, and its refusal says when it opens.

A person's menu is a Bot API call in the outbox (``setMyCommands`` for their private chat),
queued in the transaction of what changed it: linking, /lang, an import that changed their
roles, status or home.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor, Language, RequestKind
from assistant.rules import Rules
from assistant.services import activity_plan, grid, identity, onduty, people
from assistant.storage import outbox
from assistant.storage.models import Person, Priority, TelegramAccount
from assistant.texts import Texts, pick_language

ORDER = (
    "report",
    "service",
    "book",
    "bookings",
    "nominate",
    "mine",
    "pending",
    "apply",
    "results",
    "broadcast",
    "activity",
    "myactivities",
    "activities",
    "stars",
    "meeting",
    "minutes",
    "meetings",
    "duty",
    "onduty",
    "talk",
    "talks",
    "offertalk",
    "invitetalk",
    "me",
    "leaders",
    "lang",
    "cancel",
    "help",
)
"""Every command of a linked person's private menu, in the order it lists them."""

PENDING = "pending"
DUTY = "duty"
PLAN = "activities"
# What the commands that are no conversation of their own ask the rules.
_ASKS = {
    "bookings": "booking.create",
    "stars": "star.select",
    "meetings": "meeting.read",
    "bind": "group.bind",
    "onduty": "duty.see",
}
# Commands for whoever may do any of these: /talks lists the talks one booked, gives or counts.
_ANY_OF = {"talks": ("talk.book", "talk.offer", "talk.invite", "talk.report")}


class Menus:
    """Works out each person's commands and queues their menu."""

    def __init__(self, rules: Rules, texts: Texts, asks: Mapping[str, str | None]) -> None:
        """``asks`` maps a conversation's command to the action its ``access`` names."""
        self.rules = rules
        self.texts = texts
        self._asks: dict[str, str | None] = {**asks, **_ASKS}

    def may(self, actor: Actor, command: str) -> bool:
        """Whether ``actor`` may use ``command`` on some day."""
        if command == PENDING:
            return self._may_wait_for(actor)
        if command == DUTY:
            # Whoever takes turns in a room's duty: the rooms' pools say who.
            return onduty.in_a_pool(self.rules, actor)
        if command == PLAN:
            # The owners of the fixed activities (rules/activities.yaml), and activity.plan.
            return activity_plan.may_read(self.rules, actor)
        subject = people.rule_subject(actor)
        if command in _ANY_OF:
            return any(
                self.rules.allowed(action, subject, any_day=True).outcome.allowed
                for action in _ANY_OF[command]
            )
        action = self._asks.get(command)
        if action is None:
            return True
        return self.rules.allowed(action, subject, any_day=True).outcome.allowed

    def commands(self, actor: Actor) -> tuple[str, ...]:
        """The private-chat commands ``actor`` may use, in menu order."""
        return tuple(command for command in ORDER if self.may(actor, command))

    def _may_wait_for(self, actor: Actor) -> bool:
        """Whether anything can wait for ``actor`` to decide or handle (/pending)."""
        subject = people.rule_subject(actor)
        actions = [f"approval.{kind}" for kind in RequestKind] + ["project.score"]
        if any(self.rules.allowed(a, subject, any_day=True).outcome.allowed for a in actions):
            return True
        handling = grid.handling_roles(self.rules)
        return any(grant.role in handling for grant in actor.grants)

    def queue(
        self,
        session: AsyncSession,
        actor: Actor,
        chat_id: int,
        language: Language,
        *,
        now: datetime,
        priority: Priority = Priority.INTERACTIVE,
    ) -> None:
        """Queue ``actor``'s menu, in ``language``, for their private chat ``chat_id``."""
        entries = [
            {"command": name, "description": self.texts.render(language, f"command_{name}")}
            for name in self.commands(actor)
        ]
        outbox.enqueue(
            session,
            chat_id,
            "setMyCommands",
            {"commands": entries, "scope": {"type": "chat", "chat_id": chat_id}},
            priority=priority,
            now=now,
        )

    async def refresh(
        self,
        session: AsyncSession,
        person_ids: Collection[int],
        *,
        default: Language,
        now: datetime,
    ) -> int:
        """Queue the menus of the linked people among ``person_ids`` (their roles, status or
        home changed); someone who left the roster is given back the menu of strangers.
        Returns how many menus were queued."""
        if not person_ids:
            return 0
        rows = await session.execute(
            select(Person, TelegramAccount)
            .join(TelegramAccount, TelegramAccount.person_id == Person.id)
            .where(Person.id.in_(sorted(person_ids)))
            .order_by(Person.id)
        )
        queued = 0
        for person, account in rows.all():
            chat_id = account.telegram_user_id
            if not person.active:
                outbox.enqueue(
                    session,
                    chat_id,
                    "deleteMyCommands",
                    {"scope": {"type": "chat", "chat_id": chat_id}},
                    priority=Priority.BULK,
                    now=now,
                )
            else:
                actor = await identity.person_actor(session, person, account)
                language = pick_language(account.language, default)
                self.queue(session, actor, chat_id, language, now=now, priority=Priority.BULK)
            queued += 1
        return queued
