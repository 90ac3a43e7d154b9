"""The sandbox web chat: a page on which anyone can be any demo resident and talk to the bot.

The page (``webchat_static/``: plain HTML, JavaScript and CSS, in Chinese or English after the
browser, with a switch) lists the people a :class:`PeopleProvider` offers, searchable by every
word it gives for them, with the first things to try; acts as the one chosen through the sandbox's
:class:`~assistant.sandbox.FakeTelegram`, and shows that person's chats: the private chat with
the bot and the group chats they are in. Changes reach it live over Server-Sent Events fed by
:meth:`FakeTelegram.subscribe`.

HTTP API (JSON in and out; errors are ``{"error": "..."}`` with status 400, 404 or 413):

* ``GET /api/people``: ``{"people": [Person], "suggestions": [{"kind", "key", "command"}]}``; a
  Person is ``{"key", "name", "group", "label", "home", "terms"}``, its words in both languages
  (``{"zh", "en"}``; ``terms`` is one string of both); a suggestion is a first thing to try.
* ``POST /api/people/{key}/become``: ``{"user": User, "chats": [Chat]}``; the same user on every
  call for the same person.
* ``GET /api/users/{user_id}/chats``: ``{"chats": [Chat]}``: the private chat with the bot first
  (``id`` is the user's id, ``title`` the bot's name), then the groups the user is a member of.
  A Chat here is ``{"id", "type", "title", "members"}`` (``members``: count, groups only).
* ``GET /api/users/{user_id}/chats/{chat_id}/messages``: ``{"messages": [Message]}``, Bot API
  Message objects in their current state (after edits, without deleted ones), oldest first.
* ``POST /api/users/{user_id}/chats/{chat_id}/messages`` with ``{"text"}``: the user sends it;
  returns ``{"message": Message}``.
* ``POST /api/users/{user_id}/chats/{chat_id}/photos``, multipart with a ``photo`` file part
  (PNG, GIF or JPEG) and an optional ``caption`` field: returns ``{"message": Message}``.
* ``POST /api/users/{user_id}/chats/{chat_id}/presses`` with ``{"message_id", "callback_data"}``:
  the user presses that inline button; returns ``{"callback_query_id"}``.
* ``GET /api/users/{user_id}/chats/{chat_id}/commands``: ``{"commands": [BotCommand]}``, the
  command menu the user sees in that chat.
* ``GET /api/files/{file_id}``: a stored file's bytes: a photo to show in the page, or a
  document to download under its file name (``Content-Disposition: attachment``), with its
  ``mime_type`` (else one guessed from the name) as the Content-Type.
* ``GET /api/users/{user_id}/events``: ``text/event-stream``. Every event's ``data`` is one JSON
  object with a ``type``: first ``ready`` (the stream is live: load state now), then
  :meth:`FakeTelegram.subscribe` events of the chats the user is in (``message``, ``edit``,
  ``delete``, ``chat_action``) and ``callback_answer`` for the user's own presses.

``chat_id`` must be one of the user's chats, else 404. ``GET /`` serves the page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import mimetypes
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from assistant.sandbox.entities import JSONDict
from assistant.sandbox.model import FakeTelegram
from assistant.sandbox.state import FakeChat, FakeUser

T = TypeVar("T")

STATIC_DIR = Path(__file__).with_name("webchat_static")

# Telegram's own limit for uploaded photos.
_MAX_UPLOAD = 10 * 1024 * 1024
# Streams still open at stop() get this long to end on their own.
_SHUTDOWN_TIMEOUT = 0.5
_IN_CHAT = ("creator", "administrator", "member")
_CHAT_EVENTS = frozenset({"message", "edit", "delete", "chat_action"})
# Put into a stream's queue by stop(); compared by identity, so no sandbox event can match it.
_CLOSE: JSONDict = {"type": "close"}


@dataclass(frozen=True)
class Words:
    """A text in both languages of the page, which shows the one its reader chose."""

    zh: str
    en: str


@dataclass(frozen=True)
class SandboxPerson:
    """Someone the web chat lets you be."""

    key: str
    """A stable id, such as the student or staff number."""
    name: str
    """The person's name, e.g. 郑博嘉."""
    group: Words
    """The picker section the person is listed under, e.g. 层长 / Floor leaders."""
    label: Words
    """What they are, and where: e.g. 1号楼3层 层长 / Floor leader, Building 1 floor 3."""
    home: Words
    """Where they live, e.g. 1号楼101室 · 第一社区 / Building 1 room 101 · Community 1."""
    terms: str = ""
    """More that the picker's search finds them by, in both languages: codes such as B1-3,
    their floor, college, status."""


