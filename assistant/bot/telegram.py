"""The bot object: PTB's ExtBot plus raw calls for what is stored as JSON."""

from __future__ import annotations

from typing import Any

from telegram.ext import ExtBot

from assistant.storage.models import Priority


class AssistantBot(ExtBot[dict[str, Any]]):
    """ExtBot with :meth:`call_raw`, for the inbox (raw updates) and the outbox (stored calls).

    The inbox keeps updates as Telegram sent them, so that one PTB cannot parse is parked on its
    own instead of failing the whole getUpdates batch; the outbox keeps calls as Bot API JSON.
    """

    async def call_raw(
        self,
        method: str,
        params: dict[str, Any],
        *,
        priority: Priority | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """Call ``method`` with Bot API JSON ``params``; return the raw JSON result."""
        limits = {"priority": int(priority)} if priority is not None else None
        return await self._post(
            method,
            api_kwargs=self._merge_api_rl_kwargs(dict(params), limits),
            read_timeout=read_timeout,
        )
