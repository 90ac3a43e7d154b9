"""``assistant run``: the bot against Telegram or any Bot API server, until told to stop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TextIO

from telegram.error import InvalidToken

from assistant import directory
from assistant.app import Webhook, build_application, new_webhook_secret, running, settle
from assistant.bot.context import Deps
from assistant.config import REPO_ROOT, Settings
from assistant.rules import CAMPUS_TIMEZONE
from assistant.rules.roles import read_role_rules
from assistant.storage.db import Database
from assistant.storage.migrate import upgrade
from assistant.texts import Texts

DEMO_CAMPUS = REPO_ROOT / "storage" / "demo-campus.yaml"


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def webhook_from(settings: Settings) -> Webhook | None:
    """The webhook the settings ask for, or None for long polling."""
    if not settings.webhook_url:
        return None
    host, _, port = settings.webhook_listen.rpartition(":")
    return Webhook(
        url=settings.webhook_url,
        listen_host=host,
        listen_port=int(port),
        secret=settings.webhook_secret or new_webhook_secret(),
    )


class TokenRefused(Exception):
    """Telegram refused the bot's token (401): it was revoked or is wrong; nothing can work."""

    def __init__(self) -> None:
        # One line, and never the token: it is a secret, and this goes to the terminal and logs.
        super().__init__(
            "Telegram refused the bot token (401 Unauthorized): it was revoked or is wrong. "
            "Unsent messages wait in the outbox; set TELEGRAM_BOT_TOKEN to the token "
            "@BotFather gives now and start again"
        )


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def run_bot(settings: Settings, out: TextIO, *, ready: str = "") -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly: intake first, then work in hand.

    Raises TokenRefused, after the same clean stop, once Telegram refuses the token.
    """
    assert settings.telegram_bot_token, "run_bot needs a token"
    db = Database(settings.database_url)
    await upgrade(db)
    deps = Deps(
        settings=settings, db=db, texts=Texts(settings.conversations_dir, campus=settings.tz)
    )
    application = build_application(deps, token=settings.telegram_bot_token)
    refused = application.bot.token_refused
    webhook = webhook_from(settings)
    stop = _stop_on_signals()
    try:
        async with running(application, webhook):
            settle()
            how = f"webhook {webhook.url}" if webhook else "long polling"
            print(
                f"Community Assistant is running as @{application.bot.username} ({how})",
                file=out,
            )
            if ready:
                print(ready, file=out)
            out.flush()
            await _first(stop, refused)
    except InvalidToken:
        # Refused at start (getMe): PTB's message names the token, so it goes no further.
        pass
    finally:
        await db.dispose()
    if refused.is_set():
        raise TokenRefused


async def load_demo_campus(
    db: Database, campus: Path = DEMO_CAMPUS, rules_dir: Path = REPO_ROOT / "rules"
) -> None:
    """Migrate ``db`` and import the demo campus into it, its roles checked against who may
    hold them (``roles.yaml`` of ``rules_dir``)."""
    await upgrade(db)
    data = directory.load_org(campus, read_role_rules(rules_dir, CAMPUS_TIMEZONE))
    async with db.unit_of_work() as session:
        await directory.import_org(session, data)
