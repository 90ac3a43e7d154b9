"""Builds the python-telegram-bot Application and runs it on our durable edge.

PTB provides the handlers, the Bot and the typed context; updates come in through our inbox
(:mod:`assistant.bot.intake`) instead of PTB's updater, and messages go out through our outbox
(:mod:`assistant.bot.sender`) under our flood limiter.
"""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from assistant.bot import activities, handlers, menus
from assistant.bot.context import BotContext, Deps, UpdateScope
from assistant.bot.intake import ALL_UPDATE_TYPES, Dispatcher, Parked, Poller, WebhookIntake
from assistant.bot.ratelimit import FloodLimiter, FloodPolicy
from assistant.bot.sender import OutboxSender
from assistant.bot.telegram import AssistantBot
from assistant.bot.transport import AiohttpRequest
from assistant.config import Settings
from assistant.flows.check import check_conversations
from assistant.flows.engine import Engine
from assistant.rules import Rules, RulesError, load_rules
from assistant.schedule import Handler, Job, Scheduler, Ticker
from assistant.services import catalog, identity, timed
from assistant.services.admins import admin_chats, firings_failed
from assistant.services.approvals import Approvals
from assistant.services.menus import Menus
from assistant.storage.models import Priority
from assistant.texts import Texts, pick_language

log = logging.getLogger(__name__)

AssistantApp = Application[AssistantBot, BotContext, Any, Any, Any, Any]


def build_application(
    deps: Deps,
    *,
    token: str,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    flood_policy: FloodPolicy | None = None,
) -> AssistantApp:
    """The bot, wired to the store in ``deps``.

    ``request``/``updates_request`` replace the HTTP transport (tests pass the in-process fake
    Telegram); without them the bot talks to ``TELEGRAM_API_BASE_URL``.
    """
    settings = deps.settings
    bot = AssistantBot(
        token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_api_file_url,
        # Many chats are sent to at once; getUpdates needs one long-lived connection.
        request=request or AiohttpRequest(connection_pool_size=64),
        get_updates_request=updates_request or AiohttpRequest(read_timeout=30),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=FloodLimiter(flood_policy),
    )
    application: AssistantApp = (
        ApplicationBuilder()
        .bot(bot)
        .updater(None)
        .context_types(ContextTypes(context=BotContext))
        # Timers are rows in the store, never PTB's in-memory job queue.
        .job_queue(None)
        .build()
    )
    application.bot_data["deps"] = deps
    files = load_files(deps.settings, deps.texts)
    for gap in files.rules.calendar.gaps():
        log.warning(gap)
    application.bot_data["engine"] = files.engine
    application.bot_data["rules"] = files.rules
    application.bot_data["approvals"] = files.approvals
    application.bot_data["jobs"] = files.jobs
    application.bot_data["firings"] = files.firings
    application.bot_data["menus"] = files.menus
    handlers.register(application, files.engine)
    return application


class StartupError(Exception):
    """Rule or conversation files the bot refuses to start with; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Files:
    """The loaded rule and conversation files, the approvals they drive, and the menus the
    access rules and the conversations' commands make."""

    rules: Rules
    engine: Engine
    approvals: Approvals
    jobs: Mapping[str, Job]
    firings: Mapping[str, Handler]
    menus: Menus


def load_files(settings: Settings, texts: Texts) -> Files:
    """Load and check the rule and conversation files; raise StartupError listing all problems."""
    try:
        rules = load_rules(settings.rules_dir, timezone=settings.tz)
    except RulesError as exc:
        raise StartupError([str(p) for p in exc.problems]) from None
    services = catalog.services(rules, texts, settings.language, settings.tz)
    registry = services.registry
    found, problems = check_conversations(settings.conversations_dir, registry.catalogue(), texts)
    lines = [str(p) for p in problems]
    lines += timed.missing_templates(
        [*rules.reminders.values(), *rules.broadcasts.values(), *rules.activities.values()], texts
    )
    if lines:
        raise StartupError(lines)
    asks = {c.command: c.access for c in found.values() if c.command}
    return Files(
        rules,
        Engine(found, registry, texts, settings.tz),
        services.approvals,
        services.jobs,
        services.firings,
        Menus(rules, texts, asks),
    )


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates, and where we listen for them."""

    url: str
    listen_host: str
    listen_port: int
    secret: str

    @property
    def path(self) -> str:
        """The URL path we serve."""
        return urlsplit(self.url).path or "/"


def new_webhook_secret() -> str:
    """A random secret of Telegram's allowed alphabet."""
    return secrets.token_urlsafe(32)


