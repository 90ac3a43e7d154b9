"""Message entities as the Bot API reports them: UTF-16 offsets, automatic detection, ordering.

Telegram measures entity offsets and lengths in UTF-16 code units, finds commands, mentions,
hashtags, links and e-mail addresses in every message text by itself, and lists entities sorted
by offset, then by decreasing length, then by a fixed priority of their types (TDLib's order).
"""

from __future__ import annotations

import re
from typing import Any

JSONDict = dict[str, Any]

_WHITESPACE = " \t\r\n\x0b\x0c"

# TDLib's tie-break among entities that cover exactly the same text: lower comes first.
_TYPE_PRIORITY: dict[str, int] = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "mention": 50,
    "hashtag": 50,
    "cashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "date_time": 95,
    "custom_emoji": 99,
}

# Entities inside which Telegram does not look for links, commands or mentions.
_OPAQUE_TYPES = frozenset({"pre", "code", "text_link", "text_mention"})

# In order of precedence: an earlier pattern wins where two would overlap.
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"(?<![\w/@])(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")),
    (
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
    ),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#(?=\w*[^\W\d])\w{1,256}")),
)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    """Entities in the order Telegram lists them."""
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _TYPE_PRIORITY.get(e["type"], 50)),
    )


def detect_entities(text: str, existing: list[JSONDict] | None = None) -> list[JSONDict]:
    """Entities Telegram finds by itself in ``text``, avoiding code, pre and links in ``existing``.

    Returns only the detected entities; the caller merges them with its own.
    """
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e["type"] in _OPAQUE_TYPES
    ]
    found: list[JSONDict] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group())
            if any(start < stop and begin < end for begin, stop in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def trim_formatted(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strips leading and trailing whitespace as Telegram does, clipping entities to the rest.

    Entities that end up empty are dropped.
    """
    stripped_left = text.lstrip(_WHITESPACE)
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_WHITESPACE)
    size = utf16_len(result)
    clipped: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return result, clipped
