"""Benchmark the campus import: validation, the first import and an unchanged re-import.

    python bench/org_import.py [--people 20000] [--database-url URL]

Generates a campus with campus_gen into a temporary directory and times ``load_org`` (reading and
validating the files), ``import_org`` into a freshly migrated database, and the same two steps
again on the unchanged files, which must change nothing. Rows are people, role assignments and
structure rows (colleges, communities, buildings, floors, dorm rooms, grids, functional rooms).
Exits with status 1 if the first import (validation and import) takes LIMIT_SECONDS or more.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import campus_gen
from sqlalchemy import make_url

from assistant.directory import ImportReport, import_org, load_org
from assistant.storage.db import Database
from assistant.storage.migrate import upgrade

LIMIT_SECONDS = 30.0


async def timed_import(db: Database, path: Path) -> tuple[float, float, ImportReport]:
    """Seconds taken to validate the campus at ``path`` and to import it in one unit of work,
    and the import's report."""
    start = time.perf_counter()
    data = load_org(path)
    loaded = time.perf_counter()
    async with db.unit_of_work() as session:
        report = await import_org(session, data)
    return loaded - start, time.perf_counter() - loaded, report


def show(label: str, seconds: float, rows: int) -> None:
    """Print one figure: what was timed, the seconds it took and the rows per second."""
    print(f"{label:<34} {seconds:8.2f} s  {rows / seconds:>10,.0f} rows/s")


async def run(people: int, seed: int, database_url: str | None) -> int:
    """Generate, import twice and print the figures; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="org-import-") as tmp:
        campus = campus_gen.generate(people, seed)
        path = campus_gen.write_campus(campus, Path(tmp))
        counts = campus.counts()
        structure = counts.total() - counts["people"] - counts["roles"]
        rows = counts.total()
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        print(f"campus: {counts['people']} people, {counts['roles']} role assignments,")
        print(f"        {structure} structure rows: {rows} rows in all")
        print(f"database: {make_url(url).render_as_string(hide_password=True)}")
        db = Database(url)
        try:
            await upgrade(db)
            load_first, import_first, _ = await timed_import(db, path)
            load_again, import_again, again = await timed_import(db, path)
        finally:
            await db.dispose()
    first = load_first + import_first
    show("validation (load_org)", load_first, rows)
    show("first import (import_org)", import_first, rows)
    show("first import, validation included", first, rows)
    show("re-import, unchanged", load_again + import_again, rows)
    print(f"{'total':<34} {first + load_again + import_again:8.2f} s")
    print(f"{'re-import changed nothing':<34} {'yes' if not again.changed else 'NO'}")
    if first >= LIMIT_SECONDS:
        print(f"FAIL: the first import took {first:.1f} s, the limit is {LIMIT_SECONDS:.0f} s")
        return 1
    return 0


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20000, help="campus size (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--database-url",
        help="an empty database to import into (default: a new SQLite file in a temporary dir)",
    )
    args = parser.parse_args()
    if args.people < campus_gen.MIN_PEOPLE:
        parser.error(f"--people must be at least {campus_gen.MIN_PEOPLE}")
    sys.exit(asyncio.run(run(args.people, args.seed, args.database_url)))


if __name__ == "__main__":
    main()