def settle() -> None:
    """Put what start-up built out of the garbage collector's sight; call once the bot runs.

    Rules, templates, conversations and the ORM's mappings live as long as the process; left
    in the collector's oldest generation, each full collection walks them all, a pause of a
    tenth of a second under load. Frozen, it walks only what was made since.
    """
    gc.collect()
    gc.freeze()


@dataclass
class Edge:
    """The running intake and delivery, for tests and benchmarks to observe."""

    application: AssistantApp
    dispatcher: Dispatcher
    sender: OutboxSender
    ticker: Ticker
    scheduler: Scheduler
    webhook_url: str | None = None


@asynccontextmanager
async def running(application: AssistantApp, webhook: Webhook | None = None) -> AsyncIterator[Edge]:
    """Run the bot for the block: intake, dispatcher and sender; stop them in that order."""
    deps: Deps = application.bot_data["deps"]
    bot = application.bot
    sender = OutboxSender(deps.db, bot, deps.clock)

    async def on_parked(scope: UpdateScope, parked: Parked) -> None:
        now = deps.clock()
        if parked.chat_id is not None:
            # In the language of the person whose update it was, as the bot's answer would be.
            chosen = await identity.language_of(scope.session, parked.user_id)
            language = pick_language(chosen, deps.settings.language)
            scope.send(parked.chat_id, deps.texts.render(language, "error"), now=now)
        summary = parked.error.strip().splitlines()[-1][:300]
        for admin, chosen in await admin_chats(scope.session):
            text = deps.texts.render(
                pick_language(chosen, deps.settings.language),
                "admin_update_parked",
                update_id=parked.update_id,
                attempts=parked.attempts,
                error=summary,
            )
            scope.send(admin, text, now=now, priority=Priority.BULK)

    dispatcher = Dispatcher(application, deps, sender, on_parked, lane=activities.lane)
    ticker = Ticker(deps.db, deps.clock, application.bot_data["jobs"], sender.kick)
    scheduler = Scheduler(
        deps.db,
        deps.clock,
        application.bot_data["firings"],
        sender.kick,
        report=firings_failed(deps.texts, deps.settings.language),
    )
    try:
        await application.initialize()
    except Exception:
        # PTB shuts down only an Application that finished initializing: a bot refused at
        # start (getMe: a wrong token, no network) would leave its connections open.
        await bot.shutdown()
        raise
    async with application:
        await menus.publish_defaults(bot, deps.texts, deps.settings.language)
        await application.start()
        sender.start()
        await dispatcher.start()
        ticker.start()
        scheduler.start()
        intake: Poller | WebhookIntake
        edge = Edge(application, dispatcher, sender, ticker, scheduler)
        if webhook is None:
            await bot.delete_webhook()
            intake = Poller(bot, deps.db, deps.clock, hand_over=dispatcher.take)
            intake.start()
        else:
            intake = WebhookIntake(
                deps.db,
                deps.clock,
                secret=webhook.secret,
                path=webhook.path,
                hand_over=dispatcher.take,
            )
            edge.webhook_url = await intake.start(webhook.listen_host, webhook.listen_port)
            await bot.set_webhook(
                webhook.url, secret_token=webhook.secret, allowed_updates=ALL_UPDATE_TYPES
            )
        try:
            yield edge
        finally:
            await intake.stop()
            await ticker.stop()
            await scheduler.stop()
            await dispatcher.stop()
            await sender.stop()
            await application.stop()
