"""Command handlers: parse the update, call a service, answer with a template. No SQL here."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from assistant import callbacks
from assistant.bot import (
    activities,
    bookings,
    broadcasts,
    conversations,
    duty,
    meetings,
    onduty,
    projects,
    red_service,
    requests,
    stars,
    talks,
)
from assistant.bot.context import BotContext, current_scope
from assistant.domain import Language
from assistant.flows.engine import Engine
from assistant.rules import Rules
from assistant.services import grid, groups, identity, mine, people
from assistant.services.menus import Menus
from assistant.texts import pick_language

log = logging.getLogger(__name__)

# Strangers may only ask what the bot is and redeem an invite.
_OPEN_TO_STRANGERS = {"start", "help"}


def _command(message: Message | None) -> str | None:
    """The command a message starts with, without the slash and the @botname."""
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0][1:].split("@")[0].lower()


async def identify(update: Update, context: BotContext) -> None:
    """Handler group -1: resolve the person behind the update; strangers stop here."""
    user = update.effective_user
    if user is None or update.my_chat_member is not None or _upgrade(update) is not None:
        # Membership changes and upgrades are about the chat, not the person: let them through.
        return
    actor = await identity.actor_for(context.session, user.id)
    context.actor = actor
    if actor is not None and actor.unreachable:
        # Writing to the bot means they unblocked it.
        await identity.set_reachable(context.session, user.id, True, now=context.now())
    chosen = actor.language if actor else None
    context.language = pick_language(chosen or user.language_code, context.deps.settings.language)
    if actor is not None:
        return
    command = _command(update.effective_message)
    chat = update.effective_chat
    private = chat is not None and chat.type == Chat.PRIVATE
    if private and command in _OPEN_TO_STRANGERS:
        return
    if update.callback_query is not None:
        query, answer = update.callback_query, context.text("stranger_short")
        context.after_commit(lambda: query.answer(answer, show_alert=True))
    elif (private or command is not None) and update.effective_message is not None:
        # In groups only an explicit command gets an answer; chatter is not ours to reply to.
        context.reply(update, "stranger")
    raise ApplicationHandlerStop


async def start(update: Update, context: BotContext) -> None:
    """/start [token]: link an account with an invite token, or greet."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if not context.args:
        name = "stranger" if context.actor is None else "welcome"
        context.reply(update, name, actor=context.actor)
        return
    if context.actor is not None and activities.is_check_in_link(context.args[0]):
        await activities.check_in_link(update, context, context.args[0])
        return
    result = await identity.redeem_invite(
        context.session,
        context.args[0],
        telegram_user_id=user.id,
        language=context.language,
        now=context.now(),
    )
    actor = welcome = None
    if result.outcome is identity.LinkOutcome.LINKED:
        actor = await identity.actor_for(context.session, user.id)
        assert actor is not None
        # The menu first: by the time the person reads the answer, their commands are there.
        _menus(context).queue(context.session, actor, user.id, context.language, now=context.now())
        # A new resident's answer welcomes them to their floor (welcome.new_resident).
        today = context.now().astimezone(context.deps.settings.tz).date()
        rules: Rules = context.application.bot_data["rules"]
        welcome = await people.welcome(context.session, rules, actor, today)
    context.reply(update, f"link_{result.outcome}", person=result.person, welcome=welcome)
    if actor is not None:
        # What was routed to them before they could be reached comes now, after the greeting.
        await mine.deliver_held(
            context.session,
            actor,
            user.id,
            context.language,
            approvals=context.application.bot_data["approvals"],
            cards=grid.Cards(context.deps.texts, context.deps.settings.language),
            now=context.now(),
        )


def _menus(context: BotContext) -> Menus:
    menus: Menus = context.application.bot_data["menus"]
    return menus


async def help_command(update: Update, context: BotContext) -> None:
    """/help: what this person may do, as the access rules say (their menu lists the same)."""
    actor = context.actor
    if update.effective_message is None:
        return
    menus = _menus(context)
    commands = menus.commands(actor) if actor else ()
    may_bind = actor is not None and menus.may(actor, "bind")
    roles = sorted({g.role for g in actor.grants}) if actor else []
    context.reply(update, "help", actor=actor, commands=commands, may_bind=may_bind, roles=roles)


