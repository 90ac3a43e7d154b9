"""What the sandbox's Telegram knows: people, chats, messages, files, pending updates.

Both faces of the sandbox act on one :class:`SandboxState`: the Bot API handlers
(:mod:`assistant.sandbox.botapi`) on behalf of the bot, and :class:`~assistant.sandbox.FakeTelegram`
on behalf of the people who talk to it. Every change calls :meth:`SandboxState.notify`, which wakes
whoever waits for something (a long poll, a test, the webhook sender) so nobody has to poll.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from assistant.sandbox.entities import JSONDict
from assistant.sandbox.flood import FloodControl

T = TypeVar("T")

ChatType = Literal["private", "group", "supergroup"]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]

# What getUpdates/setWebhook deliver when allowed_updates is empty or was never given.
_NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_ADMIN_RIGHTS: JSONDict = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": True,
    "can_edit_stories": True,
    "can_delete_stories": True,
    "can_pin_messages": True,
}


@dataclass(frozen=True)
class Upload:
    """One uploaded file part: its bytes and what the client said about it."""

    data: bytes
    filename: str | None = None
    mime_type: str | None = None


@dataclass(eq=False)
class FakeUser:
    """A Telegram account: a person, or the bot itself when ``is_bot`` is true."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started_bot: bool = False
    """Whether this person ever wrote to the bot, which lets the bot write to them."""
    blocked_bot: bool = False

    def to_json(self) -> JSONDict:
        """The Bot API ``User`` object."""
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(eq=False)
class FakeChat:
    """A private chat between one person and the bot, or a group with its members."""

    id: int
    type: ChatType
    title: str | None = None
    user: FakeUser | None = None
    """The person on the other side of a private chat."""
    members: dict[int, MemberStatus] = field(default_factory=dict)
    """Member statuses in a group by user id, the bot included."""
    messages: dict[int, FakeMessage] = field(default_factory=dict)
    next_message_id: int = 1
    instance: str = field(default_factory=lambda: str(secrets.randbits(62)))
    """The ``chat_instance`` of callback queries from this chat."""
    reply_keyboard: JSONDict | None = None
    """The custom keyboard the bot last showed here (``ReplyKeyboardMarkup``), if any."""
    menu_button: JSONDict | None = None
    migrated_to: int | None = None
    """The supergroup this group became; the Bot API refuses the old id from then on."""

    @property
    def is_group(self) -> bool:
        """Whether this is a group or supergroup."""
        return self.type != "private"

    def to_json(self) -> JSONDict:
        """The Bot API ``Chat`` object."""
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.user is not None:
            person = self.user.to_json()
            for key in ("first_name", "last_name", "username"):
                if key in person:
                    data[key] = person[key]
        if self.title is not None:
            data["title"] = self.title
        return data


