"""The typed context every handler gets: the acting person, their language, the update's session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackContext, ExtBot

from assistant.config import Language, Settings
from assistant.services.identity import Actor
from assistant.storage.db import Database
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

    Replies wait in ``after_commit`` until the transaction has committed, so a person is never
    told "done" about a change that was then rolled back.
    """

    session: AsyncSession
    failed: bool = False
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)


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
        """Answer in the update's chat with template ``name``, once the update has committed."""
        message = update.effective_message
        if message is None:
            return
        text = self.text(name, **variables)
        self.after_commit(lambda: message.reply_text(text, reply_markup=keyboard))

    def text(self, name: str, **variables: Any) -> str:
        """Template ``name`` rendered in the actor's language."""
        return self.deps.texts.render(self.language, name, **variables)

    def now(self) -> datetime:
        """The current time, from the injectable clock."""
        return self.deps.clock()
