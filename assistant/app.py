"""Builds the python-telegram-bot Application: handlers, error handler, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from assistant.bot import handlers, menus
from assistant.bot.context import BotContext, Deps
from assistant.bot.processing import TransactionalUpdateProcessor

AssistantApp = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(
    deps: Deps,
    *,
    token: str,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> AssistantApp:
    """The bot, wired to the store in ``deps``.

    ``request``/``updates_request`` replace the HTTP transport (the sandbox passes its in-process
    fake Telegram); without them the bot talks to ``TELEGRAM_API_BASE_URL``.
    """
    settings = deps.settings
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url)
        .context_types(ContextTypes(context=BotContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .concurrent_updates(TransactionalUpdateProcessor(deps.db))
        # Timers are rows in the store, never PTB's in-memory job queue.
        .job_queue(None)
    )
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    application: AssistantApp = builder.build()
    application.bot_data["deps"] = deps
    handlers.register(application)
    return application


@asynccontextmanager
async def running(application: AssistantApp, **polling: Any) -> AsyncIterator[AssistantApp]:
    """Start the bot with long polling for the block, then stop it cleanly."""
    deps: Deps = application.bot_data["deps"]
    async with application:
        await menus.publish_defaults(application.bot, deps.texts, deps.settings.language)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, **polling)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