@dataclass(eq=False)
class FakeMessage:
    """A message in a chat.

    The sandbox hands out snapshots: later edits do not change them (their ``chat`` is live).
    """

    chat: FakeChat
    message_id: int
    date: int
    sender: FakeUser
    text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    photo: list[JSONDict] | None = None
    document: JSONDict | None = None
    reply_markup: JSONDict | None = None
    """The inline keyboard under the message, if any."""
    reply_to: FakeMessage | None = None
    edit_date: int | None = None
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None

    @property
    def is_service(self) -> bool:
        """Whether this is a service message (a group's upgrade), which every bot receives."""
        return self.migrate_to_chat_id is not None or self.migrate_from_chat_id is not None

    @property
    def from_bot(self) -> bool:
        """Whether the bot sent this message."""
        return self.sender.is_bot

    @property
    def buttons(self) -> list[list[JSONDict]]:
        """The rows of the inline keyboard (empty without one)."""
        if self.reply_markup is None:
            return []
        rows: list[list[JSONDict]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    def button_data(self, text: str) -> str:
        """The callback_data of the inline button labelled ``text``; KeyError if there is none."""
        for row in self.buttons:
            for button in row:
                if button.get("text") == text and "callback_data" in button:
                    data: str = button["callback_data"]
                    return data
        raise KeyError(f"no callback button {text!r} in message {self.message_id}")

    def snapshot(self) -> FakeMessage:
        """A copy that later edits do not change."""
        return copy.copy(self)

    def to_json(self, *, with_reply: bool = True) -> JSONDict:
        """The Bot API ``Message`` object."""
        data: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender.to_json(),
            "chat": self.chat.to_json(),
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_json(with_reply=False)
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.photo is not None:
            data["photo"] = self.photo
        if self.document is not None:
            data["document"] = self.document
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup is not None:
            data["reply_markup"] = self.reply_markup
        for key in ("migrate_to_chat_id", "migrate_from_chat_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(eq=False)
class FakeFile:
    """A stored file: uploaded by the bot or sent by a person."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: Literal["photo", "document"]
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    def to_json(self) -> JSONDict:
        """The Bot API ``File`` object as getFile returns it (relative ``file_path``)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def photo_sizes(self) -> list[JSONDict]:
        """The ``photo`` array of a message: one size, the original (no thumbnails are made)."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": len(self.data),
            }
        ]

    def document_json(self) -> JSONDict:
        """The Bot API ``Document`` object."""
        data: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.file_name is not None:
            data["file_name"] = self.file_name
        if self.mime_type is not None:
            data["mime_type"] = self.mime_type
        return data


@dataclass(frozen=True)
class CallbackAnswer:
    """How the bot answered a callback query."""

    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0


@dataclass(eq=False)
class FakeCallbackQuery:
    """A press of an inline button, waiting for the bot's answer."""

    id: str
    user: FakeUser
    message: FakeMessage
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass
class Webhook:
    """The bot's webhook settings and the last delivery error."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    has_custom_certificate: bool = False
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class RecordedCall:
    """One Bot API call as the sandbox received it."""

    method: str
    """The method name as the Bot API spells it (e.g. ``sendMessage``) when known."""
    params: dict[str, str]
    files: tuple[str, ...]
    time: float
    """The sandbox clock when the call arrived."""
    status: int | None = None
    """The HTTP status answered, None while unanswered (or never, for an injected timeout)."""


def member_json(user: FakeUser, status: MemberStatus) -> JSONDict:
    """The Bot API ``ChatMember`` object for ``user`` with ``status``."""
    data: JSONDict = {"status": status, "user": user.to_json()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(_ADMIN_RIGHTS)
    elif status == "kicked":
        data["until_date"] = 0
    return data


class SandboxState:
    """All of the sandbox's data plus the wake-up, update queue and event plumbing around it."""

    def __init__(
        self,
        *,
        token: str,
        bot: FakeUser,
        clock: Callable[[], float],
        flood: FloodControl,
        privacy_mode: bool,
        callback_query_ttl: float,
    ) -> None:
        self.token = token
        self.bot = bot
        self.clock = clock
        self.flood = flood
        self.flood_enabled = False
        self.privacy_mode = privacy_mode
        self.callback_query_ttl = callback_query_ttl
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, FakeFile] = {}
        self.files_by_path: dict[str, FakeFile] = {}
        self.callback_queries: dict[str, FakeCallbackQuery] = {}
        self.updates: list[JSONDict] = []
        # Telegram sometimes delivers an update again; with this on, each one comes twice.
        self.duplicate_deliveries = False
        self.redeliveries: list[JSONDict] = []
        self._delivered_twice: set[int] = set()
        self.allowed_updates: frozenset[str] | None = None
        self.webhook: Webhook | None = None
        self.commands: dict[tuple[tuple[str, int | None, int | None], str], list[JSONDict]] = {}
        self.default_menu_button: JSONDict = {"type": "commands"}
        self.poll_generation = 0
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._waiters: set[asyncio.Future[None]] = set()
        # Those waiting only for the bot's messages to one chat (wait_for_bot_message): with
        # a hundred people waiting, waking all of them at every change of the sandbox would
        # keep the fake too busy to answer the bot at once.
        self._chat_waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._subscribers: list[asyncio.Queue[JSONDict]] = []
        self.bot_outbox: dict[int, list[FakeMessage]] = {}

    def unique_number(self) -> int:
        """A fresh number for ids that only need to be unique within the sandbox."""
        return next(self._ids)

    @staticmethod
    def now() -> int:
        """The current date in Unix seconds, as Telegram dates messages."""
        return int(time.time())

    def notify(self, chat_id: int | None = None) -> None:
        """Wakes everyone waiting in :meth:`wait_for` to look again.

        ``chat_id`` says the bot's messages to that chat changed: those waiting for that
        chat's wake too.
        """
        waiters, self._waiters = self._waiters, set()
        if chat_id is not None:
            waiters |= self._chat_waiters.pop(chat_id, set())
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, probe: Callable[[], T | None], *, chat_id: int | None = None) -> T:
        """Waits until ``probe()`` returns something other than None and returns it.

        ``probe`` is re-evaluated after every change; bound the wait with ``asyncio.timeout``.
        With ``chat_id``, only after a change of the bot's messages to that chat (a probe of
        nothing else).
        """
        loop = asyncio.get_running_loop()
        while True:
            result = probe()
            if result is not None:
                return result
            waiter: asyncio.Future[None] = loop.create_future()
            waiters = (
                self._waiters if chat_id is None else self._chat_waiters.setdefault(chat_id, set())
            )
            waiters.add(waiter)
            try:
                await waiter
            finally:
                waiters.discard(waiter)

    def subscribe(self) -> asyncio.Queue[JSONDict]:
        """A queue receiving every event from now on."""
        queue: asyncio.Queue[JSONDict] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[JSONDict]) -> None:
        """Stops feeding ``queue``."""
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def emit(self, event: JSONDict) -> None:
        """Hands ``event`` to every subscriber and wakes waiters."""
        for queue in self._subscribers:
            queue.put_nowait(event)
        self.notify()

    def is_allowed(self, kind: str) -> bool:
        """Whether updates of ``kind`` are delivered under the current allowed_updates."""
        if self.allowed_updates is None:
            return kind not in _NOT_DELIVERED_BY_DEFAULT
        return kind in self.allowed_updates

    def set_allowed_updates(self, kinds: list[str]) -> None:
        """Applies allowed_updates from getUpdates or setWebhook; empty means the default."""
        self.allowed_updates = frozenset(kinds) if kinds else None

    def next_update_id(self) -> int:
        """The id the next update gets."""
        return next(self._update_ids)

    def enqueue_update(self, kind: str, payload: JSONDict) -> JSONDict | None:
        """Queues an update for the bot unless allowed_updates excludes its kind."""
        if not self.is_allowed(kind):
            return None
        update = {"update_id": self.next_update_id(), kind: payload}
        self.updates.append(update)
        self.emit({"type": "update", "update": update})
        return update

    def confirm_updates(self, offset: int) -> None:
        """Forgets updates as getUpdates' ``offset`` says (negative: keep the last -offset)."""
        before = self.updates
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        kept = {u["update_id"] for u in self.updates}
        self._redeliver([u for u in before if u["update_id"] not in kept])
        self.notify()

    def confirm_delivery(self, update: JSONDict) -> None:
        """Forgets an update the webhook accepted."""
        if update in self.redeliveries:
            self.redeliveries.remove(update)
        elif update in self.updates:
            self.updates.remove(update)
            self._redeliver([update])
        self.notify()

    def take_redeliveries(self, limit: int) -> list[JSONDict]:
        """Updates to deliver once more (getUpdates sends them whatever the offset)."""
        taken, self.redeliveries = self.redeliveries[:limit], self.redeliveries[limit:]
        return taken

    def _redeliver(self, forgotten: list[JSONDict]) -> None:
        if not self.duplicate_deliveries:
            return
        for update in forgotten:
            if update["update_id"] not in self._delivered_twice:
                self._delivered_twice.add(update["update_id"])
                self.redeliveries.append(copy.deepcopy(update))

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The private chat between ``user`` and the bot, created on first use."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(id=user.id, type="private", user=user)
            self.chats[user.id] = chat
        return chat

    def add_message(self, chat: FakeChat, sender: FakeUser, **fields: Any) -> FakeMessage:
        """Stores a new message in ``chat`` with the next message_id and the current date."""
        message = FakeMessage(
            chat=chat, message_id=chat.next_message_id, date=self.now(), sender=sender, **fields
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        self.emit({"type": "message", "chat_id": chat.id, "message": message.to_json()})
        return message

    def record_bot_output(self, message: FakeMessage) -> None:
        """Keeps a snapshot of a message the bot sent or edited for the waiting tests."""
        self.bot_outbox.setdefault(message.chat.id, []).append(message.snapshot())
        self.notify(message.chat.id)

    def user_json(self, user_id: int) -> JSONDict | None:
        """The User object of a known person, for text mentions."""
        user = self.users.get(user_id)
        return None if user is None else user.to_json()
