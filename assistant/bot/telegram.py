"""The bot object: PTB's ExtBot plus raw calls for what is stored as JSON."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from telegram import InputFile
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import InvalidToken, RetryAfter
from telegram.ext import ExtBot

from assistant.bot.ratelimit import FloodLimiter
from assistant.storage.models import Priority
from assistant.storage.outbox import UPLOAD_KEYS


class AssistantBot(ExtBot[dict[str, Any]]):
    """ExtBot with :meth:`call_raw`, for the inbox (raw updates) and the outbox (stored calls).

    The inbox keeps updates as Telegram sent them, so that one PTB cannot parse is parked on its
    own instead of failing the whole getUpdates batch; the outbox keeps calls as Bot API JSON.
    Every call passes :meth:`_do_post`, which notices a refused token (:attr:`token_refused`)
    and holds getUpdates, which PTB sends past the rate limiter, to the limiter's halts.
    """

    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self._token_refused = asyncio.Event()

    @property
    def token_refused(self) -> asyncio.Event:
        """Set once Telegram refuses the token (401): it was revoked, and no call can succeed."""
        return self._token_refused

    async def call_raw(
        self,
        method: str,
        params: dict[str, Any],
        *,
        priority: Priority | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """Call ``method`` with Bot API JSON ``params``; return the raw JSON result. A file the
        outbox keeps (:func:`assistant.storage.outbox.upload`) is uploaded with the call."""
        limits = {"priority": int(priority)} if priority is not None else None
        sent = {key: _file(value) for key, value in params.items()}
        return await self._post(
            method,
            api_kwargs=self._merge_api_rl_kwargs(sent, limits),
            read_timeout=read_timeout,
        )

    async def _do_post(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        limiter = self.rate_limiter
        # PTB sends getUpdates past the rate limiter: it waits out a halt here instead.
        poll_limiter = (
            limiter if endpoint == "getUpdates" and isinstance(limiter, FloodLimiter) else None
        )
        if poll_limiter is not None:
            await poll_limiter.resumed()
        try:
            return await super()._do_post(
                endpoint,
                data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except RetryAfter as exc:
            if poll_limiter is not None:
                poll_limiter.refused(endpoint, exc)
            raise
        except InvalidToken:
            self._token_refused.set()
            raise


def _file(value: Any) -> Any:
    """A stored upload as the file PTB sends in a multipart request; anything else as it is."""
    if isinstance(value, dict) and set(value) == UPLOAD_KEYS:
        return InputFile(
            base64.b64decode(value["base64"]),
            filename=value["upload"],
            attach=False,
            read_file_handle=False,
        )
    return value
