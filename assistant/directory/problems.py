"""What can be wrong with the campus files: every problem names the file and line to fix."""

from __future__ import annotations

from dataclasses import dataclass

_SHOWN_IN_MESSAGE = 20


@dataclass(frozen=True)
class OrgProblem:
    """One thing wrong at one place.

    Shown as ``people.csv:14: unknown college 'BUSS' (did you mean 'BUS'?)``. ``line`` is 1-based;
    0 means the file as a whole (it could not be opened).
    """

    file: str
    line: int
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{where}: {self.message}{hint}"


class OrgFileError(Exception):
    """The campus files cannot be imported; ``problems`` holds every reason, in file order."""

    def __init__(self, problems: list[OrgProblem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the campus files:"]
        lines += [str(problem) for problem in self.problems[:_SHOWN_IN_MESSAGE]]
        if count > _SHOWN_IN_MESSAGE:
            lines.append(f"... and {count - _SHOWN_IN_MESSAGE} more")
        return "\n".join(lines)
