"""The menus for everyone, published at start through ``set_my_commands`` scopes.

Strangers see how to start, groups /leaders, and group administrators also /bind. A linked
person's own menu, in their language and with what the access rules let them do, is queued in
the outbox by :mod:`assistant.services.menus`. Telegram being unreachable for a moment must
never stop the bot, so every failure here is logged and swallowed.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from assistant.domain import Language
from assistant.texts import Texts

log = logging.getLogger(__name__)

STRANGER = ("start", "help")
GROUP = ("leaders", "help")
GROUP_ADMIN = ("leaders", "bind", "help")


def commands(texts: Texts, language: Language, names: tuple[str, ...]) -> list[BotCommand]:
    """The menu entries for ``names`` with descriptions in ``language``."""
    return [BotCommand(name, texts.render(language, f"command_{name}")) for name in names]


async def _publish(
    bot: Bot, scope: BotCommandScope, entries: list[BotCommand], language_code: str | None
) -> bool:
    try:
        await bot.set_my_commands(entries, scope=scope, language_code=language_code)
    except TelegramError as exc:
        log.warning("could not publish the %s command menu: %s", scope.type, exc)
        return False
    return True


async def publish_defaults(bot: Bot, texts: Texts, default: Language) -> bool:
    """The menus for everyone, in the default language and in each other language."""
    ok = True
    scopes: list[tuple[BotCommandScope, tuple[str, ...]]] = [
        (BotCommandScopeDefault(), STRANGER),
        (BotCommandScopeAllGroupChats(), GROUP),
        (BotCommandScopeAllChatAdministrators(), GROUP_ADMIN),
    ]
    for language in texts.languages():
        # Telegram picks a menu by the user's two-letter app language; ours is the fallback.
        code = None if language == default else language.split("-")[0]
        for scope, names in scopes:
            ok &= await _publish(bot, scope, commands(texts, language, names), code)
    return ok
