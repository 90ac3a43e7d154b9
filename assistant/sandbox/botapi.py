"""The Bot API methods the sandbox implements, with Telegram's validation and JSON shapes.

Each handler takes the :class:`~assistant.sandbox.state.SandboxState` and the call's
:class:`Params` and returns the ``result`` value, or raises :class:`ApiError`, which becomes
Telegram's error envelope. Parameters arrive the way the Bot API server sees them: every value a
string, non-string values JSON-encoded.

The common error texts are exactly Telegram's: chat not found, blocked / can't initiate (403),
message is not modified, message to edit / delete not found, message can't be deleted, query is
too old, message text is empty, message is too long, BUTTON_DATA_INVALID, reply markup is too
long, can't parse entities, group chat was upgraded to a supergroup chat (with
``migrate_to_chat_id``), the 409 conflicts, 429 and 401/404. Rarer cases (malformed JSON
parameters, bot command scopes and language codes, unsupported file kinds and the like) use
Telegram's style, but their exact wording may differ from Telegram's.
``Markdown``/``MarkdownV2`` are not parsed: the sandbox answers HTTP 501 for them, as it does for
real Bot API methods it does not implement, so such a gap shows up as an error rather than as a
silent difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import telegram

from assistant.sandbox.entities import (
    JSONDict,
    detect_entities,
    sort_entities,
    trim_formatted,
)
from assistant.sandbox.html import EntityParseError, normalize_url, parse_html
from assistant.sandbox.state import (
    CallbackAnswer,
    FakeChat,
    FakeFile,
    FakeMessage,
    MemberStatus,
    SandboxState,
    Upload,
    Webhook,
    member_json,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
MAX_ANSWER_TEXT = 200
MAX_COMMANDS = 100
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
DELETE_WINDOW = 48 * 3600

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_SECRET_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPES_WITHOUT_CHAT = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}
)
_SCOPES_WITH_CHAT = frozenset({"chat", "chat_administrators", "chat_member"})

ScopeKey = tuple[str, int | None, int | None]


class ApiError(Exception):
    """A Bot API error: becomes ``{"ok": false, "error_code": status, ...}`` with that status."""

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, int] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def envelope(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(message: str) -> ApiError:
    """A 400 error with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {message}")


def too_many_requests(retry_after: int) -> ApiError:
    """The 429 Telegram answers to flooding."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def group_upgraded(supergroup_id: int) -> ApiError:
    """The 400 Telegram answers to any call naming a group that became a supergroup."""
    return ApiError(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": supergroup_id},
    )


UNAUTHORIZED = ApiError(401, "Unauthorized")
BLOCKED = ApiError(403, "Forbidden: bot was blocked by the user")
CANNOT_INITIATE = ApiError(403, "Forbidden: bot can't initiate conversation with a user")
CHAT_NOT_FOUND = bad_request("chat not found")
QUERY_TOO_OLD = bad_request("query is too old and response timeout expired or query ID is invalid")
NOT_MODIFIED = bad_request(
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CONFLICT_POLL = ApiError(
    409,
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)
CONFLICT_WEBHOOK = ApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)


@dataclass(frozen=True)
class Described:
    """A successful result that carries a ``description`` too, as setWebhook's does."""

    result: Any
    description: str


class Params:
    """A call's parameters in the Bot API server's form: names to strings, plus uploads."""

    def __init__(self, values: Mapping[str, str], files: Mapping[str, Upload]) -> None:
        self.values = values
        self.files = files

    def get(self, name: str) -> str | None:
        """The raw string, or None when absent."""
        return self.values.get(name)

    def integer(self, name: str) -> int | None:
        """An integer parameter, or None when absent or empty."""
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def number(self, name: str) -> float | None:
        """A numeric parameter that may have a fraction, or None when absent or empty."""
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return float(raw)
        except ValueError:
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def boolean(self, name: str) -> bool:
        """A Boolean parameter; Telegram takes ``true`` (any case) and ``1`` as true."""
        raw = self.values.get(name, "")
        return raw.lower() == "true" or raw == "1"

    def json(self, name: str, what: str) -> Any:
        """A JSON-encoded parameter, or None when absent; ``what`` names it in errors."""
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None

    def upload(self, name: str) -> Upload | str | None:
        """A file parameter: an uploaded part, else the string (file_id, URL), else None."""
        raw = self.values.get(name)
        if raw is not None and raw.startswith("attach://"):
            return self.files.get(raw.removeprefix("attach://"))
        if name in self.files:
            return self.files[name]
        return raw


