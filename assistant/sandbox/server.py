"""The HTTP face: the sandbox's Telegram as a local Bot API server, plus a small client API.

Bot API, as Telegram serves it (point PTB's ``base_url`` at :attr:`FakeTelegramServer.api_url`
and ``base_file_url`` at :attr:`FakeTelegramServer.file_url`):

* ``GET|POST /bot<token>/<method>``: parameters from the query string and from a urlencoded,
  JSON or multipart body (file parts become uploads). Errors carry Telegram's status, and a 429
  the ``Retry-After`` header.
* ``GET /file/bot<token>/<file_path>``: downloads of files that getFile described.
* Webhooks: once one is set, updates are POSTed to it (see :mod:`assistant.sandbox.webhook`).

Client API, to act as people (JSON in and out; errors are ``{"error": "..."}`` with 400 or 404):

* ``GET /sandbox/users``; ``POST /sandbox/users`` with ``first_name`` and optional
  ``last_name``, ``username``, ``language_code``: returns the User.
* ``GET /sandbox/chats``; ``POST /sandbox/groups`` with ``title``, ``member_ids`` and optional
  ``supergroup``: returns the Chat.
* ``GET /sandbox/chats/{chat_id}/messages``: the chat's messages as Bot API Message objects.
* ``POST /sandbox/messages`` with ``user_id``, ``text``, optional ``chat_id`` (default: the
  user's private chat with the bot) and ``reply_to_message_id``: returns the Message.
* ``POST /sandbox/presses`` with ``user_id``, ``chat_id``, ``message_id``, ``callback_data``:
  returns ``{"callback_query_id": ...}``.
* ``GET /sandbox/presses/{callback_query_id}``: ``{"answered": bool, "text", "show_alert"}``.

The server binds to loopback addresses only. Run it on its own with
``python -m assistant.sandbox.server --port 8081``; it prints its base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from assistant.sandbox.botapi import ApiError
from assistant.sandbox.entities import JSONDict
from assistant.sandbox.model import FakeTelegram
from assistant.sandbox.state import FakeChat, FakeUser, Upload
from assistant.sandbox.webhook import WebhookSender

T = TypeVar("T")

# Long polls still open at stop() are cut after this long.
_SHUTDOWN_TIMEOUT = 0.25


class FakeTelegramServer:
    """Serves a :class:`FakeTelegram` over HTTP on a loopback address."""

    def __init__(
        self,
        tg: FakeTelegram,
        *,
        webhook_initial_backoff: float = 0.05,
        webhook_max_backoff: float = 1.0,
    ) -> None:
        self.tg = tg
        self._webhook = WebhookSender(
            tg, initial_backoff=webhook_initial_backoff, max_backoff=webhook_max_backoff
        )
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("the server is not running")
        return self._base_url

    @property
    def api_url(self) -> str:
        """The value for PTB's ``base_url`` (the token gets appended)."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """The value for PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Starts serving and delivering webhooks; returns the base URL (port 0: any free one)."""
        if not _is_loopback(host):
            raise ValueError(f"the sandbox only listens on loopback addresses, not {host!r}")
        app = web.Application()
        app.add_routes(
            [
                web.route("*", "/bot{token}/{method}", self._api),
                web.get("/file/bot{token}/{path:.+}", self._download),
                web.get("/sandbox/users", self._list_users),
                web.post("/sandbox/users", self._add_user),
                web.get("/sandbox/chats", self._list_chats),
                web.post("/sandbox/groups", self._add_group),
                web.get("/sandbox/chats/{chat_id}/messages", self._chat_messages),
                web.post("/sandbox/messages", self._user_send),
                web.post("/sandbox/presses", self._user_press),
                web.get("/sandbox/presses/{query_id}", self._press_answer),
            ]
        )
        # Cancelling handlers of dropped connections ends long polls the client gave up on.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown_host = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown_host}:{bound_port}"
        await self._webhook.start()
        return self._base_url

    async def stop(self) -> None:
        """Stops webhook delivery and the server."""
        await self._webhook.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._base_url = None

    # Bot API -------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    error = ApiError(400, "Bad Request: can't parse JSON object")
                    return _envelope_response(error.status, error.envelope())
                params.update(body)
            elif request.content_type == "multipart/form-data":
                await _read_multipart(request, params, files)
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        status, envelope = await self.tg.call(
            request.match_info["token"], request.match_info["method"], params, files
        )
        return _envelope_response(status, envelope)

    async def _download(self, request: web.Request) -> web.Response:
        status, body = self.tg.download(request.match_info["token"], request.match_info["path"])
        content_type = "application/octet-stream" if status == 200 else "application/json"
        return web.Response(status=status, body=body, content_type=content_type)

    # Client API ----------------------------------------------------------------------------

    async def _list_users(self, request: web.Request) -> web.Response:
        return web.json_response([_user_info(user) for user in self.tg.users()])

    async def _add_user(self, request: web.Request) -> web.Response:
        async def act(body: JSONDict) -> Any:
            user = self.tg.add_user(
                _required(body, "first_name", str),
                last_name=_optional(body, "last_name", str),
                username=_optional(body, "username", str),
                language_code=_optional(body, "language_code", str),
            )
            return _user_info(user)

        return await _client_call(request, act)

    async def _list_chats(self, request: web.Request) -> web.Response:
        return web.json_response([chat.to_json() for chat in self.tg.chats()])

    async def _add_group(self, request: web.Request) -> web.Response:
        async def act(body: JSONDict) -> Any:
            member_ids = _required(body, "member_ids", list)
            members = [self._user(user_id) for user_id in member_ids]
            chat = await self.tg.add_group(
                _required(body, "title", str),
                members,
                supergroup=bool(body.get("supergroup", False)),
            )
            return chat.to_json()

        return await _client_call(request, act)

    async def _chat_messages(self, request: web.Request) -> web.Response:
        chat = self._chat(request.match_info["chat_id"])
        return web.json_response([m.to_json() for m in self.tg.messages(chat.id)])

    async def _user_send(self, request: web.Request) -> web.Response:
        async def act(body: JSONDict) -> Any:
            user = self._user(_required(body, "user_id", int))
            chat_id = _optional(body, "chat_id", int)
            chat = None if chat_id is None else self._chat(chat_id)
            reply_id = _optional(body, "reply_to_message_id", int)
            reply_to = None
            if reply_id is not None:
                reply_to = self.tg.message(chat.id if chat else user.id, reply_id)
            message = await self.tg.user_send(
                user, _required(body, "text", str), chat, reply_to=reply_to
            )
            return message.to_json()

        return await _client_call(request, act)

    async def _user_press(self, request: web.Request) -> web.Response:
        async def act(body: JSONDict) -> Any:
            user = self._user(_required(body, "user_id", int))
            message = self.tg.message(
                _required(body, "chat_id", int), _required(body, "message_id", int)
            )
            query_id = await self.tg.user_press(
                user, message, _required(body, "callback_data", str)
            )
            return {"callback_query_id": query_id}

        return await _client_call(request, act)

    async def _press_answer(self, request: web.Request) -> web.Response:
        try:
            answer = self.tg.callback_answer(request.match_info["query_id"])
        except KeyError:
            return web.json_response({"error": "unknown callback query"}, status=404)
        if answer is None:
            return web.json_response({"answered": False})
        return web.json_response(
            {"answered": True, "text": answer.text, "show_alert": answer.show_alert}
        )

    def _user(self, user_id: object) -> FakeUser:
        try:
            return self.tg.user(int(str(user_id)))
        except (KeyError, ValueError):
            raise _ClientError(404, f"unknown user {user_id}") from None

    def _chat(self, chat_id: object) -> FakeChat:
        try:
            return self.tg.chat(int(str(chat_id)))
        except (KeyError, ValueError):
            raise _ClientError(404, f"unknown chat {chat_id}") from None


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _envelope_response(status: int, envelope: JSONDict) -> web.Response:
    headers = {}
    retry_after = (envelope.get("parameters") or {}).get("retry_after")
    if status == 429 and retry_after:
        headers["Retry-After"] = str(retry_after)
    return web.json_response(envelope, status=status, headers=headers)


