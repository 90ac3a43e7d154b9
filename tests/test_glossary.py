"""The bot's names come from docs/glossary.md, and it says 您, never 你.

Every role, office, status and room name the bot renders (the `_names.j2` macros, the room kinds,
the web chat's picker) is read against the glossary's tables in both languages, and the words the
glossary avoids are looked for wherever the bot says things.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import demo
from assistant.config import REPO_ROOT
from assistant.domain import FunctionalRoomKind, PersonStatus, Role
from assistant.texts import Texts

GLOSSARY = REPO_ROOT / "docs" / "glossary.md"
texts = Texts(REPO_ROOT / "conversations")


def tables() -> dict[str, list[dict[str, str]]]:
    """The glossary's tables by their section's heading: a row is a dict of the header's cells."""
    found: dict[str, list[dict[str, str]]] = {}
    heading, header = "", list[str]()
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading, header = line[3:], []
            continue
        if not line.startswith("|"):
            header = [] if not line.strip() else header
            continue
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if not header:
            header = cells
        elif set(line) - set("|-: "):
            found.setdefault(heading, []).append(dict(zip(header, cells, strict=True)))
    return found


def table(title: str) -> list[dict[str, str]]:
    """The rows of the one table whose heading starts with ``title``."""
    [rows] = [rows for heading, rows in tables().items() if heading.startswith(title)]
    return rows


def by_key(title: str) -> dict[str, dict[str, str]]:
    return {row["key"]: row for row in table(title)}


def macro(language: str, name: str, *args: str) -> str:
    """What a macro of ``_names.j2`` renders, as the person reads it (the HTML undone)."""
    module = texts.env.get_template(f"{language}/_names.j2").module
    return html.unescape(str(getattr(module, name)(*args)))


def same_word(shown: str, *names: str) -> bool:
    """Whether ``shown`` is one of ``names``, a capital first letter aside."""
    return any(shown[:1].lower() + shown[1:] == name[:1].lower() + name[1:] for name in names)


def plurals(*names: str) -> tuple[str, ...]:
    """Each of ``names`` and its plural ("secretary", "secretaries")."""
    more = [f"{n[:-1]}ies" if n.endswith("y") else f"{n}s" for n in names]
    return (*names, *more)


def test_the_glossary_names_every_role_status_and_room_once() -> None:
    assert sorted(by_key("Roles")) == sorted(role.value for role in Role)
    assert sorted(by_key("Statuses")) == sorted(status.value for status in PersonStatus)
    assert sorted(by_key("Rooms")) == sorted(kind.value for kind in FunctionalRoomKind)
    for title in ("Roles", "Statuses", "Rooms"):
        assert len(table(title)) == len(by_key(title)), f"a key twice in {title}"


@pytest.mark.parametrize("role", list(Role))
def test_every_role_and_office_is_rendered_by_its_glossary_name(role: Role) -> None:
    row = by_key("Roles")[role]
    assert macro("zh-CN", "role_name", role) == row["中文"]
    assert macro("en", "role_name", role) == row["English"]


@pytest.mark.parametrize("status", list(PersonStatus))
def test_every_status_is_rendered_by_its_glossary_name(status: PersonStatus) -> None:
    row = by_key("Statuses")[status]
    assert macro("zh-CN", "status_name", status) == row["中文"]
    assert macro("en", "status_name", status) == row["English"]


@pytest.mark.parametrize("kind", list(FunctionalRoomKind))
def test_every_kind_of_room_is_rendered_by_its_glossary_name(kind: FunctionalRoomKind) -> None:
    row = by_key("Rooms")[kind]
    assert html.unescape(texts.render("zh-CN", "booking_room_kind", kind=kind)) == row["中文"]
    assert html.unescape(texts.render("en", "booking_room_kind", kind=kind)) == row["English"]


@pytest.mark.parametrize("role", list(Role))
def test_the_picker_names_each_role_by_its_full_or_short_glossary_name(role: Role) -> None:
    row = by_key("Roles")[role]
    zh, en, section = demo._ROLES[role]
    assert zh in (row["中文"], row["简称"])
    assert same_word(en, row["English"], row["short"])
    # A section is the role's name made plural, or the unit its holders form ("Expert panel").
    units = [name for unit in table("Organisations") for name in (unit["English"], unit["short"])]
    assert same_word(section, *plurals(row["English"], row["short"]), *units)


@pytest.mark.parametrize("status", list(PersonStatus))
def test_the_picker_names_each_status_by_its_glossary_name(status: PersonStatus) -> None:
    row = by_key("Statuses")[status]
    words = demo._STATUS[status]
    assert words.zh in (row["中文"], row["简称"])
    assert same_word(words.en, row["English"], row["short"])


def _files(*patterns: str) -> Iterator[Path]:
    for pattern in patterns:
        yield from sorted(REPO_ROOT.glob(pattern))


# Where the bot's Chinese lives: its templates, the conversations' labels, the rule files (their
# reasons, and the comments the people who keep them read), the code, and the web chat's page.
CHINESE = (
    "conversations/templates/zh-CN/**/*.j2",
    "conversations/*.yaml",
    "rules/*.yaml",
    "assistant/**/*.py",
    "assistant/sandbox/webchat_static/*",
)
ENGLISH = ("conversations/templates/en/**/*.j2", "conversations/*.yaml", "rules/*.yaml")


def _said(word: str, patterns: tuple[str, ...]) -> list[str]:
    """Every line of the files of ``patterns`` that holds ``word``, as path:line."""
    return [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in _files(*patterns)
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if word in line
    ]


def test_no_chinese_text_says_ni() -> None:
    # 您 is a character of its own, so looking for 你 never finds it inside 您.
    assert "你" not in "您"
    assert _said("你", CHINESE) == []


@pytest.mark.parametrize(
    "row", table("Words we avoid"), ids=lambda row: f"{row['language']}:{row['avoid']}"
)
def test_no_word_the_glossary_avoids_is_said(row: dict[str, str]) -> None:
    places = CHINESE if row["language"] == "zh" else ENGLISH
    assert _said(row["avoid"], places) == [], f"say {row['say instead']!r} instead"
