"""Both languages say everything, with the same variables, and nothing renders blank."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

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


# Days and times as people read them: the `day` and `day_time` filters ---------------------------

CAMPUS = ZoneInfo("Asia/Shanghai")
# 5 December 2026, 10:00 on campus.
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def shown(template: str, language: str, now: datetime = NOW, **variables: object) -> str:
    on_campus = Texts(REPO_ROOT / "conversations", campus=CAMPUS, clock=lambda: now)
    return on_campus.env.from_string(template).render(lang=language, **variables)


@pytest.mark.parametrize(
    ("language", "day", "expected"),
    [
        ("zh-CN", date(2026, 12, 8), "12月8日（周二）"),
        ("en", date(2026, 12, 8), "Tue 8 Dec"),
        # Next year's day says its year; this year's never does.
        ("zh-CN", date(2027, 1, 5), "2027年1月5日（周二）"),
        ("en", date(2027, 1, 5), "Tue 5 Jan 2027"),
        # A date step's answer, as stored.
        ("en", "2026-12-08", "Tue 8 Dec"),
    ],
)
def test_a_day_reads_the_same_everywhere(language: str, day: date | str, expected: str) -> None:
    assert shown("{{ d|day }}", language, d=day) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-CN", "12月8日（周二）00:30"), ("en", "Tue 8 Dec 00:30")],
)
def test_a_moment_is_shown_on_the_campus_clock(language: str, expected: str) -> None:
    # 16:30 UTC on the 7th is half past midnight on the 8th on campus.
    moment = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)
    assert shown("{{ m|day_time }}", language, m=moment) == expected
    assert shown("{{ m|day }}", language, m=moment) == expected.removesuffix("00:30").strip()
    assert shown("{{ m|day_time }}", language, m=moment.isoformat()) == expected


def test_a_date_and_a_time_answer_make_one_moment() -> None:
    assert shown("{{ d|day_time(t) }}", "zh-CN", d="2027-01-05", t="08:00") == (
        "2027年1月5日（周二）08:00"
    )


def test_the_current_year_is_the_campus_clocks() -> None:
    # 17:00 UTC on 31 December is already New Year's Day on campus.
    new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert shown("{{ d|day }}", "en", new_year, d=date(2027, 1, 5)) == "Tue 5 Jan"
    assert shown("{{ d|day }}", "en", new_year, d=date(2026, 12, 31)) == "Thu 31 Dec 2026"
