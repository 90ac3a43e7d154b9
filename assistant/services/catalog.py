"""The names conversation files may use: option providers, checks and submit actions."""

from __future__ import annotations

from datetime import tzinfo

from assistant.config import Language
from assistant.flows.engine import Registry
from assistant.rules import Rules
from assistant.services import grid
from assistant.texts import Texts


def registry(rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> Registry:
    """Everything the shipped conversations name, wired to the rules and templates."""
    return Registry(
        providers={"my_dorm": grid.my_dorm},
        checks={},
        actions={"grid.report": grid.report(rules, texts, default, campus)},
    )
