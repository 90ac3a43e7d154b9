"""How updates are run: one unit of work each, in order per chat, concurrently across chats."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from assistant.bot.context import UpdateScope, current_scope
from assistant.storage.db import Database

log = logging.getLogger(__name__)


class _RollBack(Exception):
    """Leaves the unit of work without committing."""


class TransactionalUpdateProcessor(BaseUpdateProcessor):
    """Runs each update inside one database transaction.

    Handlers reach the session through :data:`current_scope`. PTB hands handler exceptions to the
    error handlers instead of raising them here, so the error handler marks the scope failed and
    the transaction is rolled back rather than committing half an update.
    """

    def __init__(self, db: Database, max_concurrent_updates: int = 8) -> None:
        super().__init__(max_concurrent_updates)
        self._db = db
        self._chat_locks: dict[int, asyncio.Lock] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await ``coroutine`` inside a unit of work, after earlier updates of the same chat."""
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat else 0
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._run(coroutine)
        finally:
            if not lock.locked():
                self._chat_locks.pop(key, None)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        try:
            async with self._db.unit_of_work() as session:
                scope = UpdateScope(session)
                token = current_scope.set(scope)
                try:
                    await coroutine
                finally:
                    current_scope.reset(token)
                if scope.failed:
                    raise _RollBack
        except _RollBack:
            return
        for action in scope.after_commit:
            try:
                await action()
            except Exception:
                # The change is committed; one undeliverable reply must not hide the others.
                log.exception("a reply could not be sent after commit")

    async def initialize(self) -> None:
        """Nothing to allocate: sessions are opened per update."""

    async def shutdown(self) -> None:
        """Nothing to free."""
