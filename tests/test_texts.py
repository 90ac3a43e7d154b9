"""Both languages say everything, with the same variables, and nothing renders blank."""

from __future__ import annotations

import jinja2
import pytest
from jinja2 import meta

from assistant.config import REPO_ROOT
from assistant.texts import Texts, pick_language

texts = Texts(REPO_ROOT / "conversations")


def test_every_template_exists_in_both_languages() -> None:
    zh, en = texts.names("zh-CN"), texts.names("en")
    assert zh, "no templates found"
    assert zh - en == set(), "missing in en"
    assert en - zh == set(), "missing in zh-CN"


@pytest.mark.parametrize("name", sorted(texts.names("zh-CN")))
def test_languages_use_the_same_variables(name: str) -> None:
    def variables(language: str) -> set[str]:
        assert texts.env.loader is not None
        source = texts.env.loader.get_source(texts.env, f"{language}/{name}.j2")[0]
        return meta.find_undeclared_variables(texts.env.parse(source))

    assert variables("zh-CN") == variables("en")


def test_a_missing_variable_fails_instead_of_rendering_blank() -> None:
    with pytest.raises(jinja2.UndefinedError):
        texts.render("en", "link_linked")


def test_a_missing_template_fails() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        texts.render("en", "no_such_message")


def test_text_is_escaped_for_html_parse_mode() -> None:
    rendered = texts.render("en", "floor_unknown", address="<b>&")
    assert "&lt;b&gt;&amp;" in rendered


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-GB", "en"),
        ("EN", "en"),
        ("de", "zh-CN"),
        (None, "zh-CN"),
        ("", "zh-CN"),
    ],
)
def test_pick_language(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected
