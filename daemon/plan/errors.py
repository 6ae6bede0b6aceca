"""Schedule problems, reported the way admins and editors expect: ``FILE:LINE: path: message``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class ScheduleError:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass
class ErrorList:
    """Collects every problem in one file, so the admin fixes them all in one round."""

    file: str
    errors: list[ScheduleError] = field(default_factory=list)
    warnings: list[ScheduleError] = field(default_factory=list)

    def add(self, line: int, path: str, message: str) -> None:
        self.errors.append(ScheduleError(self.file, line, path, message))

    def warn(self, line: int, path: str, message: str) -> None:
        self.warnings.append(ScheduleError(self.file, line, path, message))

    def __bool__(self) -> bool:
        return bool(self.errors)


class ScheduleInvalid(Exception):
    """A schedule was refused whole; ``errors`` says every reason."""

    def __init__(self, errors: list[ScheduleError], warnings: list[ScheduleError] | None = None):
        self.errors = sorted(errors)
        self.warnings = warnings or []
        super().__init__("\n".join(str(e) for e in self.errors))
