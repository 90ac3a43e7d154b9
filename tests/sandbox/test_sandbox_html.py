"""parse_mode HTML against TDLib's own parse_html cases, and entity bookkeeping."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.sandbox.entities import detect_entities, trim_formatted, utf16_len
from assistant.sandbox.html import EntityParseError, parse_html

# Cases from TDLib's test/message_entities.cpp (check_parse_html).
ERRORS = [
    ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
    ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
    ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    (
        "🏟 🏟&lt;<i>a</em   >",
        'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    ),
    (
        "&#57311;",
        "Text contains invalid Unicode characters after decoding HTML entities, "
        "check for unmatched surrogate code units",
    ),
    ('<tg-time unix="1" format="rt">x</tg-time>', "Invalid date format used"),
]

PARSED = [
    ("&ge;&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '&ge;<>&"&laquo;&raquo;&#12345678;', []),
    ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", [("italic", 5, 5)]),
    ("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>", "🏟 🏟🏟 ><🏟", [("italic", 5, 7), ("bold", 9, 3)]),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.>a</i>", "🏟 🏟<a", [("italic", 6, 1)]),
    ("🏟 🏟&lt;<i>🏟 🏟&lt;</>", "🏟 🏟<🏟 🏟<", [("italic", 6, 6)]),
    ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
    (
        "<code><i><b> </b></i></code><i><b><code> </code></b></i>",
        "  ",
        [
            ("code", 0, 1),
            ("bold", 0, 1),
            ("italic", 0, 1),
            ("code", 1, 1),
            ("bold", 1, 1),
            ("italic", 1, 1),
        ],
    ),
    ("<i><b> </b> <code> </code></i>", "   ", [("italic", 0, 3), ("bold", 0, 1), ("code", 2, 1)]),
    (
        '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>',
        "xy",
        [("spoiler", 0, 1), ("spoiler", 1, 1)],
    ),
    (
        "<u>a</u><ins>b</ins><s>c</s><del>d</del>",
        "abcd",
        [
            ("underline", 0, 1),
            ("underline", 1, 1),
            ("strikethrough", 2, 1),
            ("strikethrough", 3, 1),
        ],
    ),
    ("<a> </a>", " ", []),
    ("<a>telegram.org </a>", "telegram.org ", []),
    ("🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>", "🏟 🏟<🏟 🏟<", [("pre", 6, 6), ("code", 6, 6)]),
    (
        "<blockquote   expandable=false>a&lt;<pre  >b;</></>",
        "a<b;",
        [("expandable_blockquote", 0, 4), ("pre", 2, 2)],
    ),
]


@pytest.mark.parametrize(("markup", "error"), ERRORS)
def test_rejected_markup(markup: str, error: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(markup)
    assert str(caught.value) == error


@pytest.mark.parametrize(("markup", "text", "entities"), PARSED)
def test_parsed_markup(markup: str, text: str, entities: list[tuple[str, int, int]]) -> None:
    parsed_text, parsed = parse_html(markup)
    assert parsed_text == text
    assert [(e["type"], e["offset"], e["length"]) for e in parsed] == entities


def test_links_languages_emoji_and_mentions() -> None:
    _, entities = parse_html(
        "<a href='telegram.org?&lt;'>t</a> <a href=\"tg://user?id=7\">Ann</a> "
        '<pre><code class="language-python">x</code></pre> <tg-emoji emoji-id="5">🙂</tg-emoji>',
        resolve_user=lambda uid: {"id": uid, "is_bot": False, "first_name": "Ann"},
    )
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 1, "url": "http://telegram.org/?<"},
        {
            "type": "text_mention",
            "offset": 2,
            "length": 3,
            "user": {"id": 7, "is_bot": False, "first_name": "Ann"},
        },
        {"type": "pre", "offset": 6, "length": 1, "language": "python"},
        {"type": "custom_emoji", "offset": 8, "length": 2, "custom_emoji_id": "5"},
    ]


@given(st.text())
def test_escaped_text_comes_back_unchanged(text: str) -> None:
    assert parse_html(html.escape(text)) == (text, [])


def test_utf16_offsets_trimming_and_detection() -> None:
    assert utf16_len("a🏟b") == 4
    text, entities = trim_formatted("  🏟 bold  ", [{"type": "bold", "offset": 0, "length": 9}])
    assert (text, entities) == ("🏟 bold", [{"type": "bold", "offset": 0, "length": 7}])
    found = detect_entities("🏟 /start@my_bot hi @someone #laundry_day mail me@example.org")
    assert [(e["type"], e["offset"], e["length"]) for e in found] == [
        ("email", 47, 14),
        ("bot_command", 3, 13),
        ("mention", 20, 8),
        ("hashtag", 29, 12),
    ]