async def me(update: Update, context: BotContext) -> None:
    """/me: my dorm, my grid, my leaders."""
    if update.effective_message is None or context.actor is None:
        return
    profile = await people.profile(context.session, context.actor)
    context.reply(update, "me", profile=profile)


async def leaders(update: Update, context: BotContext) -> None:
    """/leaders [B1-3]: the party members and leaders of a floor (党员亮身份)."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or context.actor is None:
        return
    if context.args:
        place = await people.find_floor(context.session, context.args[0])
        if place is None:
            context.reply(update, "floor_unknown", address=context.args[0])
            return
    elif chat.type != Chat.PRIVATE:
        place = await groups.bound_floor(context.session, chat.id)
        if place is None:
            context.reply(update, "leaders_name_floor")
            return
    else:
        place = context.actor.home
        if place is None:
            context.reply(update, "leaders_no_home")
            return
    found = await people.leaders_of(context.session, place)
    context.reply(update, "leaders", leaders=found)


async def lang(update: Update, context: BotContext) -> None:
    """/lang zh|en: choose the language of the bot's messages."""
    message = update.effective_message
    if message is None or context.actor is None or update.effective_user is None:
        return
    if not context.args:
        keyboard = InlineKeyboardMarkup.from_row(
            [
                InlineKeyboardButton(label, callback_data=callbacks.LANGUAGE.pack(code=code))
                for code, label in (("zh", "中文"), ("en", "English"))
            ]
        )
        context.reply(update, "lang_choose", keyboard=keyboard)
        return
    wanted = context.args[0].lower()
    if wanted not in ("zh", "zh-cn", "en"):
        context.reply(update, "lang_usage")
        return
    await _switch_language(update.effective_user.id, context, pick_language(wanted))
    context.reply(update, "lang_set")


async def lang_pressed(update: Update, context: BotContext) -> None:
    """A language button of /lang: switch, and turn the question into the answer."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = callbacks.LANGUAGE.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    await _switch_language(query.from_user.id, context, pick_language(fields["code"]))
    context.after_commit(query.answer)
    context.edit(query.message, "lang_set")


async def _switch_language(user_id: int, context: BotContext, language: Language) -> None:
    assert context.actor is not None
    context.language = language
    await identity.set_language(context.session, context.actor.person_id, language)
    _menus(context).queue(context.session, context.actor, user_id, language, now=context.now())


async def bind(update: Update, context: BotContext) -> None:
    """/bind [B1-3|B1] in a group: bind this chat to a floor or a building."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or context.actor is None:
        return
    if chat.type == Chat.PRIVATE:
        context.reply(update, "bind_in_group")
        return
    result = await groups.bind(
        context.session,
        context.actor,
        chat_id=chat.id,
        title=chat.title or str(chat.id),
        address=context.args[0] if context.args else None,
        now=context.now(),
    )
    context.reply(update, f"bind_{result.outcome}", result=result)


async def membership_changed(update: Update, context: BotContext) -> None:
    """A person blocked or unblocked the bot; or the bot joined a group: say how to bind it."""
    change = update.my_chat_member
    if change is None:
        return
    if change.chat.type == Chat.PRIVATE:
        blocked = change.new_chat_member.status == ChatMemberStatus.BANNED
        await identity.set_reachable(
            context.session, change.chat.id, not blocked, now=context.now()
        )
        return
    joined = change.new_chat_member.status in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    )
    left_before = change.old_chat_member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)
    if joined and left_before:
        current_scope.get().send(change.chat.id, context.text("group_added"), now=context.now())


def _upgrade(update: Update) -> tuple[int, int] | None:
    """(old id, new id) when the update tells that a group became a supergroup."""
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id is not None:
        return message.chat_id, message.migrate_to_chat_id
    if message.migrate_from_chat_id is not None:
        return message.migrate_from_chat_id, message.chat_id
    return None


