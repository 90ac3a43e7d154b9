"""``assistant run``: the bot against Telegram, or against the built-in sandbox."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from assistant import directory
from assistant.app import Webhook, build_application, new_webhook_secret, running
from assistant.bot.context import Deps, utc_now
from assistant.config import REPO_ROOT, Settings
from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.services import identity
from assistant.storage.db import Database
from assistant.storage.migrate import upgrade
from assistant.texts import Texts

DEMO_CAMPUS = REPO_ROOT / "storage" / "demo-campus.yaml"
SANDBOX_STUDENT = "2023010001"
"""A demo student with no role, whom the sandbox invites so there is someone to be."""


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


async def run_sandbox(settings: Settings, out: TextIO, *, host: str, port: int) -> None:
    """The bot on a local fake Telegram with the demo campus in a fresh SQLite database.

    The bot reaches the fake over HTTP exactly as it reaches Telegram: only the base URL differs.
    """
    database = Path.cwd() / "assistant-sandbox.sqlite3"
    for leftover in database.parent.glob(f"{database.name}*"):
        leftover.unlink()
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        await load_demo_campus(db)
        tg = FakeTelegram()
        server = FakeTelegramServer(tg)
        base = await server.start(host, port)
        student = tg.add_user("郑博嘉", language_code="zh-hans")
        async with db.unit_of_work() as session:
            _, token = await identity.invite_number(
                session, SANDBOX_STUDENT, now=utc_now(), ttl=timedelta(days=1)
            )
    finally:
        await db.dispose()
    print(f"Sandbox Telegram (Bot API) at {base}/bot<token>/<method>", file=out)
    print(f"Demo campus in {database}", file=out)
    guide = (
        f"Act as student {SANDBOX_STUDENT} (Telegram user {student.id}):\n"
        f"  curl -s {base}/sandbox/messages -H 'Content-Type: application/json' "
        f'-d \'{{"user_id": {student.id}, "text": "/start {token}"}}\'\n'
        f"  curl -s {base}/sandbox/chats/{student.id}/messages\n"
        "Press Ctrl+C to stop."
    )
    sandboxed = settings.model_copy(
        update={
            "database_url": db.url,
            "telegram_bot_token": tg.token,
            "telegram_api_base_url": server.api_url,
            "telegram_api_file_url": server.file_url,
        }
    )
    try:
        await run_bot(sandboxed, out, ready=guide)
    finally:
        await server.stop()


async def load_demo_campus(db: Database, campus: Path = DEMO_CAMPUS) -> None:
    """Migrate ``db`` and import the demo campus into it."""
    await upgrade(db)
    data = directory.load_org(campus)
    async with db.unit_of_work() as session:
        await directory.import_org(session, data)
