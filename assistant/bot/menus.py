"""Command menus per audience through ``set_my_commands`` scopes.

Strangers see how to start, linked people see their commands in their language, and group
administrators (floor leaders and counsellors) also see /bind. Telegram being unreachable for a
moment must never stop the bot, so every failure here is logged and swallowed.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from assistant.domain import Language
from assistant.texts import Texts

log = logging.getLogger(__name__)

STRANGER = ("start", "help")
MEMBER = (
    "report",
    "book",
    "bookings",
    "nominate",
    "mine",
    "me",
    "leaders",
    "lang",
    "cancel",
    "help",
)
# People who hold a role also decide or handle things; as /help says, the rules decide which of
# these a role may use, and a refusal names the rule's reason.
ROLE_COMMANDS = ("pending", "apply", "broadcast", "stars")
HOLDER = (*MEMBER[:5], *ROLE_COMMANDS, *MEMBER[5:])
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


async def publish_personal(
    bot: Bot, texts: Texts, user_id: int, language: Language, *, holds_roles: bool
) -> bool:
    """The menu of one linked person in their private chat (with /pending if they hold a role)."""
    names = HOLDER if holds_roles else MEMBER
    return await _publish(bot, BotCommandScopeChat(user_id), commands(texts, language, names), None)
