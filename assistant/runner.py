"""``assistant run``: the bot against Telegram or any Bot API server, until told to stop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TextIO

from assistant import directory
from assistant.app import Webhook, build_application, new_webhook_secret, running, settle
from assistant.bot.context import Deps
from assistant.config import REPO_ROOT, Settings
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


async def run_bot(settings: Settings, out: TextIO, *, ready: str = "") -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly: intake first, then work in hand."""
    assert settings.telegram_bot_token, "run_bot needs a token"
    db = Database(settings.database_url)
    await upgrade(db)
    deps = Deps(settings=settings, db=db, texts=Texts(settings.conversations_dir))
    application = build_application(deps, token=settings.telegram_bot_token)
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
            await stop.wait()
    finally:
        await db.dispose()


async def load_demo_campus(db: Database, campus: Path = DEMO_CAMPUS) -> None:
    """Migrate ``db`` and import the demo campus into it."""
    await upgrade(db)
    data = directory.load_org(campus)
    async with db.unit_of_work() as session:
        await directory.import_org(session, data)
