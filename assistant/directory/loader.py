"""Reading and checking the campus files (docs/org-files.md) before anything is written.

The whole input is checked and every problem collected, so one run gives the IT team the complete
list to fix. The YAML is read as nodes rather than plain data so that every value keeps the line
it was written on; CSV rows keep theirs from the csv reader.
"""

from __future__ import annotations

import csv
import difflib
import enum
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from assistant.directory.data import (
    MAX_FLOORS,
    MAX_ROOMS_PER_FLOOR,
    BuildingSpec,
    CollegeSpec,
    CommunitySpec,
    FloorRef,
    FunctionalRoomSpec,
    GridSpec,
    Name,
    OrgData,
    PersonSpec,
    RoleSpec,
    RoomRef,
    Scope,
    UnitSpec,
    room_number,
)
from assistant.directory.problems import OrgFileError, OrgProblem
from assistant.domain import ROLE_SCOPE, FunctionalRoomKind, PersonStatus, Role, ScopeKind
from assistant.rules.roles import RoleRules
from assistant.yamlfile import NULL_TAG as _NULL_TAG
from assistant.yamlfile import describe_node as _describe
from assistant.yamlfile import node_line as _line
from assistant.yamlfile import syntax_error as _yaml_error

PEOPLE_COLUMNS = ("number", "name", "status", "college", "room", "graduation")
# Rosters written before the graduation year was asked for may leave it out.
_OPTIONAL_COLUMNS = frozenset({"graduation"})
GRADUATION_YEARS = (2000, 2100)
ROLES_COLUMNS = ("number", "role", "scope")

CODE_MAX = 32
NAME_MAX = 100
NUMBER_MAX = 32
MAX_CAPACITY = 1000
_PATH_MAX = 255

