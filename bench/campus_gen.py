"""Generate a campus in the format of docs/org-files.md: a YAML file, people.csv and roles.csv.

    python bench/campus_gen.py --people 20000 --out DIR [--seed 1]

The campus is the plan's pilot: three colleges, six communities (two led by each college), dorm
buildings sized to house the residents about four to a room, grids of two floors, a reading room
per building, an activity room per college and the three shared studios. Every role is filled, and
the student party members who hold a floor, grid or building role live there. The same arguments
always write the same files.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COLLEGES = {
    "BUS": ("商学院", "Business School"),
    "ART": ("艺术设计学院", "School of Art & Design"),
    "MEE": ("机电学院", "School of Mechanical & Electrical Engineering"),
}
COMMUNITIES = [f"C{i + 1}" for i in range(2 * len(COLLEGES))]  # two led by each college
NUMERALS = "一二三四五六七八九十"
BEDS_PER_ROOM = 4
FLOORS_PER_GRID = 2
MAX_FLOORS = 6
MAX_ROOMS_PER_BUILDING = 120
MIN_PEOPLE = 100
SHARED_STUDIOS = [
    ("PSYCH", "psych_studio", "心理健康工作室", "Psychological Health Studio", 8),
    ("PARTY", "party_studio", "党建工作室", "Party-Building Studio", 30),
    ("GROWTH", "growth_centre", "成长服务中心", "Growth Service Centre", 20),
]
SCHOOL_OFFICES = [
    ("org_department", "staff", 3),
    ("service_centre", "staff", 3),
    ("expert", "teacher", 5),
    ("admin", "staff", 1),
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
)
SURNAME_WEIGHTS = [1 / (i + 1) for i in range(len(SURNAMES))]  # the common ones first
GIVEN = (  # characters of common given names
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红鹏辉文俊"
    "宇浩然轩涵欣怡雨婷佳琪思远博嘉豪鸣晓雪梦瑶晨阳天心诗志海燕春"
)
STUDENT_STATUSES = {"student": 86, "activist": 10, "party_member": 4}
HOME_COLLEGE_SHARE = 0.85
YEARS = range(2021, 2025)
SECTION_NOTES = {
    "colleges": "Colleges 学院: a code and the name in Chinese and English.",
    "communities": "The six student living communities 六大社区, each led by a college.",
    "buildings": "Dorm buildings 楼栋: floors 1..N; dorm rooms 101, 102, ... 201, ... (as B1-301).",
    "grids": "Grid cells 网格: two floors each, with their grid party member in roles.csv.",
    "functional_rooms": "Bookable rooms 功能房: reading rooms, activity rooms, the shared studios.",
}


@dataclass
class Person:
    """One row of people.csv."""

    number: str
    name: str
    status: str
    college: str = ""
    room: str = ""


@dataclass
class Campus:
    """A whole campus: the YAML sections, the people and the (number, role, scope) assignments."""

    structure: dict[str, list[dict[str, Any]]]
    people: list[Person] = field(default_factory=list)
    roles: list[tuple[str, str, str]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """How many of each thing the campus has: sections, floors, dorm rooms, people, roles."""
        counts = Counter({key: len(rows) for key, rows in self.structure.items()})
        buildings = self.structure["buildings"]
        counts["floors"] = sum(b["floors"] for b in buildings)
        counts["dorm_rooms"] = sum(b["floors"] * b["rooms_per_floor"] for b in buildings)
        counts["people"] = len(self.people)
        counts["roles"] = len(self.roles)
        return counts


def building_shape(residents: int) -> tuple[int, int, int]:
    """Buildings per community, floors and rooms per floor that house ``residents`` about four to
    a room with no room left empty."""
    rooms = math.ceil(residents / BEDS_PER_ROOM)
    per_community = math.ceil(rooms / len(COMMUNITIES))
    buildings = math.ceil(per_community / MAX_ROOMS_PER_BUILDING)
    per_building = math.ceil(per_community / buildings)
    floors = min(MAX_FLOORS, max(2, math.ceil(per_building / 2)))
    return buildings, floors, math.ceil(per_building / floors)


def leading_college(community: str) -> str:
    """The code of the college that leads ``community``: C1 and C2 are led by the first one."""
    return list(COLLEGES)[COMMUNITIES.index(community) // 2]


def random_name(rng: random.Random) -> str:
    """A plausible Chinese name: a common surname and a one- or two-character given name."""
    surname = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    return surname + "".join(rng.sample(GIVEN, k=rng.choice((1, 2, 2))))


def make_structure(residents: int) -> dict[str, list[dict[str, Any]]]:
    """The YAML sections of a campus whose buildings house ``residents``."""
    buildings, floors, rooms_per_floor = building_shape(residents)
    s: dict[str, list[dict[str, Any]]] = {key: [] for key in SECTION_NOTES}
    s["colleges"] = [{"code": c, "name": {"zh": zh, "en": en}} for c, (zh, en) in COLLEGES.items()]
    home: dict[str, str] = {}  # the first building of each college's communities
    for i, community in enumerate(COMMUNITIES):
        college = leading_college(community)
        name = {"zh": f"第{NUMERALS[i]}社区", "en": f"Community {i + 1}"}
        s["communities"].append({"code": community, "name": name, "college": college})
        for n in range(i * buildings + 1, (i + 1) * buildings + 1):
            code = f"B{n}"
            home.setdefault(college, code)
            s["buildings"].append(
                {"code": code, "community": community}
                | {"name": {"zh": f"{n}号楼", "en": f"Building {n}"}}
                | {"floors": floors, "rooms_per_floor": rooms_per_floor}
            )
            for g, first in enumerate(range(1, floors + 1, FLOORS_PER_GRID), start=1):
                grid_floors = list(range(first, min(first + FLOORS_PER_GRID, floors + 1)))
                s["grids"].append({"code": f"{code}-G{g}", "building": code, "floors": grid_floors})
            s["functional_rooms"].append(
                {"code": f"{code}-READ", "kind": "reading_room"}
                | {"name": {"zh": f"{n}号楼阅览室", "en": f"Building {n} Reading Room"}}
                | {"building": code, "capacity": 40}
            )
    for college, (zh, en) in COLLEGES.items():
        s["functional_rooms"].append(
            {"code": f"{college}-ACT", "kind": "activity_room"}
            | {"name": {"zh": f"{zh}党团活动室", "en": f"{en} Party & League Activity Room"}}
            | {"building": home[college], "college": college, "capacity": 50}
        )
    for (code, kind, zh, en, capacity), building in zip(SHARED_STUDIOS, home.values(), strict=True):
        s["functional_rooms"].append(
            {"code": code, "kind": kind, "name": {"zh": zh, "en": en}}
            | {"building": building, "capacity": capacity}
        )
    return s


def staff_posts() -> list[tuple[str, str, str, str]]:
    """(status, college, role, scope) of every post held by a teacher or a staff member."""
    posts = [("teacher", c, "college_party_leader", f"college:{c}") for c in COLLEGES]
    for c in COMMUNITIES:
        for role in ("workstation_head", "counsellor"):
            posts.append(("teacher", leading_college(c), role, f"community:{c}"))
    for role, status, n in SCHOOL_OFFICES:
        for i in range(n):
            college = list(COLLEGES)[i % len(COLLEGES)] if status == "teacher" else ""
            posts.append((status, college, role, "school"))
    return posts


def house_students(campus: Campus, residents: int, rng: random.Random) -> dict[str, list[Person]]:
    """Add ``residents`` students to the dorm rooms, at least one per room, and a dorm head to
    every room; returns the residents of each floor, keyed like ``B1-3``."""
    rooms = [
        (b["code"], floor, f"{b['code']}-{floor * 100 + r}", leading_college(b["community"]))
        for b in campus.structure["buildings"]
        for floor in range(1, b["floors"] + 1)
        for r in range(1, b["rooms_per_floor"] + 1)
    ]
    sizes = [residents // len(rooms)] * len(rooms)
    for i in rng.sample(range(len(rooms)), residents % len(rooms)):
        sizes[i] += 1
    serials: Counter[tuple[int, str]] = Counter()
    by_floor: dict[str, list[Person]] = {}
    for (building, floor, room, home), size in zip(rooms, sizes, strict=True):
        occupants = []
        for _ in range(size):
            college = home if rng.random() < HOME_COLLEGE_SHARE else rng.choice(list(COLLEGES))
            year = rng.choice(YEARS)
            serials[year, college] += 1
            number = f"{year}{list(COLLEGES).index(college) + 1:02d}{serials[year, college]:04d}"
            status = rng.choices(list(STUDENT_STATUSES), list(STUDENT_STATUSES.values()))[0]
            occupants.append(Person(number, random_name(rng), status, college, room))
        by_floor.setdefault(f"{building}-{floor}", []).extend(occupants)
        campus.people += occupants
        campus.roles.append((rng.choice(occupants).number, "dorm_head", f"room:{room}"))
    return by_floor


def appoint(pool: list[Person], taken: set[str], rng: random.Random) -> str:
    """The number of a resident of ``pool`` for a student party-member role: a party member who
    holds no such role yet if there is one, else anyone free, who then becomes a party member."""
    free = [p for p in pool if p.number not in taken] or pool
    person = rng.choice([p for p in free if p.status == "party_member"] or free)
    person.status = "party_member"
    taken.add(person.number)
    return person.number


def appoint_party_members(
    campus: Campus, by_floor: dict[str, list[Person]], rng: random.Random
) -> None:
    """Give every floor a floor leader, every grid a grid party member and every building a
    building manager and a building leader, each a student party member living there."""
    taken: set[str] = set()
    for floor, residents in by_floor.items():
        campus.roles.append((appoint(residents, taken, rng), "floor_leader", f"floor:{floor}"))
    for grid in campus.structure["grids"]:
        residents = [p for f in grid["floors"] for p in by_floor[f"{grid['building']}-{f}"]]
        campus.roles.append(
            (appoint(residents, taken, rng), "grid_party_member", f"grid:{grid['code']}")
        )
    for building in campus.structure["buildings"]:
        code = building["code"]
        residents = [p for f in range(1, building["floors"] + 1) for p in by_floor[f"{code}-{f}"]]
        for role in ("building_manager", "building_leader"):
            campus.roles.append((appoint(residents, taken, rng), role, f"building:{code}"))


def generate(people: int, seed: int = 1) -> Campus:
    """A campus of ``people`` people (at least MIN_PEOPLE), the same for the same seed."""
    if people < MIN_PEOPLE:
        raise ValueError(f"a campus needs at least {MIN_PEOPLE} people, not {people}")
    rng = random.Random(seed)
    posts = staff_posts()
    campus = Campus(make_structure(people - len(posts)))
    for n, (status, college, role, scope) in enumerate(posts, start=1):
        campus.people.append(Person(f"T{n:04d}", random_name(rng), status, college))
        campus.roles.append((f"T{n:04d}", role, scope))
    by_floor = house_students(campus, people - len(posts), rng)
    appoint_party_members(campus, by_floor, rng)
    return campus


class _Dumper(yaml.SafeDumper):
    """Indents block lists under their key, as docs/org-files.md does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def write_campus(campus: Campus, out: Path, yaml_name: str = "campus.yaml", note: str = "") -> Path:
    """Write the YAML file, people.csv and roles.csv into ``out``; returns the YAML file's path."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# A campus for Community Assistant (社区助手){note}.",
        "# The format is in docs/org-files.md; load it with `assistant org import FILE`.",
        "# people.csv lists everyone and their dorm room; roles.csv who holds each role, where.",
    ]
    for key, rows in campus.structure.items():
        dumped = yaml.dump(
            {key: rows},
            Dumper=_Dumper,
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=None,  # names and floor lists on one line: {zh: ..., en: ...}
            width=100,
        )
        lines += ["", f"# {SECTION_NOTES[key]}", dumped.rstrip()]
    lines += ["", "people: people.csv", "roles: roles.csv", ""]
    path = out / yaml_name
    path.write_text("\n".join(lines), encoding="utf-8")
    with (out / "people.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["number", "name", "status", "college", "room"])
        writer.writerows((p.number, p.name, p.status, p.college, p.room) for p in campus.people)
    with (out / "roles.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["number", "role", "scope"])
        writer.writerows(campus.roles)
    return path


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, generate the campus, write it and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20000, help="how many people (default 20000)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files to")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--yaml", default="campus.yaml", help="YAML file name (default campus.yaml)"
    )
    args = parser.parse_args(argv)
    try:
        campus = generate(args.people, args.seed)
    except ValueError as error:
        parser.error(str(error))
    note = f", generated by bench/campus_gen.py --people {args.people} --seed {args.seed}"
    path = write_campus(campus, args.out, args.yaml, note)
    print(f"wrote {path}, people.csv and roles.csv:")
    print(", ".join(f"{n} {key}" for key, n in campus.counts().items()))


if __name__ == "__main__":
    main()
