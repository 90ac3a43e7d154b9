"""The typed context every handler gets: the acting person, their language, the update's session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Chat, InlineKeyboardMarkup, MaybeInaccessibleMessage, Update
from telegram.ext import Application, CallbackContext, ExtBot

from assistant.config import Settings
from assistant.domain import Actor, Language
from assistant.storage import outbox
from assistant.storage.db import Database
from assistant.storage.models import Priority
from assistant.texts import Texts


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


@dataclass
class Deps:
    """What handlers need from outside Telegram; built once in ``app.build_application``."""

    settings: Settings
    db: Database
    texts: Texts
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass
class UpdateScope:
    """The unit of work of the update being handled; a failed update's work is rolled back.

    Messages go into the outbox inside this transaction, so a person is never told "done" about
    a change that was rolled back, and no reply is lost to a crash after the commit.
    ``after_commit`` holds calls worth nothing later (answering a button press, menus).
    """

    session: AsyncSession
    error: BaseException | None = None
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def send(
        self,
        chat_id: int,
        text: str,
        *,
        now: datetime,
        keyboard: InlineKeyboardMarkup | None = None,
        reply_to: int | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> None:
        """Queue a text message (HTML) to ``chat_id`` in the outbox."""
        payload: dict[str, Any] = {
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if keyboard is not None:
            payload["reply_markup"] = keyboard.to_dict()
        if reply_to is not None:
            payload["reply_parameters"] = {
                "message_id": reply_to,
                "allow_sending_without_reply": True,
            }
        outbox.enqueue(self.session, chat_id, "sendMessage", payload, priority=priority, now=now)

    def strip_keyboard(self, chat_id: int, message_id: int, *, now: datetime) -> None:
        """Queue removing the buttons of one of the bot's messages (their step is over)."""
        outbox.enqueue(
            self.session,
            chat_id,
            "editMessageReplyMarkup",
            {"message_id": message_id},
            priority=Priority.INTERACTIVE,
            now=now,
        )

    def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        now: datetime,
        keyboard: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Queue an edit of one of the bot's messages; without ``keyboard`` its buttons go."""
        payload: dict[str, Any] = {
            "message_id": message_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if keyboard is not None:
            payload["reply_markup"] = keyboard.to_dict()
        outbox.enqueue(
            self.session,
            chat_id,
            "editMessageText",
            payload,
            priority=Priority.INTERACTIVE,
            now=now,
        )


current_scope: ContextVar[UpdateScope] = ContextVar("current_scope")


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with the actor resolved by the access gate (handler group -1)."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None
        self.language: Language = self.deps.settings.language

    @property
    def deps(self) -> Deps:
        """The application's dependencies."""
        deps: Deps = self.application.bot_data["deps"]
        return deps

    @property
    def session(self) -> AsyncSession:
        """The database session of this update's unit of work."""
        return current_scope.get().session

    def after_commit(self, action: Callable[[], Awaitable[object]]) -> None:
        """Run ``action`` once this update's changes are committed (never if they are not)."""
        current_scope.get().after_commit.append(action)

    def reply(
        self,
        update: Update,
        name: str,
        *,
        keyboard: InlineKeyboardMarkup | None = None,
        **variables: Any,
    ) -> None:
        """Answer in the update's chat with template ``name``, through the outbox."""
        message = update.effective_message
        if message is None:
            return
        # In groups the answer quotes the message it answers, as people expect there.
        quote = message.message_id if message.chat.type != Chat.PRIVATE else None
        current_scope.get().send(
            message.chat_id,
            self.text(name, **variables),
            now=self.now(),
            keyboard=keyboard,
            reply_to=quote,
        )

    def private_only(self, update: Update) -> bool:
        """Whether the update comes from a private chat; from anywhere else the person is told
        to write to the bot privately (what the command shows is not for a group to read)."""
        chat = update.effective_chat
        if chat is not None and chat.type == Chat.PRIVATE:
            return True
        self.reply(update, "flow_private_only")
        return False

    def edit(
        self,
        message: MaybeInaccessibleMessage | None,
        name: str,
        *,
        keyboard: InlineKeyboardMarkup | None = None,
        **variables: Any,
    ) -> None:
        """Replace the text (and buttons) of one of the bot's messages, through the outbox."""
        if message is None:
            return
        current_scope.get().edit(
            message.chat.id,
            message.message_id,
            self.text(name, **variables),
            now=self.now(),
            keyboard=keyboard,
        )

    def text(self, name: str, **variables: Any) -> str:
        """Template ``name`` rendered in the actor's language."""
        return self.deps.texts.render(self.language, name, **variables)

    def now(self) -> datetime:
        """The current time, from the injectable clock."""
        return self.deps.clock()