Handler = Callable[[SandboxState, Params], Awaitable[Any]]
METHODS: dict[str, Handler] = {}
"""Implemented methods by lower-cased name (Telegram matches names case-insensitively)."""
METHOD_NAMES: dict[str, str] = {}
"""The Bot API spelling of each implemented method, by lower-cased name."""


def _method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = handler
        METHOD_NAMES[name.lower()] = name
        return handler

    return register


def known_bot_api_methods() -> frozenset[str]:
    """Lower-cased names of every Bot API method that python-telegram-bot knows."""
    names = {
        name.lower()
        for name in dir(telegram.Bot)
        if re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", name)
    }
    return frozenset(names | {"close"})


# Looking things up -----------------------------------------------------------------------


def resolve_chat(state: SandboxState, raw: str | None) -> FakeChat:
    """The chat a ``chat_id`` names; private chats exist for every known person."""
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        chat_id = int(raw)
    except ValueError:
        raise CHAT_NOT_FOUND from None
    chat = state.chats.get(chat_id)
    if chat is None and chat_id in state.users:
        chat = state.private_chat(state.users[chat_id])
    if chat is None:
        raise CHAT_NOT_FOUND
    if chat.migrated_to is not None:
        raise group_upgraded(chat.migrated_to)
    return chat


def check_bot_may_write(state: SandboxState, chat: FakeChat) -> None:
    """Raises the 403 Telegram gives when the bot may not act in ``chat``."""
    if chat.user is not None:
        if chat.user.blocked_bot:
            raise BLOCKED
        if not chat.user.started_bot:
            raise CANNOT_INITIATE
        return
    kind = "supergroup" if chat.type == "supergroup" else "group"
    status = chat.members.get(state.bot.id)
    if status == "kicked":
        raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
    if status in (None, "left"):
        raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")


def take_flood_slot(state: SandboxState, chat: FakeChat) -> None:
    """Counts one sent message against the flood limits when they are on."""
    if not state.flood_enabled:
        return
    retry_after = state.flood.acquire(chat.id, is_group=chat.is_group)
    if retry_after is not None:
        raise too_many_requests(retry_after)


def find_bot_message(state: SandboxState, params: Params, missing: str) -> FakeMessage:
    """The message an edit or delete names by chat_id + message_id."""
    if params.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    if params.get("chat_id") is None:
        raise bad_request("message identifier is not specified")
    chat = resolve_chat(state, params.get("chat_id"))
    check_bot_may_write(state, chat)
    message = chat.messages.get(params.integer("message_id") or 0)
    if message is None:
        raise bad_request(missing)
    return message


# Text, keyboards, replies ----------------------------------------------------------------


def format_text(
    state: SandboxState, params: Params, field: Literal["text", "caption"]
) -> tuple[str, list[JSONDict]]:
    """The text (or caption) and entities Telegram would store for these parameters."""
    raw = params.get(field) or ""
    parse_mode = params.get("parse_mode")
    entities_field = "entities" if field == "text" else "caption_entities"
    if parse_mode:
        mode = parse_mode.lower()
        if mode in ("markdown", "markdownv2"):
            raise ApiError(501, f"Not Implemented: the sandbox does not parse {parse_mode}")
        if mode != "html":
            raise bad_request("unsupported parse_mode")
        try:
            text, entities = parse_html(raw, resolve_user=state.user_json)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    else:
        text, entities = raw, _explicit_entities(params.json(entities_field, "entities"))
    text, entities = trim_formatted(text, entities)
    if field == "text":
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
    elif len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return text, sort_entities(entities + detect_entities(text, entities))


