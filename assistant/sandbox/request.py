"""The in-process face: a python-telegram-bot request backend that talks to a FakeTelegram.

PTB builds each call exactly as for the real Bot API and maps the answer with its own error
handling, so a bot under test behaves as it would against Telegram::

    tg = FakeTelegram()
    app = (
        ApplicationBuilder()
        .token(tg.token)
        .request(FakeRequest(tg))
        .get_updates_request(FakeRequest(tg))
        .build()
    )
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from assistant.sandbox.model import FakeTelegram
from assistant.sandbox.state import Upload

_API_PATH = re.compile(r".*/bot(?P<token>[^/]+)/(?P<method>[^/]+)")
_FILE_PATH = re.compile(r".*/file/bot(?P<token>[^/]+)/(?P<path>.+)")


class FakeRequest(BaseRequest):
    """Sends PTB's requests to ``tg`` instead of the network.

    A call that takes longer than its read timeout (only an injected ``timeout`` fault or a
    long poll outliving PTB's own timeout do) raises :class:`telegram.error.TimedOut`, as
    PTB's HTTP backend would.
    """

    def __init__(self, tg: FakeTelegram, read_timeout: float | None = 5.0) -> None:
        self._tg = tg
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when PTB passes none."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection pool."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answers one request with the HTTP status and body Telegram would send."""
        timeout = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        parts = urlsplit(url)
        download = _FILE_PATH.fullmatch(parts.path)
        if download is not None:
            return self._tg.download(unquote(download["token"]), unquote(download["path"]))
        api = _API_PATH.fullmatch(parts.path)
        if api is None:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        params = dict(parse_qsl(parts.query))
        files: dict[str, Upload] = {}
        if request_data is not None:
            params.update(request_data.json_parameters)
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[name] = Upload(data, filename, mime_type)
        try:
            status, envelope = await asyncio.wait_for(
                self._tg.call(unquote(api["token"]), api["method"], params, files), timeout
            )
        except TimeoutError as error:
            raise TimedOut(f"Timed out after {timeout} s (sandbox)") from error
        return status, json.dumps(envelope).encode()
