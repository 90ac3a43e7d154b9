"""Exporting the campus files: what is written imports back to the same database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from assistant.directory import ImportReport, export_org, load_org
from assistant.storage.db import Database
from assistant.storage.models import Base

Import = Callable[[Path], Awaitable[ImportReport]]
Snapshot = dict[str, list[tuple[Any, ...]]]
TakeSnapshot = Callable[[], Awaitable[Snapshot]]


async def export(db: Database, out_dir: Path) -> list[Path]:
    async with db.unit_of_work() as session:
        return await export_org(session, out_dir)


async def empty(db: Database) -> None:
    async with db.unit_of_work() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


def forget_some_rows(campus: Path) -> None:
    """Leave out of the files rows that stay in the database: a shorter building, a functional
    room, a floor's grid, a building's branch and a person (with her role)."""
    folder = campus.parent
    text = campus.read_text(encoding="utf-8")
    text = text.replace("    floors: 6\n", "    floors: 5\n").replace("[4, 5, 6]", "[4, 5]")
    text = text.replace(text[text.index("  - code: PSY\n") : text.index("people:")], "")
    text = text.replace("buildings: [B2]}", "buildings: []}")
    campus.write_text(text, encoding="utf-8")
    people = (folder / "people.csv").read_text(encoding="utf-8").replace("B1-610", "B1-510")
    people = people.replace("2021004,刘洋,party_member,MEE,B2-405\n", "")
    (folder / "people.csv").write_text(people, encoding="utf-8")
    roles = (folder / "roles.csv").read_text(encoding="utf-8")
    roles = roles.replace("2021004,floor_leader,floor:B2-4\n", "")
    (folder / "roles.csv").write_text(roles, encoding="utf-8")


async def test_export_writes_the_three_files(
    db: Database, campus: Path, run_import: Import, tmp_path: Path
) -> None:
    await run_import(campus)

    paths = await export(db, tmp_path / "out")

    assert [path.name for path in paths] == ["campus.yaml", "people.csv", "roles.csv"]
    people = paths[1].read_bytes()
    # A byte-order mark, so that Excel opens the names as UTF-8.
    assert people.startswith(b"\xef\xbb\xbfnumber,name,status,college,room,graduation\r\n")
    assert '2021006,"Smith, John",student,BUS,B1-610' in people.decode("utf-8-sig")
    assert "name: {zh: 商学院, en: Business School}" in paths[0].read_text(encoding="utf-8")


async def test_exported_files_say_what_the_imported_files_said(
    db: Database, campus: Path, run_import: Import, tmp_path: Path
) -> None:
    await run_import(campus)

    paths = await export(db, tmp_path / "out")

    assert load_org(paths[0]) == load_org(campus)


async def test_export_then_import_changes_nothing(
    db: Database, campus: Path, run_import: Import, snapshot: TakeSnapshot, tmp_path: Path
) -> None:
    await run_import(campus)
    before = await snapshot()
    paths = await export(db, tmp_path / "out")

    report = await run_import(paths[0])

    assert not report.changed
    assert await snapshot() == before


async def test_export_after_a_history_of_changes_imports_to_the_same_state(
    db: Database, campus: Path, run_import: Import, snapshot: TakeSnapshot, tmp_path: Path
) -> None:
    await run_import(campus)
    forget_some_rows(campus)
    await run_import(campus)
    before = await snapshot()

    first = await export(db, tmp_path / "first")
    report = await run_import(first[0])

    assert not report.changed
    assert await snapshot() == before
    # From an empty database the export rebuilds the same campus (ids aside).
    await empty(db)
    await run_import(first[0])
    second = await export(db, tmp_path / "second")
    assert [path.read_bytes() for path in second] == [path.read_bytes() for path in first]


async def test_the_graduation_year_goes_in_and_comes_back_out(
    db: Database, campus: Path, run_import: Import, tmp_path: Path
) -> None:
    people = campus.parent / "people.csv"
    rows = people.read_text(encoding="utf-8").splitlines()
    # The optional column: a year for one student, empty for everyone else.
    rows = [f"{row},graduation" if i == 0 else f"{row}," for i, row in enumerate(rows)]
    rows = [
        row.replace("2021001,张伟,student,BUS,B1-101,", "2021001,张伟,student,BUS,B1-101,2025")
        for row in rows
    ]
    people.write_text("\n".join(rows) + "\n", encoding="utf-8")
    await run_import(campus)

    paths = await export(db, tmp_path / "out")

    exported = paths[1].read_text(encoding="utf-8-sig").splitlines()
    assert "2021001,张伟,student,BUS,B1-101,2025" in exported
    assert "2021002,李娜,party_member,BUS,B1-101," in exported
    assert load_org(paths[0]) == load_org(campus)
