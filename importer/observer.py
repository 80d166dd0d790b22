"""How a run tells its door (command line, wizard, task) what is happening, as it happens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .outcomes import RowProblem, RowResult, TableCounts

if TYPE_CHECKING:
    from .sources import DataFile, TableSource


class RunObserver(Protocol):
    """Callbacks of one run, in order: per table started → files → batches → finished.

    `row` is called for every row that is updated, skipped or in error, and for every new row
    when `keeps_new_rows` is true; unchanged rows (and new rows otherwise) are only counted (in
    the counts `batch_done` and `table_finished` receive), so a fresh import or a re-import of
    millions of rows costs the observer nothing per row.
    """

    keeps_new_rows: bool

    def table_started(self, table: TableSource, *, target: str, total_items: int) -> None: ...
    def file_started(self, table: TableSource, data_file: DataFile) -> None: ...
    def file_finished(self, table: TableSource, data_file: DataFile, *, items: int) -> None: ...
    def row(self, result: RowResult) -> None: ...
    def problem(self, problem: RowProblem) -> None: ...
    def batch_done(self, table: TableSource, counts: TableCounts) -> None: ...
    def table_finished(self, table: TableSource, counts: TableCounts) -> None: ...


class SilentObserver:
    """An observer that ignores everything (for callers that only want the final report)."""

    keeps_new_rows = False

    def table_started(self, table: TableSource, *, target: str, total_items: int) -> None:
        pass

    def file_started(self, table: TableSource, data_file: DataFile) -> None:
        pass

    def file_finished(self, table: TableSource, data_file: DataFile, *, items: int) -> None:
        pass

    def row(self, result: RowResult) -> None:
        pass

    def problem(self, problem: RowProblem) -> None:
        pass

    def batch_done(self, table: TableSource, counts: TableCounts) -> None:
        pass

    def table_finished(self, table: TableSource, counts: TableCounts) -> None:
        pass