async def group_upgraded(update: Update, context: BotContext) -> None:
    """A group became a supergroup (a service message in either): its binding follows."""
    upgrade = _upgrade(update)
    if upgrade is not None:
        await groups.migrate(context.session, *upgrade, now=context.now())


async def grid_pressed(update: Update, context: BotContext) -> None:
    """A button of a grid issue card (or of a closed report's news): move the report on."""
    query = update.callback_query
    if query is None or context.actor is None:
        return
    fields = callbacks.GRID_ISSUE.unpack(query.data)
    assert fields is not None, "routed here by the codec's pattern"
    issue = callbacks.number(fields["issue"])
    if issue is None:
        await button_expired(update, context)
        return
    texts, settings = context.deps.texts, context.deps.settings
    outcome, reopen_days = await grid.handle(
        context.session,
        context.actor,
        issue,
        fields["action"],
        rules=context.application.bot_data["rules"],
        cards=grid.Cards(texts, settings.language),
        now=context.now(),
    )
    if outcome is grid.Handling.ASK:
        await conversations.begin(
            update, context, grid.ASKING[fields["action"]], preset={"issue": issue}
        )
        return
    toast = (
        ""
        if outcome is grid.Handling.DONE
        else context.text(f"grid_{outcome}", reopen_days=reopen_days)
    )
    alert = outcome is not grid.Handling.DONE
    context.after_commit(lambda: query.answer(toast or None, show_alert=alert))


async def button_expired(update: Update, context: BotContext) -> None:
    """A button nobody handles any more (an old message, or forged data): say so kindly."""
    query = update.callback_query
    if query is not None:
        text = context.text("button_expired")
        context.after_commit(lambda: query.answer(text, show_alert=True))


async def private_message(update: Update, context: BotContext) -> None:
    """A message in a private chat: an answer to a running conversation, or a pointer to /help.

    Commands never count as answers, so typing one mid-conversation leaves it as it was.
    """
    message = update.effective_message
    if message is None:
        return
    command = (message.text or "").startswith("/")
    if context.actor is not None and not command and await conversations.answered(update, context):
        return
    context.reply(update, "not_understood")


async def on_error(update: object, context: BotContext) -> None:
    """Hand the failure to the dispatcher, which rolls the update back and tries it again."""
    scope = current_scope.get(None)
    if scope is None:
        log.error("error outside an update", exc_info=context.error)
        return
    scope.error = context.error


def register(application: Application[Any, BotContext, Any, Any, Any, Any], engine: Engine) -> None:
    """Install every handler in its group."""
    application.add_handler(TypeHandler(Update, identify), group=-1)
    private = filters.ChatType.PRIVATE
    commands = sorted(c.command for c in engine.conversations.values() if c.command)
    application.add_handlers(
        [
            *(CommandHandler(command, conversations.start) for command in commands),
            CommandHandler("cancel", conversations.cancel),
            CommandHandler("back", conversations.back),
            CallbackQueryHandler(
                conversations.pressed, pattern=conversations.is_conversation_button
            ),
            CommandHandler("start", start, filters=private),
            CommandHandler("help", help_command),
            CommandHandler("me", me),
            CommandHandler("leaders", leaders),
            CommandHandler("lang", lang),
            CallbackQueryHandler(lang_pressed, pattern=callbacks.LANGUAGE.matches),
            CommandHandler("bind", bind),
            ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
            MessageHandler(filters.StatusUpdate.MIGRATE, group_upgraded),
            CallbackQueryHandler(grid_pressed, pattern=callbacks.GRID_ISSUE.matches),
            *requests.HANDLERS,
            *bookings.HANDLERS,
            *stars.HANDLERS,
            *projects.HANDLERS,
            *duty.HANDLERS,
            *onduty.HANDLERS,
            *talks.HANDLERS,
            *broadcasts.HANDLERS,
            *meetings.HANDLERS,
            *red_service.HANDLERS,
            *activities.HANDLERS,
            CallbackQueryHandler(button_expired),
            MessageHandler(private & ~filters.UpdateType.EDITED, private_message),
        ]
    )
    application.add_error_handler(on_error)