async def _read_multipart(
    request: web.Request, params: dict[str, Any], files: dict[str, Upload]
) -> None:
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            files[part.name] = Upload(
                bytes(await part.read()), part.filename, part.headers.get("Content-Type")
            )
        else:
            params[part.name] = await part.text()


def _user_info(user: FakeUser) -> JSONDict:
    return {**user.to_json(), "started_bot": user.started_bot, "blocked_bot": user.blocked_bot}


def _required(body: JSONDict, name: str, kind: type[T]) -> T:
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _ClientError(400, f"{name} must be a {kind.__name__}")
    return value


def _optional(body: JSONDict, name: str, kind: type[T]) -> T | None:
    return None if body.get(name) is None else _required(body, name, kind)


async def _client_call(
    request: web.Request, act: Callable[[JSONDict], Awaitable[Any]]
) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    try:
        return web.json_response(await act(body))
    except _ClientError as error:
        return web.json_response({"error": str(error)}, status=error.status)
    except KeyError as error:
        return web.json_response({"error": f"not found: {error.args[0]}"}, status=404)
    except ValueError as error:
        return web.json_response({"error": str(error)}, status=400)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.sandbox.server",
        description=(
            "Run the sandbox's fake Telegram Bot API server. Prints its base URL; point the "
            "bot's base_url at <base>/bot and base_file_url at <base>/file/bot. "
            "Stop it with Ctrl-C."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8081, help="port, 0 for any free one (default %(default)s)"
    )
    parser.add_argument(
        "--token", default="123456:TEST-TOKEN", help="the bot's token (default %(default)s)"
    )
    parser.add_argument(
        "--bot-username",
        default="community_assistant_bot",
        help="the bot's username (default %(default)s)",
    )
    parser.add_argument(
        "--bot-name",
        default="Community Assistant",
        help="the bot's first name (default %(default)s)",
    )
    parser.add_argument(
        "--flood-limits", action="store_true", help="answer 429 when the bot sends too fast"
    )
    parser.add_argument(
        "--no-privacy-mode",
        action="store_true",
        help="let the bot see every group message, as with privacy mode off",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    tg = FakeTelegram(
        args.token,
        bot_username=args.bot_username,
        bot_first_name=args.bot_name,
        flood_limits=args.flood_limits,
        privacy_mode=not args.no_privacy_mode,
    )
    server = FakeTelegramServer(tg)
    print(await server.start(args.host, args.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: serve until interrupted."""
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
