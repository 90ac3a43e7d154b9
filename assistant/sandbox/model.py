"""The sandbox's Telegram: one bot, the people who talk to it, and everything in between.

:class:`FakeTelegram` answers Bot API calls (:meth:`FakeTelegram.call`, used by both faces:
:class:`~assistant.sandbox.FakeRequest` in-process and
:class:`~assistant.sandbox.FakeTelegramServer` over HTTP) and lets tests act as people
(``add_user``, ``add_group``, ``user_send``, ``user_press``, ``block_bot``,
``migrate_to_supergroup``) and as @BotFather (``revoke_token``), make something happen at the
moment a call arrives (``on_call``) and observe the bot (``wait_for_bot_message``, ``messages``,
``message``, ``subscribe``, ``calls``).

Group chats follow Telegram's privacy mode (on by default, as for a new bot): unless the bot is
an administrator or ``privacy_mode`` is off, the bot gets only commands meant for it
(``/cmd`` or ``/cmd@its_name``), replies to its own messages and service updates.

Updates wait in the queue for getUpdates; a webhook receives them only while a
:class:`~assistant.sandbox.FakeTelegramServer` runs, since delivering needs HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assistant.sandbox import botapi
from assistant.sandbox.botapi import ApiError, Described, Params
from assistant.sandbox.entities import JSONDict, detect_entities
from assistant.sandbox.flood import FloodControl, FloodPolicy
from assistant.sandbox.state import (
    CallbackAnswer,
    FakeCallbackQuery,
    FakeChat,
    FakeMessage,
    FakeUser,
    MemberStatus,
    RecordedCall,
    SandboxState,
    Upload,
    member_json,
)

FaultKind = Literal["5xx", "429", "403_blocked", "timeout"]

_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_KNOWN_METHODS = botapi.known_bot_api_methods()
_FIRST_USER_ID = 100_000_001
_FIRST_GROUP_ID = -4_000_000_001
_FIRST_SUPERGROUP_ID = -1_000_000_000_001


class Hold:
    """Answers that reach the bot late: matching calls are carried out, their answers wait.

    As with a slow network after Telegram has done the work: the message is there for people to
    see while the bot still waits for the answer. ``reached`` is set by the first matching call.
    """

    def __init__(self, method: str, chat_id: int | None) -> None:
        self.method = method.lower()
        self.chat_id = chat_id
        self.reached = asyncio.Event()
        self._released = asyncio.Event()

    def matches(self, method: str, params: Mapping[str, str]) -> bool:
        """Whether the answer to a call of ``method`` with ``params`` waits."""
        if self._released.is_set() or self.method != method.lower():
            return False
        return self.chat_id is None or params.get("chat_id") == str(self.chat_id)

    async def delay(self) -> None:
        """Wait, as a matching call's answer, until :meth:`release`."""
        self.reached.set()
        await self._released.wait()

    def release(self) -> None:
        """Let every waiting answer go, and hold no more."""
        self._released.set()


@dataclass
class Trigger:
    """Something that happens on Telegram's side the moment a matching call arrives."""

    method: str
    chat_id: int | None
    action: Callable[[], object]

    def matches(self, method: str, params: Mapping[str, str]) -> bool:
        """Whether a call of ``method`` with ``params`` sets it off."""
        if self.method != method.lower():
            return False
        return self.chat_id is None or params.get("chat_id") == str(self.chat_id)


@dataclass
class Fault:
    """A failure the sandbox will answer instead of handling the next matching calls."""

    kind: FaultKind
    method: str | None
    """Lower-cased method name the fault applies to; None for any method."""
    remaining: int
    """How many more calls fail; the fault is dropped at 0."""
    retry_after: int
    chat_id: int | None

    def matches(self, method: str, params: Mapping[str, str]) -> bool:
        """Whether a call of ``method`` with ``params`` should fail this way."""
        if self.method is not None and self.method != method.lower():
            return False
        return self.chat_id is None or params.get("chat_id") == str(self.chat_id)

    def error(self) -> ApiError:
        """The error this fault answers (for every kind except timeout)."""
        if self.kind == "429":
            return botapi.too_many_requests(self.retry_after)
        if self.kind == "403_blocked":
            return botapi.BLOCKED
        return ApiError(500, "Internal Server Error")


