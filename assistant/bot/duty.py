"""(being written)"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler

from assistant.bot.context import BotContext

HANDLERS: list[BaseHandler[Update, BotContext, None]] = []
