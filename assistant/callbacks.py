"""Typed callback data: a short prefix and fields, checked against Telegram's 64-byte limit.

Callback data comes back from anyone who can press, forward or forge a button, so decoding is
strict and returns None for anything malformed; authority is always checked again by the service.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

MAX_BYTES = 64
_SEPARATOR = ":"


class CallbackDataError(ValueError):
    """Callback data that cannot be encoded (too long, or a field contains the separator)."""


@dataclass(frozen=True)
class CallbackCodec:
    """Encodes ``prefix:field1:field2`` and decodes it back into named fields."""

    prefix: str
    fields: tuple[str, ...]

    def pack(self, **values: str | int) -> str:
        """The callback data for ``values``; raises CallbackDataError when it cannot fit."""
        if set(values) != set(self.fields):
            raise CallbackDataError(f"{self.prefix}: expected fields {self.fields}")
        parts = [str(values[name]) for name in self.fields]
        if any(_SEPARATOR in part for part in parts):
            raise CallbackDataError(f"{self.prefix}: a field contains {_SEPARATOR!r}")
        data = _SEPARATOR.join([self.prefix, *parts])
        if not fits(data):
            raise CallbackDataError(f"{self.prefix}: {data!r} is not 1-{MAX_BYTES} bytes of UTF-8")
        return data

    def unpack(self, data: object) -> dict[str, str] | None:
        """The fields of ``data`` if it is this codec's, else None."""
        if not isinstance(data, str):
            return None
        prefix, *parts = data.split(_SEPARATOR)
        if prefix != self.prefix or len(parts) != len(self.fields):
            return None
        return dict(zip(self.fields, parts, strict=True))

    def matches(self, data: object) -> bool:
        """Whether ``data`` belongs to this codec (for CallbackQueryHandler's pattern)."""
        return self.unpack(data) is not None


LANGUAGE = CallbackCodec("lang", ("code",))
GRID_ISSUE = CallbackCodec("gi", ("issue", "action"))
APPROVAL = CallbackCodec("ap", ("request", "stage", "action"))


def fits(data: str) -> bool:
    """Whether ``data`` can be a button's callback data: 1 to 64 bytes of UTF-8."""
    try:
        return 0 < len(data.encode()) <= MAX_BYTES
    except UnicodeEncodeError:
        return False


def digest(value: str) -> str:
    """A short stand-in for ``value`` where the value itself does not fit in callback data:
    12 URL-safe characters (72 bits) of its SHA-256, never the separator."""
    hashed = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(hashed[:9]).decode()


MAX_ID = 2**31 - 1
"""The largest id a column holds; a forged larger one is simply unknown."""


def number(text: str, limit: int = MAX_ID) -> int | None:
    """A whole-number field of callback data, or None for anything else.

    Only ASCII digits count: ``"²".isdigit()`` is true, but ``int("²")`` fails.
    """
    if text.isascii() and text.isdigit() and int(text) <= limit:
        return int(text)
    return None