_CODE = re.compile(r"[A-Za-z0-9_-]+")
_NUMBER = re.compile(r"[A-Za-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Bounded digit runs: the widest real room number is 10099, and int() refuses huge strings.
_FLOOR_ADDRESS = re.compile(r"(.+)-([0-9]{1,4})")
_ROOM_ADDRESS = re.compile(r"(.+)-([0-9]{3,6})")

_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"

_CODE_HINT = f"letters, digits, '-' and '_', at most {CODE_MAX}"
_NAME_HINT = "{zh: 中文名, en: English name}"
_CAMPUS_KEYS = {
    "colleges": "a list of colleges",
    "communities": "a list of communities",
    "buildings": "a list of buildings",
    "branches": "a list of student party branches",
    "substations": "a list of building sub-stations",
    "grids": "a list of grids",
    "functional_rooms": "a list of functional rooms",
    "people": "the people CSV file, e.g. people.csv",
    "roles": "the roles CSV file, e.g. roles.csv",
}
_COLLEGE_KEYS = {"code": _CODE_HINT, "name": _NAME_HINT}
_COMMUNITY_KEYS = {**_COLLEGE_KEYS, "college": "the code of the leading college"}
_BUILDING_KEYS = {
    "code": _CODE_HINT,
    "community": "a community code",
    "name": _NAME_HINT,
    "floors": f"the number of floors, 1 to {MAX_FLOORS}",
    "rooms_per_floor": f"the number of dorm rooms on each floor, 1 to {MAX_ROOMS_PER_FLOOR}",
}
_UNIT_KEYS = {
    "code": _CODE_HINT,
    "community": "a community code",
    "name": _NAME_HINT,
    "buildings": "a list of building codes of that community, like [B1, B2]",
}
_GRID_KEYS = {
    "code": _CODE_HINT,
    "building": "a building code",
    "floors": "a list of floor numbers like [1, 2]",
}
_ROOM_KEYS = {
    "code": _CODE_HINT,
    "kind": ", ".join(kind.value for kind in FunctionalRoomKind),
    "name": _NAME_HINT,
    "building": "a building code",
    "college": "a college code",
    "capacity": f"a whole number from 1 to {MAX_CAPACITY}",
}
_NAME_KEYS = {"zh": "the Chinese name", "en": "the English name"}
_SCOPE_EXAMPLES = {
    ScopeKind.COLLEGE: "college:BUS",
    ScopeKind.COMMUNITY: "community:C1",
    ScopeKind.BUILDING: "building:B1",
    ScopeKind.FLOOR: "floor:B1-3",
    ScopeKind.ROOM: "room:B1-301",
    ScopeKind.GRID: "grid:B1-G1",
    ScopeKind.BRANCH: "branch:C1-B1",
    ScopeKind.SUBSTATION: "substation:C1-S1",
}
# Students belong to a college; teachers and staff may serve the whole campus.
_NEEDS_COLLEGE = {PersonStatus.STUDENT, PersonStatus.ACTIVIST, PersonStatus.PARTY_MEMBER}
_KINDS = ("college", "community", "building", "branch", "substation", "grid", "functional room")
# difflib over many choices is slow and its guesses among similar numbers mislead.
_SUGGEST_AMONG_AT_MOST = 1000
_LIST_CHOICES_UP_TO = 12

_E = TypeVar("_E", bound=enum.StrEnum)


def load_org(path: Path, holders: RoleRules | None = None) -> OrgData:
    """Read the campus YAML at ``path`` and the people and roles CSV files it names.

    ``holders`` (rules/roles.yaml) says who may hold which role; without it any person may hold
    any role. Everything is checked before anything is returned; if anything is wrong,
    :class:`OrgFileError` lists every problem found, each with its file and line.
    """
    return _Loader(path, holders or RoleRules()).load()


def _suggest(value: str, choices: Collection[str]) -> str | None:
    if not value or len(choices) > _SUGGEST_AMONG_AT_MOST:
        return None
    folded = value.casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _unknown(what: str, value: str, choices: Collection[str]) -> tuple[str, str | None]:
    """The message and the suggestion for ``value``, which is none of ``choices``."""
    suggestion = _suggest(value, choices)
    message = f"unknown {what} '{value}'"
    if suggestion is None and 0 < len(choices) <= _LIST_CHOICES_UP_TO:
        message += f" (expected one of: {', '.join(choices)})"
    return message, suggestion


class _Item:
    """One YAML mapping read key by key, each problem reported at the line of its own value."""

    def __init__(
        self,
        loader: _Loader,
        node: Node,
        what: str,
        keys: Mapping[str, str],
        required: tuple[str, ...],
    ) -> None:
        self.loader = loader
        self.line = _line(node)
        self.keys = keys
        self.required = required
        self.fields: dict[str, tuple[Node, Node]] = {}
        self.ok = True
        if not isinstance(node, MappingNode):
            self.fail(
                self.line, f"{what} must be a mapping of 'key: value' (got {_describe(node)})"
            )
            return
        own = [pair for pair in node.value if pair[0].tag != _MERGE_TAG]
        merged: list[tuple[Node, Node]] = []
        if len(own) < len(node.value):
            # Flatten a copy: the node stays as written, for the duplicate check below.
            flat = MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark)
            try:
                loader.constructor.flatten_mapping(flat)
            except yaml.MarkedYAMLError as error:
                self.fail(self.line, f"bad merge key: {error.problem}")
                return
            merged = flat.value[: len(flat.value) - len(own)]
        for key_node, value_node in own:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.fail(_line(key_node), f"a key in {what} must be a plain name")
            elif key in self.fields:
                first = _line(self.fields[key][0])
                self.fail(_line(key_node), f"duplicate key '{key}' (first on line {first})")
            elif self._known(key_node, what):
                self.fields[key] = (key_node, value_node)
        # Keys of the mapping itself win over merged ones, and earlier merges over later ones,
        # as when PyYAML constructs the mapping.
        for key_node, value_node in reversed(merged):
            key = key_node.value
            if isinstance(key, str) and key not in self.fields and self._known(key_node, what):
                self.fields[key] = (key_node, value_node)
        for key in required:
            if key not in self.fields:
                self.fail(self.line, f"missing '{key}' in {what} (expected {keys[key]})")

    def _known(self, key_node: Node, what: str) -> bool:
        key = str(key_node.value)
        if key in self.keys:
            return True
        suggestion = _suggest(key, list(self.keys))
        message = f"unknown key '{key}' in {what}"
        if suggestion is None:
            message += f" (expected one of: {', '.join(self.keys)})"
        self.fail(_line(key_node), message, suggestion)
        return False

    def fail(self, line: int, message: str, suggestion: str | None = None) -> None:
        self.ok = False
        self.loader.problem(self.loader.file, line, message, suggestion)

    def node(self, key: str) -> Node | None:
        """The value of ``key``; None if absent or empty (an empty required value is a problem)."""
        entry = self.fields.get(key)
        if entry is None:
            return None
        value = entry[1]
        if isinstance(value, ScalarNode) and value.tag == _NULL_TAG:
            if key in self.required:
                self.fail(_line(entry[0]), f"{key} is empty (expected {self.keys[key]})")
            return None
        return value

    def line_of(self, key: str) -> int:
        entry = self.fields.get(key)
        return _line(entry[1]) if entry else self.line

    def text(self, key: str, limit: int = NAME_MAX) -> str | None:
        node = self.node(key)
        if node is None:
            return None
        if not isinstance(node, ScalarNode):
            self.fail(_line(node), f"{key} must be text (got {_describe(node)})")
            return None
        value = str(node.value).strip()
        if not value:
            self.fail(_line(node), f"{key} is empty (expected {self.keys[key]})")
        elif len(value) > limit:
            self.fail(_line(node), f"{key} is longer than {limit} characters")
        elif _CONTROL.search(value):
            self.fail(_line(node), f"{key} contains a line break or a control character")
        else:
            return value
        return None

    def define(self, kind: str) -> str | None:
        """Read ``code`` and register it as a ``kind``; None if it cannot be used as one."""
        # Read generously so that a long code is reported as a bad code, not as long text.
        code = self.text("code", limit=_PATH_MAX)
        if code is None:
            # Its references elsewhere may be to this item: they are not reported again.
            self.loader.incomplete.add(kind)
            return None
        line = self.line_of("code")
        known = self.loader.codes[kind]
        if code in known:
            self.fail(line, f"duplicate {kind} code '{code}' (first on line {known[code]})")
            return None
        known[code] = line
        if len(code) > CODE_MAX or not _CODE.fullmatch(code):
            self.fail(line, f"bad code '{code}' (expected {_CODE_HINT})")
            return None
        return code

    def refer(self, kind: str, key: str) -> str | None:
        """Read ``key`` as the code of a ``kind`` defined in the campus file."""
        value = self.text(key, limit=_PATH_MAX)
        if value is None:
            return None
        if not self.loader.resolve(kind, value, self.loader.file, self.line_of(key)):
            self.ok = False
            return None
        return value

    def integer(self, key: str, low: int, high: int) -> int | None:
        node = self.node(key)
        if node is None:
            return None
        return self.integer_of(node, key, low, high)

    def integer_of(self, node: Node, what: str, low: int, high: int) -> int | None:
        expected = f"expected a whole number from {low} to {high}"
        if not isinstance(node, ScalarNode) or node.tag != _INT_TAG:
            self.fail(_line(node), f"{what} is {_describe(node)} ({expected})")
            return None
        try:
            value = self.loader.constructor.construct_yaml_int(node)
        except ValueError:
            value = high + 1
        if not low <= value <= high:
            self.fail(_line(node), f"{what} {node.value} is out of range ({expected})")
            return None
        return value

    def choice(self, key: str, options: type[_E]) -> _E | None:
        value = self.text(key, limit=_PATH_MAX)
        if value is None:
            return None
        try:
            return options(value)
        except ValueError:
            message, suggestion = _unknown(key, value, [option.value for option in options])
            self.fail(self.line_of(key), message, suggestion)
            return None

    def name(self) -> Name | None:
        node = self.node("name")
        if node is None:
            return None
        item = _Item(self.loader, node, "name", _NAME_KEYS, ("zh", "en"))
        zh, en = item.text("zh"), item.text("en")
        if not item.ok:
            self.ok = False
        return Name(zh, en) if zh is not None and en is not None else None


