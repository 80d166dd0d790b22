"""What a run did: per-table counts and messages, and the error report CSV.

The CSV has one row per problem (table, file, line, item key, attribute, field, raw value,
message) and is safe to open in a spreadsheet: a cell starting with = + - @ tab or CR gets a
leading apostrophe so it is shown as text, never run as a formula (CASES.md C20).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from .outcomes import RowProblem

CSV_COLUMNS = ("table", "file", "line", "item_key", "attribute", "field", "raw_value", "message")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class TableStatus:
    IMPORTED = "imported"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class TableReport:
    """The result for one table: counts, status, and the messages a user should read."""

    table: str
    target: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    expected_items: int | None = None
    files: int = 0
    messages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return (
            self.counts.get("new", 0)
            + self.counts.get("updated", 0)
            + self.counts.get("unchanged", 0)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """The result of one run (dry or real) over all its tables."""

    dry_run: bool
    tables: tuple[TableReport, ...] = ()
    seconds: float = 0.0
    aborted: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def imported_anything(self) -> bool:
        """True when at least one table went through (an empty table that failed nothing counts)."""
        return self.aborted is None and any(
            table.status == TableStatus.IMPORTED for table in self.tables
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.imported_anything else 1

    def totals(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for table in self.tables:
            for name, value in table.counts.items():
                total[name] = total.get(name, 0) + value
        return total


def safe_cell(value: object) -> str:
    """Return the value as CSV text that a spreadsheet shows but never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iter_error_csv(problems: Iterable[RowProblem]) -> Iterator[str]:
    """Yield the error report CSV piece by piece (header first), for a streaming response."""
    buffer = _Pending()
    writer = ErrorCsvWriter(buffer)  # type: ignore[arg-type]
    yield buffer.take()
    for problem in problems:
        writer.add(problem)
        yield buffer.take()


class _Pending:
    """A write-only text sink that hands over what was written since the last take()."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        return text


def write_error_csv(problems: Iterable[RowProblem], out: TextIO) -> int:
    """Write the error report CSV (header included); return the number of problem rows."""
    writer = ErrorCsvWriter(out)
    for problem in problems:
        writer.add(problem)
    return writer.count


class ErrorCsvWriter:
    """Stream problems into an error report CSV as a run finds them."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)
        self._writer.writerow(CSV_COLUMNS)
        self.count = 0

    def add(self, problem: RowProblem) -> None:
        self._writer.writerow(
            [
                safe_cell(problem.table),
                safe_cell(problem.file),
                "" if problem.line is None else problem.line,
                safe_cell(problem.item_key),
                safe_cell(problem.attribute),
                safe_cell(problem.field),
                safe_cell(problem.raw_value),
                safe_cell(problem.message),
            ]
        )
        self.count += 1
