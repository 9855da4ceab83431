"""The user-facing error family: messages safe to show in a chat or a terminal.

Anything raised outside this family is a bug: it reaches the single error handler, is logged with its
traceback, and the user gets a short apology instead.
"""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """An error whose message explains to a user what was wrong with their input."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnitError(UserError, ValueError):
    """A quantity that `knowledge.units` cannot read; the message quotes the input."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the file allows."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class InvalidFileError(UserError):
    """One or more input files are invalid; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) found; nothing was loaded:"]
        lines += [f"- {p}" for p in self.problems]
        super().__init__("\n".join(lines))
