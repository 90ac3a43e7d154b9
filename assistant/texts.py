"""Every message the bot says comes from a Jinja2 template under ``conversations/templates``.

One environment for the whole program: HTML autoescaping (messages go out with parse_mode HTML),
trimmed blocks, and StrictUndefined so that a missing variable fails loudly instead of showing a
blank to a student.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from assistant.domain import LANGUAGES, Language, reference

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


class Texts:
    """Renders named templates in a language."""

    def __init__(self, conversations_dir: Path) -> None:
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
