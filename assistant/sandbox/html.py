"""``parse_mode=HTML`` parsed the way Telegram parses it.

This follows TDLib's ``parse_html`` step by step, so the sandbox accepts exactly the markup that
Telegram accepts and rejects the rest with Telegram's own words and byte offsets (offsets count
UTF-8 bytes of the markup). Only Telegram's tags are allowed: ``b strong i em u ins s strike del
tg-spoiler span.tg-spoiler a code pre blockquote tg-emoji tg-time``. Outside tags only ``&lt;
&gt; &amp; &quot;`` and numeric references are decoded; any other ``&`` stays as it is.

Simplifications: a link target is checked and normalised loosely (a missing scheme becomes
``http://`` and an empty path ``/``); a ``tg://user?id=N`` link becomes a ``text_mention`` only
for users the sandbox knows and is dropped otherwise; a ``tg-time`` without a valid ``unix``
attribute yields no entity.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from assistant.sandbox.entities import JSONDict, sort_entities

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

# TDLib's is_space() counts the terminating NUL as space; the parser relies on that.
_SPACE = frozenset(b" \t\r\n\x0b\x00")
_NAME_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_NAMED_REFERENCES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_TIME_FORMAT = re.compile(r"r|[tTdDwW]*")
_USER_LINK = re.compile(r"tg://user\?id=(\d+)")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

UserResolver = Callable[[int], JSONDict | None]


class EntityParseError(ValueError):
    """Markup Telegram rejects; the message is Telegram's, as after "can't parse entities: "."""


@dataclass
class _OpenTag:
    name: str
    argument: str
    attributes: dict[str, str]
    utf16_offset: int
    result_offset: int


@dataclass
class _Parser:
    data: bytes
    resolve_user: UserResolver | None
    result: bytearray = field(default_factory=bytearray)
    utf16_offset: int = 0
    entities: list[JSONDict] = field(default_factory=list)
    stack: list[_OpenTag] = field(default_factory=list)
    has_surrogates: bool = False

    def at(self, i: int) -> int:
        """The byte at ``i``, or 0 past the end: TDLib reads a NUL-terminated string."""
        return self.data[i] if i < len(self.data) else 0

    def parse(self) -> tuple[str, list[JSONDict]]:
        i = 0
        while i < len(self.data):
            byte = self.data[i]
            if byte == ord("&"):
                char, end = self.reference(i)
                if char:
                    self.append_char(char)
                    i = end
                    continue
            if byte != ord("<"):
                if byte & 0xC0 != 0x80:
                    self.utf16_offset += 2 if byte >= 0xF0 else 1
                self.result.append(byte)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        if self.has_surrogates:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        for entity in self.entities:
            entity.pop("_language", None)
        return self.result.decode("utf-8"), sort_entities(self.entities)

    def reference(self, pos: int) -> tuple[int, int]:
        """Decodes a character reference at ``pos``: (code point or 0, position after it)."""
        end = pos + 1
        code = 0
        if self.at(end) == ord("#"):
            end += 1
            if self.at(end) == ord("x"):
                end += 1
                while self.at(end) in _HEX_DIGITS:
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while ord("0") <= self.at(end) <= ord("9"):
                    code = code * 10 + self.at(end) - ord("0")
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return 0, pos
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            named = _NAMED_REFERENCES.get(self.data[pos + 1 : end])
            if named is None:
                return 0, pos
            code = ord(named)
        if self.at(end) == ord(";"):
            end += 1
        return code, end

    def append_char(self, code: int) -> None:
        if 0xD800 <= code <= 0xDFFF:
            self.has_surrogates = True
        self.result += chr(code).encode("utf-8", "surrogatepass")
        self.utf16_offset += 2 if code > 0xFFFF else 1

    def skip_spaces(self, i: int) -> int:
        while self.at(i) != 0 and self.at(i) in _SPACE:
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        name = self.data[begin + 1 : i].lower().decode("utf-8", "replace")
        if name not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')

        attributes: dict[str, str] = {}
        while self.at(i) != ord(">"):
            i = self.skip_spaces(i)
            if self.at(i) == ord(">"):
                break
            if self.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            attribute_begin = i
            while self.at(i) not in _SPACE and self.at(i) not in (ord("="), ord(">")):
                i += 1
            attribute = self.data[attribute_begin:i].decode("utf-8", "replace")
            if not attribute:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {begin}'
                )
            i = self.skip_spaces(i)
            if self.at(i) != ord("="):
                attributes[attribute] = ""
                continue
            i = self.skip_spaces(i + 1)
            if self.at(i) == 0:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            attributes[attribute] = value
        argument = _tag_argument(name, attributes)
        if name == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_OpenTag(name, argument, attributes, self.utf16_offset, len(self.result)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in (ord('"'), ord("'")):
            token_begin = i
            while self.at(i) in _NAME_TOKEN:
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return self.data[token_begin:i].lower().decode("utf-8", "replace"), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == ord("&"):
                char, end = self.reference(i)
                if char:
                    value += chr(char).encode("utf-8", "surrogatepass")
                    i = end
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        end_name = self.data[begin + 2 : i].decode("utf-8", "replace")
        while self.at(i) in _SPACE and self.at(i) != 0:
            i += 1
        if self.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        opened = self.stack[-1]
        if end_name and end_name != opened.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {begin}, "
                f'expected "</{opened.name}>", found "</{end_name}>"'
            )
        if self.utf16_offset > opened.utf16_offset:
            self.close_entity(opened)
        self.stack.pop()
        return i + 1

    def close_entity(self, opened: _OpenTag) -> None:
        offset = opened.utf16_offset
        length = self.utf16_offset - offset
        span: JSONDict = {"offset": offset, "length": length}
        name = opened.name
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == length
        if name in _SIMPLE_TAGS:
            self.entities.append({"type": _SIMPLE_TAGS[name], **span})
        elif name == "blockquote":
            kind = "expandable_blockquote" if opened.argument else "blockquote"
            self.entities.append({"type": kind, **span})
        elif name == "tg-emoji":
            if not opened.argument.isdigit():
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                {"type": "custom_emoji", **span, "custom_emoji_id": opened.argument}
            )
        elif name == "a":
            self.close_link(opened, span)
        elif name == "pre":
            # <code class="language-x"> directly inside <pre> turns the pair into one pre entity.
            if last is not None and same_span and last["type"] == "code" and last["_language"]:
                last.update(type="pre", language=last.pop("_language"))
            else:
                self.entities.append({"type": "pre", **span})
        elif name == "code":
            if last is not None and same_span and last["type"] == "pre" and opened.argument:
                last["language"] = opened.argument
            else:
                self.entities.append({"type": "code", **span, "_language": opened.argument})
        elif name == "tg-time":
            self.close_time(opened, span)

    def close_link(self, opened: _OpenTag, span: JSONDict) -> None:
        url = opened.argument or self.result[opened.result_offset :].decode("utf-8", "replace")
        mention = _USER_LINK.fullmatch(url)
        if mention:
            user = self.resolve_user(int(mention.group(1))) if self.resolve_user else None
            if user is not None:
                self.entities.append({"type": "text_mention", **span, "user": user})
            return
        normalized = normalize_url(url)
        if normalized is not None:
            self.entities.append({"type": "text_link", **span, "url": normalized})

    def close_time(self, opened: _OpenTag, span: JSONDict) -> None:
        time_format = opened.attributes.get("format", "")
        if not _TIME_FORMAT.fullmatch(time_format):
            raise EntityParseError("Invalid date format used")
        unix = opened.attributes.get("unix", "")
        if not unix.isdigit():
            return
        entity: JSONDict = {"type": "date_time", **span, "unix_time": int(unix)}
        if time_format:
            entity["date_time_format"] = time_format
        self.entities.append(entity)


