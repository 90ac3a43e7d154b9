"""Text every store can keep: what Telegram's JSON may carry that no store can.

JSON may carry a lone UTF-16 surrogate (as an escape) and a NUL. Neither store keeps a lone
surrogate (PostgreSQL refuses it even inside a JSON value), UTF-8 cannot encode it for Telegram,
and PostgreSQL's text cannot hold a NUL. Each becomes U+FFFD, which keeps every UTF-16 offset
(message entities count in those) where it was.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def well_formed(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate and each NUL replaced by U+FFFD."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    whole = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return whole.replace("\x00", REPLACEMENT)


def well_formed_json(value: Any) -> Any:
    """A parsed JSON value with every string in it (keys too) :func:`well_formed`."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return {well_formed(k): well_formed_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [well_formed_json(v) for v in value]
    return value