class FakeTelegram:
    """A self-contained fake of Telegram for one bot, with a client API to act as people.

    ``clock`` drives flood limits, callback query lifetimes and call timestamps (message dates
    stay real Unix time). Flood limits are off unless ``flood_limits`` is true; see
    :mod:`assistant.sandbox.flood` for the rules.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_username: str = "community_assistant_bot",
        bot_first_name: str = "Community Assistant",
        clock: Callable[[], float] = time.monotonic,
        flood_limits: bool = False,
        flood_policy: FloodPolicy | None = None,
        privacy_mode: bool = True,
        callback_query_ttl: float = 15.0,
    ) -> None:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"not a bot token: {token!r}")
        bot = FakeUser(
            id=int(token.split(":")[0]),
            first_name=bot_first_name,
            username=bot_username,
            is_bot=True,
        )
        self.state = SandboxState(
            token=token,
            bot=bot,
            clock=clock,
            flood=FloodControl(clock, flood_policy or FloodPolicy()),
            privacy_mode=privacy_mode,
            callback_query_ttl=callback_query_ttl,
        )
        self.state.flood_enabled = flood_limits
        self.calls: list[RecordedCall] = []
        """Every Bot API call received, in order."""
        self.rate_limited_count = 0
        """How many 429 answers the sandbox gave (flood limits and injected faults)."""
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []
        self._triggers: list[Trigger] = []
        self._user_ids = itertools.count(_FIRST_USER_ID)
        self._group_ids = itertools.count(-_FIRST_GROUP_ID)
        self._supergroup_ids = itertools.count(-_FIRST_SUPERGROUP_ID)

    # The bot and settings ------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bot's token; calls with any other token get 401."""
        return self.state.token

    def revoke_token(self) -> str:
        """Revoke the bot's token, as @BotFather's /revoke does; returns the new one.

        From now on the old token gets 401 ``Unauthorized``, a long poll still open with it
        included; the bot's id, chats and pending updates stay.
        """
        bot_id = self.state.token.split(":")[0]
        self.state.token = f"{bot_id}:{secrets.token_urlsafe(26)}"
        self.state.notify()
        return self.state.token

    @property
    def bot(self) -> FakeUser:
        """The bot's own account."""
        return self.state.bot

    @property
    def flood_limits(self) -> bool:
        """Whether sending messages is subject to Telegram's flood limits."""
        return self.state.flood_enabled

    @flood_limits.setter
    def flood_limits(self, enabled: bool) -> None:
        self.state.flood_enabled = enabled

    @property
    def duplicate_deliveries(self) -> bool:
        """Whether every update is delivered twice, as Telegram now and then does."""
        return self.state.duplicate_deliveries

    @duplicate_deliveries.setter
    def duplicate_deliveries(self, enabled: bool) -> None:
        self.state.duplicate_deliveries = enabled

    def inject_update(self, payload: JSONDict) -> JSONDict:
        """Queues a hand-made update, even one PTB cannot parse, to see how the bot copes."""
        update = {"update_id": self.state.next_update_id(), **payload}
        self.state.updates.append(update)
        self.state.notify()
        return update

    @property
    def privacy_mode(self) -> bool:
        """Whether the bot sees only commands and replies in groups where it is no admin."""
        return self.state.privacy_mode

    @privacy_mode.setter
    def privacy_mode(self, enabled: bool) -> None:
        self.state.privacy_mode = enabled

    # The Bot API ---------------------------------------------------------------------------

    async def call(
        self,
        token: str,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, bytes | Upload] | None = None,
    ) -> tuple[int, JSONDict]:
        """Answers one Bot API call: (HTTP status, JSON envelope) exactly as Telegram would.

        ``params`` are strings as sent over HTTP; other values are JSON-encoded first, as the
        Bot API server does with a JSON body. ``files`` are multipart uploads by part name.
        """
        values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        uploads = {k: v if isinstance(v, Upload) else Upload(v) for k, v in (files or {}).items()}
        if token != self.token:
            error = botapi.UNAUTHORIZED if _TOKEN.fullmatch(token) else ApiError(404, "Not Found")
            return self._fail(None, error)
        name = botapi.METHOD_NAMES.get(method.lower(), method)
        record = RecordedCall(name, values, tuple(uploads), self.state.clock())
        self.calls.append(record)
        trigger = next((t for t in self._triggers if t.matches(method, values)), None)
        if trigger is not None:
            self._triggers.remove(trigger)
            trigger.action()
            if token != self.token:
                return self._fail(record, botapi.UNAUTHORIZED)
        handler = botapi.METHODS.get(method.lower())
        if handler is None:
            if method.lower() in _KNOWN_METHODS:
                message = f"Not Implemented: the sandbox does not support {method}"
                return self._fail(record, ApiError(501, message))
            return self._fail(record, ApiError(404, "Not Found: method not found"))
        fault = next((f for f in self._faults if f.matches(method, values)), None)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.remove(fault)
            if fault.kind == "timeout":
                # Like a server that never answers: only the client's timeout ends the call.
                await asyncio.Event().wait()
            return self._fail(record, fault.error())
        try:
            result = await handler(self.state, Params(values, uploads))
        except ApiError as error:
            return self._fail(record, error)
        envelope: JSONDict = {"ok": True}
        if isinstance(result, Described):
            envelope.update(result=result.result, description=result.description)
        else:
            envelope["result"] = result
        record.status = 200
        # Waiters may be watching the calls themselves (wait_until on ``calls``).
        self.state.notify()
        hold = next((h for h in self._holds if h.matches(method, values)), None)
        if hold is not None:
            await hold.delay()
        return 200, envelope

    def _fail(self, record: RecordedCall | None, error: ApiError) -> tuple[int, JSONDict]:
        if record is not None:
            record.status = error.status
        if error.status == 429:
            self.rate_limited_count += 1
        self.state.notify()
        return error.status, error.envelope()

    def download(self, token: str, file_path: str) -> tuple[int, bytes]:
        """Serves a file download: (HTTP status, body), as ``/file/bot<token>/<path>`` does."""
        if token != self.token:
            error = ApiError(401, "Unauthorized")
        elif file_path in self.state.files_by_path:
            return 200, self.state.files_by_path[file_path].data
        else:
            error = ApiError(404, "Not Found")
        return error.status, json.dumps(error.envelope()).encode()

    def inject_fault(
        self,
        method: str | None = None,
        kind: FaultKind = "5xx",
        count: int = 1,
        retry_after: int = 2,
        chat_id: int | None = None,
    ) -> Fault:
        """Makes the next ``count`` matching calls fail as ``kind`` instead of being handled.

        ``5xx`` answers 500, ``429`` a flood error with ``retry_after``, ``403_blocked`` the
        blocked-by-user error, and ``timeout`` never answers, so the client times out.
        ``method`` (case-insensitive) and ``chat_id`` narrow which calls match.
        """
        if kind not in ("5xx", "429", "403_blocked", "timeout"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(kind, method.lower() if method else None, count, retry_after, chat_id)
        self._faults.append(fault)
        return fault

    def hold(self, method: str, chat_id: int | None = None) -> Hold:
        """Hold back the answers to ``method`` calls (to ``chat_id``) until the hold is released.

        The calls are carried out at once; only their answers wait, so the bot sees them still
        on their way.
        """
        hold = Hold(method, chat_id)
        self._holds.append(hold)
        return hold

    def on_call(
        self, method: str, action: Callable[[], object], chat_id: int | None = None
    ) -> Trigger:
        """Run ``action`` once, when the next ``method`` call (to ``chat_id``) arrives.

        It runs before the call is handled, so the call meets what it did: a group upgraded to a
        supergroup, or the token revoked, just as the bot's message reached Telegram.
        """
        trigger = Trigger(method.lower(), chat_id, action)
        self._triggers.append(trigger)
        return trigger

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The recorded calls of one method (case-insensitive)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    # Acting as people ----------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> FakeUser:
        """Creates a person with the next free (positive) id."""
        user = FakeUser(
            id=next(self._user_ids),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.state.users[user.id] = user
        return user

    async def add_group(
        self,
        title: str,
        members: Sequence[FakeUser],
        supergroup: bool = False,
        *,
        admins: Iterable[FakeUser] = (),
        bot_is_admin: bool = False,
        added_by: FakeUser | None = None,
    ) -> FakeChat:
        """Creates a group of ``members`` and adds the bot, which gets a ``my_chat_member``.

        The first member (or ``added_by``) created the group and adds the bot.
        """
        if not members:
            raise ValueError("a group needs at least one member")
        adder = added_by or members[0]
        chat_id = -next(self._supergroup_ids if supergroup else self._group_ids)
        chat = FakeChat(id=chat_id, type="supergroup" if supergroup else "group", title=title)
        admin_ids = {user.id for user in admins}
        for user in [*members, adder]:
            status: MemberStatus = "member"
            if user is adder:
                status = "creator"
            elif user.id in admin_ids:
                status = "administrator"
            chat.members[user.id] = status
        self.state.chats[chat.id] = chat
        await self._set_bot_status(chat, adder, "administrator" if bot_is_admin else "member")
        return chat

    def migrate_to_supergroup(self, chat: FakeChat, by: FakeUser | None = None) -> FakeChat:
        """An administrator upgrades a basic group to a supergroup; returns the supergroup.

        As on Telegram: the supergroup has a new id and the group's title and members (the bot
        among them); the bot gets a service message with ``migrate_to_chat_id`` in the old group
        and one with ``migrate_from_chat_id`` in the new; from then on every Bot API call naming
        the old id is refused with 400 and ``parameters.migrate_to_chat_id``, which
        python-telegram-bot raises as ``ChatMigrated``. ``by`` defaults to the group's creator.
        """
        if chat.type != "group" or chat.migrated_to is not None:
            raise ValueError(f"chat {chat.id} is not a basic group")
        upgrader = by or next(
            self.state.users[uid] for uid, status in chat.members.items() if status == "creator"
        )
        supergroup = FakeChat(
            id=-next(self._supergroup_ids),
            type="supergroup",
            title=chat.title,
            members=dict(chat.members),
        )
        self.state.chats[supergroup.id] = supergroup
        chat.migrated_to = supergroup.id
        self._deliver(
            "message",
            self.state.add_message(chat, upgrader, migrate_to_chat_id=supergroup.id),
        )
        self._deliver(
            "message",
            self.state.add_message(supergroup, upgrader, migrate_from_chat_id=chat.id),
        )
        return supergroup

    def add_member(self, chat: FakeChat, user: FakeUser) -> None:
        """``user`` joins an existing group (no service message: the sandbox sends none)."""
        if not chat.is_group:
            raise ValueError(f"chat {chat.id} is not a group")
        chat.members.setdefault(user.id, "member")
        self.state.notify()

    async def user_send(
        self,
        user: FakeUser,
        text: str,
        chat: FakeChat | None = None,
        *,
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        """``user`` sends ``text`` (to the bot's private chat unless ``chat`` is given)."""
        target = self._chat_for(user, chat)
        entities = detect_entities(text)
        live_reply = target.messages.get(reply_to.message_id) if reply_to else None
        message = self.state.add_message(
            target, user, text=text, entities=entities, reply_to=live_reply
        )
        self._deliver("message", message)
        return message.snapshot()

    async def user_send_photo(
        self,
        user: FakeUser,
        data: bytes,
        caption: str | None = None,
        chat: FakeChat | None = None,
    ) -> FakeMessage:
        """``user`` sends a photo (PNG, GIF or JPEG bytes) with an optional caption."""
        target = self._chat_for(user, chat)
        try:
            file = botapi.store_file(self.state, Upload(data, mime_type="image/jpeg"), "photo")
        except ApiError as error:
            raise ValueError(f"not an image: {error.description}") from None
        message = self.state.add_message(
            target,
            user,
            photo=file.photo_sizes(),
            caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
        )
        self._deliver("message", message)
        return message.snapshot()

    async def user_send_document(
        self,
        user: FakeUser,
        data: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat: FakeChat | None = None,
    ) -> FakeMessage:
        """``user`` sends a file (a document) with an optional caption."""
        target = self._chat_for(user, chat)
        file = botapi.store_file(
            self.state, Upload(data, filename=file_name, mime_type=mime_type), "document"
        )
        message = self.state.add_message(
            target,
            user,
            document=file.document_json(),
            caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
        )
        self._deliver("message", message)
        return message.snapshot()

    async def user_press(self, user: FakeUser, message: FakeMessage, callback_data: str) -> str:
        """``user`` presses the inline button with ``callback_data`` under ``message``.

        Returns the callback query id, to check the bot's answer with
        :meth:`callback_answer` or :meth:`wait_for_callback_answer`.
        """
        live = message.chat.messages.get(message.message_id)
        if live is None:
            raise ValueError(f"message {message.message_id} is gone")
        if not any(b.get("callback_data") == callback_data for row in live.buttons for b in row):
            raise ValueError(f"no button with callback_data {callback_data!r}")
        self._check_member(user, live.chat)
        query = FakeCallbackQuery(
            id=str(4_000_000_000_000_000 + self.state.unique_number()),
            user=user,
            message=live.snapshot(),
            data=callback_data,
            created_at=self.state.clock(),
        )
        self.state.callback_queries[query.id] = query
        self.state.enqueue_update(
            "callback_query",
            {
                "id": query.id,
                "from": user.to_json(),
                "message": live.to_json(),
                "chat_instance": live.chat.instance,
                "data": callback_data,
            },
        )
        return query.id

    async def block_bot(self, user: FakeUser) -> None:
        """``user`` blocks the bot: it gets a ``my_chat_member`` and 403 on writing to them."""
        if user.blocked_bot:
            return
        user.blocked_bot = True
        self._private_status_update(user, "member", "kicked")

    async def unblock_bot(self, user: FakeUser) -> None:
        """``user`` unblocks the bot again."""
        if not user.blocked_bot:
            return
        user.blocked_bot = False
        self._private_status_update(user, "kicked", "member")

    def _chat_for(self, user: FakeUser, chat: FakeChat | None) -> FakeChat:
        if chat is None:
            if user.blocked_bot:
                raise ValueError(f"{user.first_name} blocked the bot; unblock_bot() first")
            user.started_bot = True
            return self.state.private_chat(user)
        self._check_member(user, chat)
        return chat

    @staticmethod
    def _check_member(user: FakeUser, chat: FakeChat) -> None:
        if chat.user is not None:
            if chat.user is not user:
                raise ValueError(f"{user.first_name} is not in chat {chat.id}")
        elif chat.migrated_to is not None:
            raise ValueError(f"{chat.title!r} is now the supergroup {chat.migrated_to}")
        elif chat.members.get(user.id) in (None, "left", "kicked"):
            raise ValueError(f"{user.first_name} is not a member of {chat.title!r}")

    def _deliver(self, kind: str, message: FakeMessage) -> None:
        if self._bot_sees(message):
            self.state.enqueue_update(kind, message.to_json())

    def _bot_sees(self, message: FakeMessage) -> bool:
        chat = message.chat
        if not chat.is_group:
            return True
        status = chat.members.get(self.bot.id)
        if status in (None, "left", "kicked"):
            return False
        if message.is_service or not self.state.privacy_mode:
            return True
        if status in ("administrator", "creator"):
            return True
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        text = message.text if message.text is not None else message.caption or ""
        name = (self.bot.username or "").lower()
        for entity in message.entities or message.caption_entities:
            if entity["type"] != "bot_command":
                continue
            command = text.encode("utf-16-le")[
                2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])
            ].decode("utf-16-le")
            _, _, addressee = command.partition("@")
            if not addressee or addressee.lower() == name:
                return True
        return False

    async def _set_bot_status(self, chat: FakeChat, by: FakeUser, status: MemberStatus) -> None:
        old = chat.members.get(self.bot.id, "left")
        chat.members[self.bot.id] = status
        self.state.enqueue_update(
            "my_chat_member",
            {
                "chat": chat.to_json(),
                "from": by.to_json(),
                "date": self.state.now(),
                "old_chat_member": member_json(self.bot, old),
                "new_chat_member": member_json(self.bot, status),
            },
        )

    def _private_status_update(self, user: FakeUser, old: MemberStatus, new: MemberStatus) -> None:
        chat = self.state.private_chat(user)
        self.state.enqueue_update(
            "my_chat_member",
            {
                "chat": chat.to_json(),
                "from": user.to_json(),
                "date": self.state.now(),
                "old_chat_member": member_json(self.bot, old),
                "new_chat_member": member_json(self.bot, new),
            },
        )

    # Observing -----------------------------------------------------------------------------

    def user(self, user_id: int) -> FakeUser:
        """A person by id (KeyError if unknown)."""
        return self.state.users[user_id]

    def users(self) -> list[FakeUser]:
        """Everyone the sandbox knows, the bot excluded."""
        return list(self.state.users.values())

    def chat(self, chat_id: int) -> FakeChat:
        """A chat by id (KeyError if unknown)."""
        return self.state.chats[chat_id]

    def chats(self) -> list[FakeChat]:
        """Every chat, private chats included once they exist."""
        return list(self.state.chats.values())

    def messages(self, chat_id: int) -> list[FakeMessage]:
        """Snapshots of the messages currently in a chat (deleted ones are gone), oldest first."""
        chat = self.state.chats.get(chat_id)
        return [] if chat is None else [m.snapshot() for m in chat.messages.values()]

    def message(self, chat_id: int, message_id: int) -> FakeMessage:
        """A snapshot of a message's current state, after any edits (KeyError if none)."""
        return self.state.chats[chat_id].messages[message_id].snapshot()

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot."""
        return list(self.state.updates)

    def pending_bot_messages(self, chat_id: int) -> list[FakeMessage]:
        """Bot messages and edits in a chat that no wait_for_bot_message has taken yet."""
        return list(self.state.bot_outbox.get(chat_id, []))

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        """How the bot answered a callback query, or None while unanswered."""
        return self.state.callback_queries[query_id].answer

    def visible_commands(self, user: FakeUser, chat: FakeChat | None = None) -> list[JSONDict]:
        """The command list ``user`` sees in ``chat`` (their private chat by default).

        Follows Telegram's choice of the most specific scope and the user's language.
        """
        target = chat or self.state.private_chat(user)
        if target.is_group:
            admin = target.members.get(user.id) in ("administrator", "creator")
            scopes: list[botapi.ScopeKey] = [("chat_member", target.id, user.id)]
            if admin:
                scopes.append(("chat_administrators", target.id, None))
            scopes.append(("chat", target.id, None))
            if admin:
                scopes.append(("all_chat_administrators", None, None))
            scopes.append(("all_group_chats", None, None))
        else:
            scopes = [("chat", target.id, None), ("all_private_chats", None, None)]
        scopes.append(("default", None, None))
        languages = [user.language_code, ""] if user.language_code else [""]
        for scope in scopes:
            for language in languages:
                commands = self.state.commands.get((scope, language))
                if commands:
                    return list(commands)
        return []

    async def wait_for_bot_message(
        self,
        chat_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - one deadline per wait keeps tests short to write
        predicate: Callable[[FakeMessage], bool] | None = None,
    ) -> FakeMessage:
        """Takes the oldest bot message or edit in ``chat_id`` not taken before.

        With ``predicate``, takes the oldest one it accepts and leaves the others. An edit
        arrives as a snapshot with ``edit_date`` set. Raises TimeoutError after ``timeout``.
        """

        def take() -> FakeMessage | None:
            outbox = self.state.bot_outbox.get(chat_id, [])
            for index, message in enumerate(outbox):
                if predicate is None or predicate(message):
                    return outbox.pop(index)
            return None

        try:
            async with asyncio.timeout(timeout):
                return await self.state.wait_for(take, chat_id=chat_id)
        except TimeoutError:
            raise TimeoutError(
                f"the bot sent nothing matching to chat {chat_id} within {timeout} s"
            ) from None

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - as in wait_for_bot_message
    ) -> CallbackAnswer:
        """Waits until the bot answers the callback query; TimeoutError after ``timeout``."""
        query = self.state.callback_queries[query_id]
        try:
            async with asyncio.timeout(timeout):
                return await self.state.wait_for(lambda: query.answer)
        except TimeoutError:
            raise TimeoutError(f"callback query {query_id} unanswered after {timeout} s") from None

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - as in wait_for_bot_message
    ) -> None:
        """Waits until ``condition()`` holds, checking after every change in the sandbox.

        Raises TimeoutError after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            await self.state.wait_for(lambda: True if condition() else None)

    def subscribe(self) -> asyncio.Queue[JSONDict]:
        """A queue of event dicts from now on, each with a ``type``.

        Types: ``update`` (queued for the bot), ``message`` (any new message), ``edit``,
        ``delete``, ``callback_answer``, ``chat_action``.
        """
        return self.state.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[JSONDict]) -> None:
        """Stops feeding a queue from :meth:`subscribe`."""
        self.state.unsubscribe(queue)
