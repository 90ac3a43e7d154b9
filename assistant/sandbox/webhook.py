"""Delivers pending updates to the bot's webhook, as Telegram does once one is set.

One update per POST, in order, ``application/json``, with ``X-Telegram-Bot-Api-Secret-Token``
when the webhook has a secret. A 2xx answer confirms the update; anything else (or no answer
within ``request_timeout``) is recorded in getWebhookInfo's last error and retried after a
backoff that starts at ``initial_backoff`` and doubles up to ``max_backoff``. Telegram backs off
for up to a minute or more; the sandbox keeps the wait short (0.05 s to 1 s by default) so tests
of retries stay fast. Nothing is sent while no webhook is set, so getUpdates and webhooks never
both receive an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from assistant.sandbox.entities import JSONDict
from assistant.sandbox.model import FakeTelegram
from assistant.sandbox.state import Webhook

_LOGGER = logging.getLogger(__name__)


class WebhookSender:
    """A background task that POSTs ``tg``'s pending updates to its webhook."""

    def __init__(
        self,
        tg: FakeTelegram,
        *,
        initial_backoff: float = 0.05,
        max_backoff: float = 1.0,
        request_timeout: float = 10.0,
    ) -> None:
        self._tg = tg
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._request_timeout = request_timeout
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts delivering in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def stop(self) -> None:
        """Stops delivering; an update being sent stays pending."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        state = self._tg.state
        backoff = self._initial_backoff
        timeout = aiohttp.ClientTimeout(total=self._request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                webhook, update = await state.wait_for(self._next_delivery)
                error = await self._post(session, webhook, update)
                if error is None:
                    state.confirm_delivery(update)
                    backoff = self._initial_backoff
                    continue
                webhook.last_error_date = state.now()
                webhook.last_error_message = error
                _LOGGER.info("webhook delivery failed: %s", error)
                await self._pause(webhook, backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _pause(self, webhook: Webhook, seconds: float) -> None:
        """Waits before a retry; a changed or removed webhook ends the wait early."""
        state = self._tg.state
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await state.wait_for(lambda: True if state.webhook is not webhook else None)

    def _next_delivery(self) -> tuple[Webhook, JSONDict] | None:
        state = self._tg.state
        if state.webhook is None or not (state.redeliveries or state.updates):
            return None
        return state.webhook, (state.redeliveries or state.updates)[0]

    @staticmethod
    async def _post(
        session: aiohttp.ClientSession, webhook: Webhook, update: JSONDict
    ) -> str | None:
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with session.post(webhook.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Timeout expired"
        except aiohttp.ClientError as error:
            return f"Connection failed: {error}"
