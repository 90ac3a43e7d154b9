"""Every message the bot says comes from a Jinja2 template under ``conversations/templates``.

One environment for the whole program: HTML autoescaping (messages go out with parse_mode HTML),
trimmed blocks, and StrictUndefined so that a missing variable fails loudly instead of showing a
blank to a student.

Days and times are shown one way everywhere people read them, by :func:`show_day` and
:func:`show_day_time` (the ``day`` and ``day_time`` filters): "12月8日（周二）08:00" /
"Tue 8 Dec 08:00", on the campus clock, with the year only when it is not the current one there.
Machine-facing forms (exports, .ics, logs, callback data, typed input) keep ISO.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from assistant.domain import CAMPUS_TIMEZONE, LANGUAGES, Language, reference

DEFAULT_LANGUAGE: Language = "zh-CN"


def pick_language(code: str | None, fallback: Language = DEFAULT_LANGUAGE) -> Language:
    """Map a Telegram ``language_code`` or a ``/lang`` argument onto one of our languages."""
    if not code:
        return fallback
    lowered = code.lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return fallback


_ZH_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def show_day(language: Language, day: date, today: date) -> str:
    """``day`` as people read it: "12月8日（周二）" / "Tue 8 Dec".

    The year is shown only when it is not ``today``'s: on 5 December next January's days say
    2027, this year's never do, so a glance tells which is meant without crowding every line.
    """
    other_year = day.year != today.year
    if language == "zh-CN":
        year = f"{day.year}年" if other_year else ""
        return f"{year}{day.month}月{day.day}日（周{_ZH_WEEKDAYS[day.weekday()]}）"
    year = f" {day.year}" if other_year else ""
    return f"{_EN_WEEKDAYS[day.weekday()]} {day.day} {_EN_MONTHS[day.month - 1]}{year}"


def show_day_time(language: Language, moment: datetime, today: date, campus: tzinfo) -> str:
    """``moment`` on the campus clock: "12月8日（周二）08:00" / "Tue 8 Dec 08:00".

    A naive ``moment`` is taken to be campus time already (a slot's start, a rule's hour).
    """
    local = moment.astimezone(campus) if moment.tzinfo is not None else moment
    gap = "" if language == "zh-CN" else " "
    return f"{show_day(language, local.date(), today)}{gap}{local:%H:%M}"


def _language(context: Context) -> Language:
    """The language of the template a filter runs in: its folder. A macro imported from another
    template does not see the caller's ``lang``, but its own template is in the same language."""
    folder = (context.name or "").partition("/")[0]
    # A template made from a string (no folder) says it with ``lang``.
    wanted = folder if context.name else context["lang"]
    for language in LANGUAGES:
        if wanted == language:
            return language
    raise ValueError(f"no language for template {context.name!r}")


class Texts:
    """Renders named templates in a language.

    ``campus`` and ``clock`` say what "today" is for the year rule of :func:`show_day`; the
    application hands over its own (the injected clock in tests).
    """

    def __init__(
        self,
        conversations_dir: Path,
        *,
        campus: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.campus = campus or ZoneInfo(CAMPUS_TIMEZONE)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.root = conversations_dir / "templates"
        self.env = Environment(
            loader=FileSystemLoader(self.root),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            # Read once, as the rule files are: a change takes effect at the next start, after
            # `assistant check` has seen it, and no message costs a look at the disk.
            auto_reload=False,
            # Every template stays compiled; the default 400 is fewer than there are.
            cache_size=-1,
        )
        # Every message names a thing by the same reference ("B-12"), whoever reads it.
        self.env.globals["ref"] = reference
        self.env.filters["day"] = self._day_filter
        self.env.filters["day_time"] = self._day_time_filter

    def today(self) -> date:
        """Today on the campus clock."""
        return self.clock().astimezone(self.campus).date()

    def day(self, language: Language, value: date | datetime | str) -> str:
        """A day (a date, a moment, or a date answer as stored: ISO) as people read it."""
        if isinstance(value, str):
            value = date.fromisoformat(value)
        if isinstance(value, datetime):
            value = (value.astimezone(self.campus) if value.tzinfo is not None else value).date()
        return show_day(language, value, self.today())

    def day_time(self, language: Language, moment: datetime) -> str:
        """A moment, on the campus clock, as people read it."""
        return show_day_time(language, moment, self.today(), self.campus)

    @pass_context
    def _day_filter(self, context: Context, value: date | datetime | str) -> str:
        return self.day(_language(context), value)

    @pass_context
    def _day_time_filter(
        self, context: Context, value: datetime | date | str, at: time | str | None = None
    ) -> str:
        # A date step's answer and a time step's answer ("2026-12-08", "08:00") make one moment.
        # A moment kept in stored answers is ISO text.
        if at is not None:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            hour = at if isinstance(at, time) else time.fromisoformat(at)
            value = datetime.combine(day, hour)
        elif isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return self.day_time(_language(context), value)

    def render(self, language: Language, name: str, **variables: Any) -> str:
        """The text of template ``name`` in ``language``, stripped of outer blank lines."""
        template = self.env.get_template(f"{language}/{name}.j2")
        return template.render(lang=language, **variables).strip()

    def names(self, language: Language) -> set[str]:
        """The template names one language provides."""
        base = self.root / language
        return {str(p.relative_to(base).with_suffix("")) for p in base.rglob("*.j2")}

    def languages(self) -> tuple[Language, ...]:
        """The languages messages exist in, the default first."""
        return LANGUAGES
