"""Subjects and rule folders for the rules tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parents[2] / "rules"


def report(**changes: Any) -> dict[str, Any]:
    """A routing subject: an ordinary hygiene report on a weekday afternoon, with ``changes``."""
    subject: dict[str, Any] = {
        "category": "hygiene",
        "urgency": "normal",
        "private": False,
        "anonymous": False,
        "building": "B1",
        "floor": 3,
        "community": "C1",
        "college": "BUS",
        "reporter_status": "student",
        "reporter_roles": [],
        "hour": 15,
        "weekday": 3,
        "is_holiday": False,
    }
    subject.update(changes)
    return subject


def person(**changes: Any) -> dict[str, Any]:
    """An access or policy subject: a student of BUS living on B1-3, with ``changes``."""
    subject: dict[str, Any] = {
        "status": "student",
        "roles": [],
        "college": "BUS",
        "community": "C1",
        "building": "B1",
        "floor": 3,
    }
    subject.update(changes)
    return subject


def write_rules(tmp_path: Path, **files: str) -> Path:
    """A folder named ``rules`` holding ``<kind>.yaml`` for each keyword, dedented."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for kind, text in files.items():
        (folder / f"{kind}.yaml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


def with_shipped_periods(calendar: str) -> str:
    """``calendar`` (a calendar.yaml's text, dedented) with the shipped special periods, which
    the shipped reminders name: a rules folder that keeps those reminders needs them."""
    shipped = (SHIPPED / "calendar.yaml").read_text(encoding="utf-8")
    return textwrap.dedent(calendar).rstrip("\n") + "\n" + shipped[shipped.index("periods:") :]