def _tag_argument(name: str, attributes: dict[str, str]) -> str:
    """The one attribute TDLib keeps for a tag (its "argument")."""
    if name == "a":
        return attributes.get("href", "")
    if name == "code":
        css = attributes.get("class", "")
        return css.removeprefix("language-") if css.startswith("language-") else ""
    if name == "span":
        css = attributes.get("class", "")
        return css.removeprefix("tg-") if css.startswith("tg-") else ""
    if name == "tg-emoji":
        return attributes.get("emoji-id", "")
    if name == "blockquote":
        return "1" if "expandable" in attributes else ""
    return ""


def normalize_url(url: str) -> str | None:
    """A link target as Telegram stores it, or None where Telegram would drop the link."""
    if not url or any(char.isspace() for char in url):
        return None
    scheme_match = _URL_SCHEME.match(url)
    if scheme_match is None:
        url = "http://" + url
        scheme = "http"
    else:
        scheme = scheme_match.group(1).lower()
    if scheme in ("tg", "ton", "tonsite"):
        return url
    if scheme not in ("http", "https", "ftp"):
        return None
    parts = urlsplit(url)
    if not parts.netloc:
        return None
    return urlunsplit(
        (scheme, parts.netloc.lower(), parts.path or "/", parts.query, parts.fragment)
    )


def parse_html(
    markup: str, *, resolve_user: UserResolver | None = None
) -> tuple[str, list[JSONDict]]:
    """Turns Telegram HTML into the plain text and the entities Telegram would store.

    ``resolve_user`` maps a user id to its User JSON for ``tg://user?id=`` links.
    Raises EntityParseError with Telegram's message when Telegram would reject the markup.
    """
    return _Parser(markup.encode("utf-8"), resolve_user).parse()