@dataclass(frozen=True)
class Suggestion:
    """A first thing to try: be person ``key`` and send ``command``."""

    kind: str
    """What it shows, which the page words: ``report``, ``approve`` or ``broadcast``."""
    key: str
    command: str


class PeopleProvider(Protocol):
    """Where the people of the web chat come from (the runner's is backed by the database)."""

    async def list_people(self) -> list[SandboxPerson]:
        """Everyone who can be picked, in the order the picker shows them."""
        ...

    async def suggestions(self) -> list[Suggestion]:
        """What a newcomer might try first, each as the person best placed to try it."""
        ...

    async def become(self, key: str) -> FakeUser:
        """The fake Telegram user acting as this person: the same user on every call."""
        ...


class _Problem(Exception):
    """A request the API refuses, answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class WebChat:
    """Serves the web chat page and its API for one :class:`FakeTelegram`."""

    def __init__(self, tg: FakeTelegram, people: PeopleProvider) -> None:
        self._tg = tg
        self._people = people
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Queue[JSONDict]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 8080) -> str:
        """Starts serving on a loopback address; returns the page's URL (port 0: any free one)."""
        if not _is_loopback(host):
            raise ValueError(f"the web chat only listens on loopback addresses, not {host!r}")
        app = web.Application(middlewares=[_json_errors], client_max_size=_MAX_UPLOAD)
        chat = "/api/users/{user_id}/chats/{chat_id}"
        app.add_routes(
            [
                web.get("/", _index),
                web.static("/static", STATIC_DIR),
                web.get("/api/people", self._list_people),
                web.post("/api/people/{key}/become", self._become),
                web.get("/api/users/{user_id}/chats", self._list_chats),
                web.get("/api/users/{user_id}/events", self._events),
                web.get(f"{chat}/messages", self._messages),
                web.post(f"{chat}/messages", self._send_text),
                web.post(f"{chat}/photos", self._send_photo),
                web.post(f"{chat}/presses", self._press),
                web.get(f"{chat}/commands", self._commands),
                web.get("/api/files/{file_id}", self._file),
            ]
        )
        # Cancelling the handlers of closed connections ends the streams of closed pages.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT, access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        shown_host = f"[{host}]" if ":" in host else host
        return f"http://{shown_host}:{runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Ends the open event streams and stops serving."""
        for queue in self._streams:
            queue.put_nowait(_CLOSE)
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # People --------------------------------------------------------------------------------

    async def _list_people(self, request: web.Request) -> web.Response:
        people = await self._people.list_people()
        suggestions = await self._people.suggestions()
        return _json(
            {
                "people": [dataclasses.asdict(person) for person in people],
                "suggestions": [dataclasses.asdict(each) for each in suggestions],
            }
        )

    async def _become(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not any(person.key == key for person in await self._people.list_people()):
            raise _Problem(404, f"unknown person {key}")
        user = await self._people.become(key)
        return _json({"user": user.to_json(), "chats": self._chats_of(user)})

    # Chats ---------------------------------------------------------------------------------

    async def _list_chats(self, request: web.Request) -> web.Response:
        return _json({"chats": self._chats_of(self._user(request))})

    async def _messages(self, request: web.Request) -> web.Response:
        user = self._user(request)
        chat = self._chat(user, request)
        messages = self._tg.messages(user.id if chat is None else chat.id)
        return _json({"messages": [message.to_json() for message in messages]})

    async def _send_text(self, request: web.Request) -> web.Response:
        user = self._user(request)
        chat = self._chat(user, request)
        text = (await _body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Problem(400, "text must be a non-empty string")
        message = await _act(self._tg.user_send(user, text, chat))
        return _json({"message": message.to_json()})

    async def _send_photo(self, request: web.Request) -> web.Response:
        user = self._user(request)
        chat = self._chat(user, request)
        if request.content_type != "multipart/form-data":
            raise _Problem(400, "send the photo as multipart/form-data")
        form = await request.post()
        photo, caption = form.get("photo"), form.get("caption")
        if not isinstance(photo, web.FileField):
            raise _Problem(400, "a photo file part is required")
        text = caption if isinstance(caption, str) and caption else None
        message = await _act(self._tg.user_send_photo(user, photo.file.read(), text, chat))
        return _json({"message": message.to_json()})

    async def _press(self, request: web.Request) -> web.Response:
        user = self._user(request)
        chat = self._chat(user, request)
        body = await _body(request)
        message_id, data = body.get("message_id"), body.get("callback_data")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise _Problem(400, "message_id (a number) and callback_data (a string) are required")
        try:
            message = self._tg.message(user.id if chat is None else chat.id, message_id)
        except KeyError:
            raise _Problem(404, f"unknown message {message_id}") from None
        query_id = await _act(self._tg.user_press(user, message, data))
        return _json({"callback_query_id": query_id})

    async def _commands(self, request: web.Request) -> web.Response:
        user = self._user(request)
        return _json({"commands": self._tg.visible_commands(user, self._chat(user, request))})

    async def _file(self, request: web.Request) -> web.Response:
        file = self._tg.state.files.get(request.match_info["file_id"])
        if file is None:
            raise _Problem(404, "unknown file")
        headers = {"X-Content-Type-Options": "nosniff"}
        if file.kind == "photo":
            headers["Content-Type"] = _image_type(file.data)
        else:
            # Never shown inline: a document could be HTML written by anyone.
            name = file.file_name or file.file_path.rpartition("/")[2]
            headers["Content-Type"] = (
                file.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            )
            headers["Content-Disposition"] = _attachment(name)
        return web.Response(body=file.data, headers=headers)

    # Live events ---------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        # Subscribed before "ready" goes out, so nothing after the page's next load is missed.
        queue = self._tg.subscribe()
        self._streams.add(queue)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await response.write(_sse({"type": "ready"}))
            while (event := await queue.get()) is not _CLOSE:
                if self._concerns(user, event):
                    await response.write(_sse(event))
        finally:
            self._tg.unsubscribe(queue)
            self._streams.discard(queue)
        return response

    def _concerns(self, user: FakeUser, event: JSONDict) -> bool:
        kind = event.get("type")
        if kind == "callback_answer":
            query = self._tg.state.callback_queries.get(event["callback_query_id"])
            return query is not None and query.user is user
        if kind not in _CHAT_EVENTS:
            return False
        chat_id = event["chat_id"]
        if chat_id == user.id:
            return True
        chat = self._tg.state.chats.get(chat_id)
        return chat is not None and _is_member(user, chat)

    # Helpers -------------------------------------------------------------------------------

    def _chats_of(self, user: FakeUser) -> list[JSONDict]:
        bot = self._tg.bot
        chats: list[JSONDict] = [{"id": user.id, "type": "private", "title": bot.first_name}]
        for chat in self._tg.chats():
            if chat.is_group and _is_member(user, chat):
                members = sum(status in _IN_CHAT for status in chat.members.values())
                chats.append(
                    {"id": chat.id, "type": chat.type, "title": chat.title, "members": members}
                )
        return chats

    def _user(self, request: web.Request) -> FakeUser:
        raw = request.match_info["user_id"]
        try:
            return self._tg.user(int(raw))
        except (KeyError, ValueError):
            raise _Problem(404, f"unknown user {raw}") from None

    def _chat(self, user: FakeUser, request: web.Request) -> FakeChat | None:
        """One of the user's chats; None for the private chat, which may not exist yet."""
        raw = request.match_info["chat_id"]
        try:
            chat_id = int(raw)
            if chat_id == user.id:
                return None
            chat = self._tg.chat(chat_id)
        except (KeyError, ValueError):
            chat = None
        if chat is None or not chat.is_group or not _is_member(user, chat):
            raise _Problem(404, f"chat {raw} is not one of user {user.id}'s chats")
        return chat


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Problem as problem:
        return web.json_response({"error": str(problem)}, status=problem.status)
    except web.HTTPClientError as error:
        if not request.path.startswith("/api/"):
            raise
        return web.json_response({"error": error.reason}, status=error.status)


async def _act(action: Awaitable[T]) -> T:
    """Awaits a FakeTelegram action, turning its refusals (ValueError) into a 400."""
    try:
        return await action
    except ValueError as error:
        raise _Problem(400, str(error)) from None


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _body(request: web.Request) -> JSONDict:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _Problem(400, "the body must be a JSON object")
    return body


def _json(data: JSONDict) -> web.Response:
    return web.json_response(data, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _sse(event: JSONDict) -> bytes:
    # json.dumps escapes newlines, so each event is exactly one data line.
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def _is_member(user: FakeUser, chat: FakeChat) -> bool:
    return chat.members.get(user.id) in _IN_CHAT


def _image_type(data: bytes) -> str:
    # The sandbox stores only PNG, GIF and JPEG photos.
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"GIF8"):
        return "image/gif"
    return "image/jpeg"


def _attachment(name: str) -> str:
    """A Content-Disposition that downloads as ``name`` (RFC 6266): browsers take the UTF-8
    ``filename*``; the plain ``filename`` keeps what ASCII it can for clients that do not."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
