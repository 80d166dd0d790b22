"""What happened to each row and table: the value objects plan, load and report share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models


class Outcome(models.TextChoices):
    NEW = "new", "New"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    SKIPPED = "skipped", "Skipped (exists; insert mode)"
    ERROR = "error", "Error"


@dataclass(frozen=True, slots=True, kw_only=True)
class RowProblem:
    """One reason a row (or a whole file or table) could not be imported, with where it came from."""

    table: str
    message: str
    file: str = ""
    line: int | None = None
    item_key: str = ""
    attribute: str = ""
    field: str = ""
    raw_value: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RowResult:
    """The outcome of one item: new / updated (with its diff) / unchanged / skipped / error."""

    table: str
    outcome: Outcome
    item_key: str
    file: str
    line: int
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field → (old, new)
    problems: tuple[RowProblem, ...] = ()


@dataclass(slots=True, kw_only=True)
class TableCounts:
    """Running counts for one table (mutable while the run goes on)."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    deleted: int = 0

    def add(self, outcome: Outcome) -> None:
        match outcome:
            case Outcome.NEW:
                self.new += 1
            case Outcome.UPDATED:
                self.updated += 1
            case Outcome.UNCHANGED:
                self.unchanged += 1
            case Outcome.SKIPPED:
                self.skipped += 1
            case Outcome.ERROR:
                self.errors += 1

    @property
    def imported(self) -> int:
        """Rows written or confirmed: new + updated + unchanged."""
        return self.new + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": self.errors,
            "deleted": self.deleted,
        }