def _explicit_entities(value: Any) -> list[JSONDict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        for e in value
    ):
        raise bad_request("can't parse entities JSON object")
    return [dict(e) for e in value]


@dataclass(frozen=True)
class Markup:
    """A parsed ``reply_markup``: an inline keyboard, or a change to the custom keyboard."""

    inline: JSONDict | None = None
    keyboard: JSONDict | None = None
    remove_keyboard: bool = False


def parse_markup(params: Params) -> Markup:
    """Validates ``reply_markup`` the way Telegram does."""
    value = params.json("reply_markup", "reply keyboard markup")
    if value is None:
        return Markup()
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        return Markup(inline=_inline_keyboard(value))
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
        normalized = [[b if isinstance(b, dict) else {"text": str(b)} for b in r] for r in rows]
        return Markup(keyboard={**value, "keyboard": normalized})
    if value.get("remove_keyboard"):
        return Markup(remove_keyboard=True)
    if "force_reply" in value:
        return Markup()
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_keyboard(value: JSONDict) -> JSONDict:
    rows = value["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not any(action in button for action in _BUTTON_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if "callback_data" in button and not (
                isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and not (isinstance(url, str) and normalize_url(url)):
                raise bad_request("BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def apply_custom_keyboard(chat: FakeChat, markup: Markup) -> None:
    """Shows or hides the custom keyboard the way a sent message does."""
    if markup.keyboard is not None:
        chat.reply_keyboard = markup.keyboard
    elif markup.remove_keyboard:
        chat.reply_keyboard = None


def find_reply_target(chat: FakeChat, params: Params) -> FakeMessage | None:
    """The message a new one replies to, from reply_parameters or reply_to_message_id."""
    reply = params.json("reply_parameters", "reply parameters")
    if reply is None and params.get("reply_to_message_id"):
        reply = {"message_id": params.integer("reply_to_message_id")}
    if reply is None:
        return None
    if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
        raise bad_request("can't parse reply parameters JSON object")
    target = chat.messages.get(reply["message_id"])
    if target is None and not reply.get("allow_sending_without_reply"):
        raise bad_request("message to be replied not found")
    return target


# Updates and webhooks --------------------------------------------------------------------


@_method("getMe")
async def get_me(state: SandboxState, params: Params) -> JSONDict:
    """The bot's own User object with the bot-only fields."""
    return {
        **state.bot.to_json(),
        "can_join_groups": True,
        "can_read_all_group_messages": not state.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@_method("getUpdates")
async def get_updates(state: SandboxState, params: Params) -> list[JSONDict]:
    """Pending updates; a long poll returns as soon as one arrives."""
    if state.webhook is not None:
        raise CONFLICT_WEBHOOK
    # The token this poll came with: revoked meanwhile, the poll ends refused.
    token = state.token
    offset = params.integer("offset") or 0
    limit = params.integer("limit")
    limit = 100 if limit is None else min(max(limit, 1), 100)
    timeout = min(max(params.number("timeout") or 0.0, 0.0), 50.0)
    allowed = params.json("allowed_updates", "allowed updates")
    if isinstance(allowed, list):
        state.set_allowed_updates([str(kind) for kind in allowed])
    state.poll_generation += 1
    generation = state.poll_generation
    # An older long poll still waiting must see that it has been superseded.
    state.notify()
    state.confirm_updates(offset)
    if not (state.updates or state.redeliveries) and timeout > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await state.wait_for(lambda: _poll_ends(state, generation, token))
    if state.token != token:
        raise UNAUTHORIZED
    if state.poll_generation != generation:
        raise CONFLICT_POLL
    if state.webhook is not None:
        raise CONFLICT_WEBHOOK
    again = state.take_redeliveries(limit)
    return again + state.updates[: limit - len(again)]


def _poll_ends(state: SandboxState, generation: int, token: str) -> bool | None:
    """True once a long poll has something to answer; None while it should keep waiting."""
    pending = state.updates or state.redeliveries
    superseded = state.poll_generation != generation or state.token != token
    if pending or state.webhook is not None or superseded:
        return True
    return None


@_method("setWebhook")
async def set_webhook(state: SandboxState, params: Params) -> Described:
    """Sets (or with an empty url removes) the webhook; http URLs are allowed for local tests."""
    url = params.get("url") or ""
    if not url:
        return _delete_webhook(state, params)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None:
        if len(secret) > 256:
            raise bad_request("secret token is too long")
        if not _SECRET_TOKEN_CHARS.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections")
    webhook = Webhook(
        url=url,
        secret_token=secret or None,
        max_connections=40 if max_connections is None else min(max(max_connections, 1), 100),
        ip_address=params.get("ip_address"),
        has_custom_certificate="certificate" in params.files,
    )
    allowed = params.json("allowed_updates", "allowed updates")
    if isinstance(allowed, list):
        state.set_allowed_updates([str(kind) for kind in allowed])
    if params.boolean("drop_pending_updates"):
        state.updates.clear()
    current = state.webhook
    unchanged = current is not None and (
        current.url,
        current.secret_token,
        current.max_connections,
        current.ip_address,
    ) == (webhook.url, webhook.secret_token, webhook.max_connections, webhook.ip_address)
    if not unchanged:
        state.webhook = webhook
    state.notify()
    return Described(True, "Webhook is already set" if unchanged else "Webhook was set")


def _delete_webhook(state: SandboxState, params: Params) -> Described:
    if params.boolean("drop_pending_updates"):
        state.updates.clear()
    had_webhook = state.webhook is not None
    state.webhook = None
    state.notify()
    return Described(True, "Webhook was deleted" if had_webhook else "Webhook is already deleted")


@_method("deleteWebhook")
async def delete_webhook(state: SandboxState, params: Params) -> Described:
    """Removes the webhook, optionally dropping pending updates."""
    return _delete_webhook(state, params)


@_method("getWebhookInfo")
async def get_webhook_info(state: SandboxState, params: Params) -> JSONDict:
    """The WebhookInfo object."""
    webhook = state.webhook
    info: JSONDict = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": bool(webhook and webhook.has_custom_certificate),
        "pending_update_count": len(state.updates),
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        if webhook.ip_address:
            info["ip_address"] = webhook.ip_address
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        if state.allowed_updates is not None:
            info["allowed_updates"] = sorted(state.allowed_updates)
    return info


# Messages --------------------------------------------------------------------------------


@_method("sendMessage")
async def send_message(state: SandboxState, params: Params) -> JSONDict:
    """Sends a text message."""
    chat = resolve_chat(state, params.get("chat_id"))
    check_bot_may_write(state, chat)
    markup = parse_markup(params)
    text, entities = format_text(state, params, "text")
    reply_to = find_reply_target(chat, params)
    take_flood_slot(state, chat)
    message = state.add_message(
        chat, state.bot, text=text, entities=entities, reply_markup=markup.inline, reply_to=reply_to
    )
    apply_custom_keyboard(chat, markup)
    state.record_bot_output(message)
    return message.to_json()


def _edit_markup(params: Params) -> JSONDict | None:
    markup = parse_markup(params)
    if markup.keyboard is not None or markup.remove_keyboard:
        raise bad_request("inline keyboard expected")
    return markup.inline


def _finish_edit(state: SandboxState, message: FakeMessage) -> JSONDict:
    message.edit_date = state.now()
    state.record_bot_output(message)
    state.emit({"type": "edit", "chat_id": message.chat.id, "message": message.to_json()})
    return message.to_json()


def _check_editable(message: FakeMessage) -> None:
    if not message.from_bot:
        raise bad_request("message can't be edited")


@_method("editMessageText")
async def edit_message_text(state: SandboxState, params: Params) -> JSONDict:
    """Replaces a bot message's text; a missing reply_markup removes the inline keyboard."""
    message = find_bot_message(state, params, "message to edit not found")
    _check_editable(message)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    inline = _edit_markup(params)
    text, entities = format_text(state, params, "text")
    if (text, entities, inline) == (message.text, message.entities, message.reply_markup):
        raise NOT_MODIFIED
    message.text, message.entities, message.reply_markup = text, entities, inline
    return _finish_edit(state, message)


@_method("editMessageCaption")
async def edit_message_caption(state: SandboxState, params: Params) -> JSONDict:
    """Replaces the caption of a bot's photo or document message."""
    message = find_bot_message(state, params, "message to edit not found")
    _check_editable(message)
    if message.text is not None:
        raise bad_request("there is no caption in the message to edit")
    inline = _edit_markup(params)
    caption, entities = format_text(state, params, "caption")
    current = (message.caption or "", message.caption_entities, message.reply_markup)
    if (caption, entities, inline) == current:
        raise NOT_MODIFIED
    message.caption = caption or None
    message.caption_entities, message.reply_markup = entities, inline
    return _finish_edit(state, message)


@_method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: SandboxState, params: Params) -> JSONDict:
    """Replaces (or without reply_markup removes) a bot message's inline keyboard."""
    message = find_bot_message(state, params, "message to edit not found")
    _check_editable(message)
    inline = _edit_markup(params)
    if inline == message.reply_markup:
        raise NOT_MODIFIED
    message.reply_markup = inline
    return _finish_edit(state, message)


@_method("deleteMessage")
async def delete_message(state: SandboxState, params: Params) -> bool:
    """Deletes a message the bot may delete: its own, or any in a private chat or as admin."""
    message = find_bot_message(state, params, "message to delete not found")
    chat = message.chat
    bot_is_admin = chat.members.get(state.bot.id) in ("administrator", "creator")
    allowed = message.from_bot or not chat.is_group or bot_is_admin
    if not allowed or state.now() - message.date > DELETE_WINDOW:
        raise bad_request("message can't be deleted")
    del chat.messages[message.message_id]
    state.emit({"type": "delete", "chat_id": chat.id, "message_id": message.message_id})
    return True


@_method("answerCallbackQuery")
async def answer_callback_query(state: SandboxState, params: Params) -> bool:
    """Answers a button press once, within the sandbox's callback query lifetime."""
    query = state.callback_queries.get(params.get("callback_query_id") or "")
    expired = query is not None and state.clock() - query.created_at > state.callback_query_ttl
    if query is None or query.answer is not None or expired:
        raise QUERY_TOO_OLD
    text = params.get("text")
    if text is not None and len(text) > MAX_ANSWER_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = CallbackAnswer(
        text=text or None,
        show_alert=params.boolean("show_alert"),
        url=params.get("url"),
        cache_time=params.integer("cache_time") or 0,
    )
    state.emit(
        {
            "type": "callback_answer",
            "callback_query_id": query.id,
            "text": query.answer.text,
            "show_alert": query.answer.show_alert,
        }
    )
    return True


@_method("sendChatAction")
async def send_chat_action(state: SandboxState, params: Params) -> bool:
    """Shows "typing…" and similar; nothing is stored."""
    chat = resolve_chat(state, params.get("chat_id"))
    check_bot_may_write(state, chat)
    action = params.get("action")
    if action not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    state.emit({"type": "chat_action", "chat_id": chat.id, "action": action})
    return True


# Files -----------------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 carry the frame size; C4, C8 and CC are other segments.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(length)
    return None


def store_file(state: SandboxState, upload: Upload, kind: Literal["photo", "document"]) -> FakeFile:
    """Stores uploaded bytes as a new file with fresh ids."""
    number = state.unique_number()
    size = image_size(upload.data) if kind == "photo" else None
    if kind == "photo":
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        path = f"photos/file_{number}.jpg"
    else:
        _, dot, suffix = (upload.filename or "").rpartition(".")
        path = f"documents/file_{number}" + (f".{suffix}" if dot and suffix else "")
    prefix = "AgACAgIAAxkBAAI" if kind == "photo" else "BQACAgIAAxkBAAI"
    file = FakeFile(
        file_id=f"{prefix}{number:06d}{state.token.split(':')[0]}",
        file_unique_id=f"AQAD{number:06d}",
        data=upload.data,
        kind=kind,
        file_path=path,
        file_name=upload.filename if kind == "document" else None,
        mime_type=upload.mime_type if kind == "document" else None,
        width=size[0] if size else 0,
        height=size[1] if size else 0,
    )
    state.files[file.file_id] = file
    state.files_by_path[file.file_path] = file
    return file


def _input_file(
    state: SandboxState, params: Params, kind: Literal["photo", "document"]
) -> FakeFile:
    value = params.upload(kind)
    if value is None:
        raise bad_request(f"there is no {kind} in the request")
    if isinstance(value, Upload):
        if not value.data:
            raise bad_request("file must be non-empty")
        if len(value.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        return store_file(state, value, kind)
    if value.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")
    existing = state.files.get(value)
    if existing is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if existing.kind != kind:
        raise bad_request(
            f"can't use file of type {existing.kind.capitalize()} as {kind.capitalize()}"
        )
    return existing


async def _send_file(
    state: SandboxState, params: Params, kind: Literal["photo", "document"]
) -> JSONDict:
    chat = resolve_chat(state, params.get("chat_id"))
    check_bot_may_write(state, chat)
    markup = parse_markup(params)
    caption, entities = format_text(state, params, "caption")
    file = _input_file(state, params, kind)
    reply_to = find_reply_target(chat, params)
    take_flood_slot(state, chat)
    media: JSONDict = (
        {"photo": file.photo_sizes()} if kind == "photo" else {"document": file.document_json()}
    )
    message = state.add_message(
        chat,
        state.bot,
        caption=caption or None,
        caption_entities=entities,
        reply_markup=markup.inline,
        reply_to=reply_to,
        **media,
    )
    apply_custom_keyboard(chat, markup)
    state.record_bot_output(message)
    return message.to_json()


@_method("sendPhoto")
async def send_photo(state: SandboxState, params: Params) -> JSONDict:
    """Sends a photo: an upload (PNG, GIF or JPEG) or the file_id of a stored photo."""
    return await _send_file(state, params, "photo")


@_method("sendDocument")
async def send_document(state: SandboxState, params: Params) -> JSONDict:
    """Sends a document: an upload or the file_id of a stored document."""
    return await _send_file(state, params, "document")


@_method("getFile")
async def get_file(state: SandboxState, params: Params) -> JSONDict:
    """A File object whose relative file_path serves the bytes for download."""
    file = state.files.get(params.get("file_id") or "")
    if file is None:
        raise bad_request("invalid file_id")
    if len(file.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return file.to_json()


# Commands, chats, members ----------------------------------------------------------------


def parse_scope(state: SandboxState, params: Params) -> ScopeKey:
    """The BotCommandScope of a commands call as a hashable key."""
    scope = params.json("scope", "BotCommandScope")
    if scope is None:
        return ("default", None, None)
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind: str = scope["type"]
    if kind in _SCOPES_WITHOUT_CHAT:
        return (kind, None, None)
    if kind not in _SCOPES_WITH_CHAT:
        raise bad_request("unsupported bot command scope type specified")
    chat_id = scope.get("chat_id")
    chat = resolve_chat(state, None if chat_id is None else str(chat_id))
    if kind == "chat":
        return (kind, chat.id, None)
    if not chat.is_group:
        raise bad_request("can't use this scope in private chats")
    if kind == "chat_administrators":
        return (kind, chat.id, None)
    user_id = scope.get("user_id")
    if not isinstance(user_id, int) or chat.members.get(user_id) in (None, "left", "kicked"):
        raise bad_request("user not found")
    return (kind, chat.id, user_id)


def parse_language(params: Params) -> str:
    """The language_code of a commands call: empty, or two lower-case letters."""
    language = params.get("language_code") or ""
    if language and not _LANGUAGE.fullmatch(language):
        raise bad_request("invalid language code specified")
    return language


@_method("setMyCommands")
async def set_my_commands(state: SandboxState, params: Params) -> bool:
    """Stores the command list of one scope and language."""
    commands = params.json("commands", "commands")
    if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    cleaned: list[JSONDict] = []
    for command in commands:
        name, description = command.get("command"), command.get("description")
        if not isinstance(name, str) or not _COMMAND.fullmatch(name.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": name.removeprefix("/"), "description": description})
    key = (parse_scope(state, params), parse_language(params))
    if cleaned:
        state.commands[key] = cleaned
    else:
        state.commands.pop(key, None)
    return True


@_method("getMyCommands")
async def get_my_commands(state: SandboxState, params: Params) -> list[JSONDict]:
    """The command list stored for exactly this scope and language."""
    key = (parse_scope(state, params), parse_language(params))
    return list(state.commands.get(key, []))


@_method("deleteMyCommands")
async def delete_my_commands(state: SandboxState, params: Params) -> bool:
    """Forgets the command list of one scope and language."""
    state.commands.pop((parse_scope(state, params), parse_language(params)), None)
    return True


@_method("getChat")
async def get_chat(state: SandboxState, params: Params) -> JSONDict:
    """The ChatFullInfo object."""
    chat = resolve_chat(state, params.get("chat_id"))
    info = chat.to_json()
    info.update(
        accent_color_id=abs(chat.id) % 7,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": True,
            "limited_gifts": True,
            "unique_gifts": True,
            "premium_subscription": True,
            "gifts_from_channels": True,
        },
    )
    return info


@_method("getChatMember")
async def get_chat_member(state: SandboxState, params: Params) -> JSONDict:
    """The ChatMember object of one user in one chat."""
    chat = resolve_chat(state, params.get("chat_id"))
    user_id = params.integer("user_id")
    user = state.bot if user_id == state.bot.id else state.users.get(user_id or 0)
    if user is None:
        raise bad_request("user not found")
    status: MemberStatus
    if chat.user is not None:
        if user is not chat.user and user is not state.bot:
            raise bad_request("user not found")
        status = "kicked" if user is state.bot and chat.user.blocked_bot else "member"
    else:
        status = chat.members.get(user.id, "left")
    return member_json(user, status)


@_method("setChatMenuButton")
async def set_chat_menu_button(state: SandboxState, params: Params) -> bool:
    """Sets the menu button of one private chat, or the default one."""
    button = params.json("menu_button", "menu button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button JSON object")
    if button["type"] == "web_app" and not (
        isinstance(button.get("text"), str) and isinstance(button.get("web_app"), dict)
    ):
        raise bad_request("can't parse menu button JSON object")
    if params.get("chat_id") is None:
        state.default_menu_button = {"type": "commands"} if button["type"] == "default" else button
        return True
    chat = resolve_chat(state, params.get("chat_id"))
    if chat.is_group:
        raise bad_request("chat menu button can be set only in private chats")
    chat.menu_button = None if button["type"] == "default" else button
    return True


@_method("getChatMenuButton")
async def get_chat_menu_button(state: SandboxState, params: Params) -> JSONDict:
    """The menu button of one private chat, or the default one."""
    if params.get("chat_id") is None:
        return state.default_menu_button
    chat = resolve_chat(state, params.get("chat_id"))
    return chat.menu_button or state.default_menu_button


@_method("close")
async def close(state: SandboxState, params: Params) -> bool:
    """Accepted and ignored: the sandbox has no server instance to close."""
    return True


@_method("logOut")
async def log_out(state: SandboxState, params: Params) -> bool:
    """Accepted and ignored: the sandbox has no cloud server to log out from."""
    return True