@dataclass(frozen=True)
class _Row:
    line: int
    cells: list[str]


@dataclass(frozen=True)
class _Table:
    """A CSV file with a good header: its columns by name and its non-blank rows."""

    file: str
    header: list[str]
    columns: dict[str, int]
    rows: list[_Row]

    def value(self, row: _Row, column: str) -> str:
        """The cell of ``column`` (empty when the file leaves out that optional column)."""
        if column not in self.columns:
            return ""
        return row.cells[self.columns[column]].strip()

    def line(self, row: _Row, column: str) -> int:
        """The line a cell starts on: a quoted cell before it may span lines."""
        before = row.cells[: self.columns[column]]
        return row.line + sum(len(_LINE_BREAK.findall(cell)) for cell in before)

    def fits(self, row: _Row) -> bool:
        """Whether the row has one cell per column (Excel may add trailing empty cells)."""
        width = len(self.header)
        return len(row.cells) >= width and not any(cell.strip() for cell in row.cells[width:])


class _Loader:
    """One reading of the campus files, collecting problems and the checked specs."""

    def __init__(self, path: Path, holders: RoleRules) -> None:
        self.path = path
        self.holders = holders
        self.file = path.name
        self.files = [self.file]
        self.problems: list[OrgProblem] = []
        self.constructor = SafeConstructor()
        self.codes: dict[str, dict[str, int]] = {kind: {} for kind in _KINDS}
        self.incomplete: set[str] = set()
        self.extents: dict[str, tuple[int, int]] = {}
        self.building_communities: dict[str, str] = {}
        # The unit each building is in, per kind of unit: its code and the line listing it.
        self.building_units: dict[str, dict[str, tuple[str, int]]] = {
            "branch": {},
            "substation": {},
        }
        self.floor_grids: dict[tuple[str, int], tuple[str, int]] = {}
        self.people_file = ""
        # Person numbers of people.csv, by line; None when that file could not be read.
        self.numbers: dict[str, int] | None = None
        self.colleges: list[CollegeSpec] = []
        self.communities: list[CommunitySpec] = []
        self.buildings: list[BuildingSpec] = []
        self.branches: list[UnitSpec] = []
        self.substations: list[UnitSpec] = []
        self.grids: list[GridSpec] = []
        self.functional_rooms: list[FunctionalRoomSpec] = []
        self.people: list[PersonSpec] = []
        self.people_by_number: dict[str, PersonSpec] = {}
        self.roles: list[RoleSpec] = []

    def problem(self, file: str, line: int, message: str, suggestion: str | None = None) -> None:
        self.problems.append(OrgProblem(file, line, message, suggestion))

    def load(self) -> OrgData:
        root = self._campus_root()
        if root is not None:
            required = ("colleges", "communities", "buildings", "people", "roles")
            top = _Item(self, root, "the campus file", _CAMPUS_KEYS, required)
            self._read_structure(top)
            people = self._table(top, "people", PEOPLE_COLUMNS)
            if people is not None:
                self.people_file = people.file
                self._read_people(people)
            roles = self._table(top, "roles", ROLES_COLUMNS)
            if roles is not None:
                self._read_roles(roles)
        if self.problems:
            order: dict[str, int] = {}
            for index, file in enumerate(self.files):
                order.setdefault(file, index)
            self.problems.sort(key=lambda problem: (order.get(problem.file, 0), problem.line))
            raise OrgFileError(self.problems)
        return OrgData(
            colleges=tuple(self.colleges),
            communities=tuple(self.communities),
            buildings=tuple(self.buildings),
            branches=tuple(self.branches),
            substations=tuple(self.substations),
            grids=tuple(self.grids),
            functional_rooms=tuple(self.functional_rooms),
            people=tuple(self.people),
            roles=tuple(self.roles),
        )

    def resolve(self, kind: str, value: str, file: str, line: int) -> bool:
        """Whether ``value`` is the code of a ``kind``; reports it if not."""
        known = self.codes[kind]
        if value in known:
            return True
        if kind not in self.incomplete:
            message, suggestion = _unknown(kind, value, known)
            self.problem(file, line, message, suggestion)
        return False

    def _decode(self, data: bytes, file: str, save_as: str, expected: str) -> str | None:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            self.problem(file, line, f"the file is not UTF-8 text (save the file as {save_as})")
            return None
        if not text.strip():
            self.problem(file, 1, f"empty file (expected {expected})")
            return None
        return text

    # --- the YAML file -------------------------------------------------------------------------

    def _campus_root(self) -> MappingNode | None:
        try:
            data = self.path.read_bytes()
        except OSError as error:
            self.problem(self.file, 0, f"cannot read the file ({error.strerror or error})")
            return None
        expected = "colleges:, communities:, buildings:, people: and roles:"
        text = self._decode(data, self.file, "UTF-8", expected)
        if text is None:
            return None
        try:
            loader = yaml.SafeLoader(text)
            try:
                node = loader.get_single_node()
            finally:
                loader.dispose()
        except yaml.YAMLError as error:
            line, description = _yaml_error(error, text)
            self.problem(self.file, line, f"YAML syntax error: {description}")
            return None
        if node is None:
            self.problem(self.file, 1, f"empty file (expected {expected})")
            return None
        if not isinstance(node, MappingNode):
            message = f"the top level must be a mapping of {expected} (got {_describe(node)})"
            self.problem(self.file, _line(node), message)
            return None
        return node

    def _section(self, top: _Item, key: str, kind: str) -> list[Node]:
        node = top.node(key)
        if node is None:
            if key in top.required:
                # Reported as missing: references to this kind are not reported again.
                self.incomplete.add(kind)
            return []
        if not isinstance(node, SequenceNode):
            top.fail(
                _line(node),
                f"{key} must be a list of items starting with '-' (got {_describe(node)})",
            )
            self.incomplete.add(kind)
            return []
        return list(node.value)

    def _read_structure(self, top: _Item) -> None:
        # In reference order, whatever the order of the sections in the file.
        for node in self._section(top, "colleges", "college"):
            item = _Item(self, node, "a college", _COLLEGE_KEYS, ("code", "name"))
            code, name = item.define("college"), item.name()
            if item.ok and code and name:
                self.colleges.append(CollegeSpec(code, name))
        for node in self._section(top, "communities", "community"):
            item = _Item(self, node, "a community", _COMMUNITY_KEYS, ("code", "name"))
            code, name = item.define("community"), item.name()
            college = item.refer("college", "college")
            if item.ok and code and name:
                self.communities.append(CommunitySpec(code, name, college))
        for node in self._section(top, "buildings", "building"):
            self._read_building(node)
        for node in self._section(top, "branches", "branch"):
            self._read_unit(node, "branch", "a branch", self.branches)
        for node in self._section(top, "substations", "substation"):
            self._read_unit(node, "substation", "a sub-station", self.substations)
        for node in self._section(top, "grids", "grid"):
            self._read_grid(node)
        for node in self._section(top, "functional_rooms", "functional room"):
            self._read_functional_room(node)

    def _read_building(self, node: Node) -> None:
        item = _Item(self, node, "a building", _BUILDING_KEYS, tuple(_BUILDING_KEYS))
        code = item.define("building")
        community = item.refer("community", "community")
        name = item.name()
        floors = item.integer("floors", 1, MAX_FLOORS)
        per_floor = item.integer("rooms_per_floor", 1, MAX_ROOMS_PER_FLOOR)
        if code and floors and per_floor:
            self.extents.setdefault(code, (floors, per_floor))
        if code and community:
            self.building_communities.setdefault(code, community)
        if item.ok and code and community and name and floors and per_floor:
            self.buildings.append(BuildingSpec(code, community, name, floors, per_floor))

    def _read_unit(self, node: Node, kind: str, what: str, found: list[UnitSpec]) -> None:
        """A branch or a sub-station: some buildings of its community, each in one such unit."""
        item = _Item(self, node, what, _UNIT_KEYS, tuple(_UNIT_KEYS))
        code = item.define(kind)
        community = item.refer("community", "community")
        name = item.name()
        buildings: list[str] = []
        listed = item.node("buildings")
        taken = self.building_units[kind]
        if isinstance(listed, SequenceNode):
            for building_node in listed.value:
                line = _line(building_node)
                if not isinstance(building_node, ScalarNode) or building_node.tag == _NULL_TAG:
                    item.fail(line, f"a building must be a code (got {_describe(building_node)})")
                    continue
                building = str(building_node.value).strip()
                if not self.resolve("building", building, self.file, line):
                    item.ok = False
                    continue
                home = self.building_communities.get(building)
                other = taken.get(building)
                if building in buildings:
                    item.fail(line, f"building {building} is listed twice")
                elif community is not None and home is not None and home != community:
                    item.fail(
                        line,
                        f"building {building} is in community {home}, not {community}",
                    )
                elif other is not None:
                    item.fail(
                        line,
                        f"building {building} is already in {kind} {other[0]} (line {other[1]})",
                    )
                else:
                    buildings.append(building)
                    taken[building] = (code or "?", line)
        elif listed is not None:
            item.fail(
                _line(listed), f"buildings must be a list like [B1, B2] (got {_describe(listed)})"
            )
        if item.ok and code and community and name:
            found.append(UnitSpec(code, community, name, tuple(buildings)))

    def _read_grid(self, node: Node) -> None:
        item = _Item(self, node, "a grid", _GRID_KEYS, tuple(_GRID_KEYS))
        code = item.define("grid")
        building = item.refer("building", "building")
        floors: list[int] = []
        listed = item.node("floors")
        if isinstance(listed, SequenceNode):
            extent = self.extents.get(building or "")
            for floor_node in listed.value:
                number = item.integer_of(floor_node, "floor", 1, MAX_FLOORS)
                if number is None or building is None:
                    continue
                line = _line(floor_node)
                other = self.floor_grids.get((building, number))
                if extent is not None and number > extent[0]:
                    message = (
                        f"floor {number} is not in building {building} (expected 1 to {extent[0]})"
                    )
                    item.fail(line, message)
                elif number in floors:
                    item.fail(line, f"floor {number} is listed twice")
                elif other is not None:
                    item.fail(
                        line,
                        f"floor {building}-{number} is already in grid {other[0]}"
                        f" (line {other[1]})",
                    )
                else:
                    floors.append(number)
                    self.floor_grids[building, number] = (code or "?", line)
        elif listed is not None:
            item.fail(_line(listed), f"floors must be a list like [1, 2] (got {_describe(listed)})")
        if item.ok and code and building:
            self.grids.append(GridSpec(code, building, tuple(floors)))

    def _read_functional_room(self, node: Node) -> None:
        item = _Item(
            self, node, "a functional room", _ROOM_KEYS, ("code", "kind", "name", "capacity")
        )
        code = item.define("functional room")
        kind = item.choice("kind", FunctionalRoomKind)
        name = item.name()
        building = item.refer("building", "building")
        college = item.refer("college", "college")
        capacity = item.integer("capacity", 1, MAX_CAPACITY)
        if kind is FunctionalRoomKind.READING_ROOM and item.node("building") is None:
            item.fail(item.line, "a reading_room needs a building (expected building: <code>)")
        if kind is FunctionalRoomKind.ACTIVITY_ROOM and item.node("college") is None:
            item.fail(item.line, "an activity_room needs a college (expected college: <code>)")
        if item.ok and code and kind and name and capacity:
            spec = FunctionalRoomSpec(code, kind, name, building, college, capacity)
            self.functional_rooms.append(spec)

    # --- the CSV files -------------------------------------------------------------------------

    def _table(self, top: _Item, key: str, columns: tuple[str, ...]) -> _Table | None:
        name = top.text(key, limit=_PATH_MAX)
        if name is None:
            return None
        path = self.path.parent / name
        self.files.append(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            top.fail(top.line_of(key), f"{key} file '{name}' not found (looked for {path})")
            return None
        except OSError as error:
            top.fail(
                top.line_of(key), f"cannot read {key} file '{name}' ({error.strerror or error})"
            )
            return None
        text = self._decode(data, name, "CSV UTF-8", f"a header line {','.join(columns)}")
        if text is None:
            return None
        return self._parse_csv(text, name, columns)

    def _parse_csv(self, text: str, file: str, expected: tuple[str, ...]) -> _Table | None:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: list[_Row] = []
        try:
            header = next(reader, [])
            end = reader.line_num
            for cells in reader:
                start, end = end + 1, reader.line_num
                if any(cell.strip() for cell in cells):
                    rows.append(_Row(start, cells))
        except csv.Error as error:
            self.problem(file, reader.line_num, f"not valid CSV ({error})")
            return None
        names = [cell.strip().lower() for cell in header]
        while names and not names[-1]:
            names.pop()
        expected_text = f"expected the columns {','.join(expected)}"
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            self.problem(file, 1, f"columns must be separated by commas ({expected_text})")
            return None
        columns: dict[str, int] = {}
        missing = [
            column for column in expected if column not in names and column not in _OPTIONAL_COLUMNS
        ]
        suggested: set[str] = set()
        for index, name in enumerate(names):
            if name in columns:
                self.problem(file, 1, f"column '{name}' appears twice")
            elif name in expected:
                columns[name] = index
            elif not name:
                self.problem(file, 1, f"column {index + 1} has no name ({expected_text})")
            else:
                absent = [column for column in expected if column not in names]
                suggestion = _suggest(name, absent)
                suggested.add(suggestion or "")
                hint = "" if suggestion else f" ({expected_text})"
                self.problem(file, 1, f"unknown column '{name}'{hint}", suggestion)
        for column in missing:
            if column not in suggested:
                self.problem(file, 1, f"missing column '{column}' ({expected_text})")
        if missing:
            return None
        return _Table(file, names, columns, rows)

    def _fits(self, table: _Table, row: _Row) -> bool:
        if table.fits(row):
            return True
        message = (
            f"expected {len(table.header)} fields ({','.join(table.header)}),"
            f" found {len(row.cells)} (quote a value that contains a comma)"
        )
        self.problem(table.file, row.line, message)
        return False

    def _read_people(self, table: _Table) -> None:
        numbers: dict[str, int] = {}
        self.numbers = numbers
        number_column = table.columns["number"]
        for row in table.rows:
            if not self._fits(table, row):
                # Keep its number known so that its roles are not reported as well.
                if number_column < len(row.cells) and row.cells[number_column].strip():
                    numbers.setdefault(row.cells[number_column].strip(), row.line)
                continue
            before = len(self.problems)
            number = self._person_number(table, row, numbers)
            name = table.value(row, "name")
            line = table.line(row, "name")
            if not name:
                self.problem(table.file, line, "empty name (expected the person's full name)")
            elif len(name) > NAME_MAX:
                self.problem(table.file, line, f"name is longer than {NAME_MAX} characters")
            elif _CONTROL.search(name):
                self.problem(table.file, line, "name contains a line break or a control character")
            status = self._choice(table, row, "status", PersonStatus)
            college = table.value(row, "college") or None
            if college is not None:
                self.resolve("college", college, table.file, table.line(row, "college"))
            elif status in _NEEDS_COLLEGE:
                message = f"empty college (expected a college code for status '{status}')"
                self.problem(table.file, table.line(row, "college"), message)
            room = None
            if address := table.value(row, "room"):
                room = self._room_address(address, table.file, table.line(row, "room"))
            graduation = self._graduation(table, row, status)
            if len(self.problems) == before and status is not None:
                spec = PersonSpec(number, name, status, college, room, graduation)
                self.people.append(spec)
                self.people_by_number[number] = spec

    def _graduation(self, table: _Table, row: _Row, status: PersonStatus | None) -> int | None:
        """The year a student graduates, if given; teachers and staff graduate from nothing."""
        text = table.value(row, "graduation")
        if not text:
            return None
        line = table.line(row, "graduation")
        low, high = GRADUATION_YEARS
        if not (text.isascii() and text.isdigit() and len(text) == 4 and low <= int(text) <= high):
            self.problem(
                table.file, line, f"bad graduation '{text}' (expected a year like 2027, or empty)"
            )
            return None
        if status is not None and status not in _NEEDS_COLLEGE:
            self.problem(
                table.file,
                line,
                f"graduation given for status '{status}' (only students graduate; leave it empty)",
            )
            return None
        return int(text)

    def _person_number(self, table: _Table, row: _Row, numbers: dict[str, int]) -> str:
        number = table.value(row, "number")
        line = table.line(row, "number")
        if not number:
            self.problem(table.file, line, "empty number (expected a student or staff number)")
        elif number in numbers:
            self.problem(
                table.file, line, f"duplicate number '{number}' (first on line {numbers[number]})"
            )
        else:
            numbers[number] = row.line
            if len(number) > NUMBER_MAX or not _NUMBER.fullmatch(number):
                message = (
                    f"bad number '{number}' (expected letters and digits, at most {NUMBER_MAX})"
                )
                self.problem(table.file, line, message)
        return number

    def _choice(self, table: _Table, row: _Row, column: str, options: type[_E]) -> _E | None:
        value = table.value(row, column)
        try:
            return options(value)
        except ValueError:
            choices = [option.value for option in options]
            if value:
                message, suggestion = _unknown(column, value, choices)
            else:
                message, suggestion = (
                    f"empty {column} (expected one of: {', '.join(choices)})",
                    None,
                )
            self.problem(table.file, table.line(row, column), message, suggestion)
            return None

    def _read_roles(self, table: _Table) -> None:
        seen: dict[tuple[str, str, str], int] = {}
        for row in table.rows:
            if not self._fits(table, row):
                continue
            before = len(self.problems)
            number = table.value(row, "number")
            line = table.line(row, "number")
            if not number:
                self.problem(table.file, line, "empty number (expected a number from people.csv)")
            elif self.numbers is not None and number not in self.numbers:
                message = f"unknown person number '{number}' (not in {self.people_file})"
                self.problem(table.file, line, message)
            role = self._choice(table, row, "role", Role)
            scope = self._scope(table, row, role)
            key = (number, table.value(row, "role"), str(scope or table.value(row, "scope")))
            if key in seen:
                message = f"duplicate role: same number, role and scope as line {seen[key]}"
                self.problem(table.file, row.line, message)
            else:
                seen[key] = row.line
            if len(self.problems) == before and role is not None and scope is not None:
                self._eligible(table.file, row.line, number, role)
                self.roles.append(RoleSpec(number, role, scope))

    def _eligible(self, file: str, line: int, number: str, role: Role) -> None:
        """Report a role whose holder its rule (rules/roles.yaml) does not admit."""
        person = self.people_by_number.get(number)
        if person is None:
            # The person's own row is broken and reported: who they are is not known.
            return
        facts = {"status": person.status, "college": person.college}
        rule = self.holders.refusing(role, facts)
        if rule is not None:
            message = f"{number} {person.name} ({person.status}) may not be {role}: {rule}"
            self.problem(file, line, message)

    def _scope(self, table: _Table, row: _Row, role: Role | None) -> Scope | None:
        text = table.value(row, "scope")
        file, line = table.file, table.line(row, "scope")
        expected = "expected school or kind:code, e.g. building:B1"
        if text == ScopeKind.SCHOOL.value:
            kind, target = ScopeKind.SCHOOL, ""
        else:
            kind_text, colon, target = (part.strip() for part in text.partition(":"))
            if not colon or not kind_text or not target:
                self.problem(file, line, f"malformed scope '{text}' ({expected})")
                return None
            try:
                kind = ScopeKind(kind_text)
            except ValueError:
                message, suggestion = _unknown(
                    "scope kind", kind_text, [k.value for k in ScopeKind]
                )
                self.problem(file, line, message, suggestion)
                return None
            if kind is ScopeKind.SCHOOL:
                self.problem(file, line, f"malformed scope '{text}' (the school scope has no code)")
                return None
        if role is not None and kind is not ROLE_SCOPE[role]:
            needed = ROLE_SCOPE[role]
            wanted = (
                "the scope school"
                if needed is ScopeKind.SCHOOL
                else f"a {needed} scope like {_SCOPE_EXAMPLES[needed]}"
            )
            message = f"{role} needs {wanted} (got '{text}')"
            self.problem(file, line, message)
            return None
        if kind is ScopeKind.SCHOOL:
            return Scope(kind)
        if kind is ScopeKind.FLOOR:
            floor = self._floor_address(target, file, line)
            return None if floor is None else Scope(kind, floor)
        if kind is ScopeKind.ROOM:
            room = self._room_address(target, file, line)
            return None if room is None else Scope(kind, room)
        return Scope(kind, target) if self.resolve(kind.value, target, file, line) else None

    def _floor_address(self, text: str, file: str, line: int) -> FloorRef | None:
        match = _FLOOR_ADDRESS.fullmatch(text)
        if match is None:
            self.problem(file, line, f"bad floor '{text}' (expected building-floor, e.g. B1-3)")
            return None
        building, number = match[1], int(match[2])
        if not self.resolve("building", building, file, line):
            return None
        extent = self.extents.get(building)
        if extent is not None and not 1 <= number <= extent[0]:
            message = (
                f"floor {text} does not exist (building {building} has floors 1 to {extent[0]})"
            )
            self.problem(file, line, message)
            return None
        return FloorRef(building, number)

    def _room_address(self, text: str, file: str, line: int) -> RoomRef | None:
        match = _ROOM_ADDRESS.fullmatch(text)
        if match is None:
            self.problem(file, line, f"bad room '{text}' (expected building-room, e.g. B1-301)")
            return None
        building, digits = match[1], match[2]
        floor, index = int(digits[:-2]), int(digits[-2:])
        if not self.resolve("building", building, file, line):
            return None
        extent = self.extents.get(building)
        if extent is None:
            # The building's own definition is broken and reported; its rooms cannot be checked.
            return None
        floors, per_floor = extent
        if not 1 <= floor <= floors:
            message = (
                f"room {text} is on floor {floor}, but building {building} has floors 1 to {floors}"
            )
            self.problem(file, line, message)
            return None
        if not 1 <= index <= per_floor:
            first, last = room_number(floor, 1), room_number(floor, per_floor)
            message = f"room {text} does not exist (floor {floor} has rooms {first} to {last})"
            self.problem(file, line, message)
            return None
        return RoomRef(building, floor, room_number(floor, index))
