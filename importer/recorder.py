"""Keep a run's row outcomes and problems on the job, in batches, as the run goes.

A dry run's transaction is rolled back at the end, and our rows would go with it if written
through the run's connection. On PostgreSQL each batch goes through the second ("progress")
connection at once; where there is none (SQLite, in-process tests) batches are spooled to a
temporary file and saved after the run. Either way memory holds one batch, never the whole run.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from typing import Any

from django.db import transaction

from .conf import get_settings
from .models import ImportJob, ImportProblem, ImportRow, TableImport
from .outcomes import Outcome, RowProblem, RowResult, TableCounts
from .progress import ProgressReporter
from .sources import DataFile, TableSource

FLUSH_ROWS = 1000


class JobRecorder:
    """A RunObserver that saves row outcomes and problems in batches and reports progress."""

    def __init__(
        self,
        job: ImportJob,
        tables: dict[str, TableImport],
        *,
        phase: str,
        keep_rows: bool,
        progress: ProgressReporter,
    ) -> None:
        self.job = job
        self.tables = tables
        self.phase = phase
        self.keep_rows = keep_rows
        self.new_rows_per_table = get_settings().preview_new_rows
        self._new_kept: dict[str, int] = {}
        self._table = ""
        self.progress = progress
        self.alias = progress.alias
        self.rows: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []
        self._read: dict[str, int] = {}
        self._spool: Any = None

    @property
    def keeps_new_rows(self) -> bool:
        """New rows are listed up to PREVIEW_NEW_ROWS per table; the rest are counted."""
        return self.keep_rows and self._new_kept.get(self._table, 0) < self.new_rows_per_table

    def table_started(self, table: TableSource, *, target: str, total_items: int) -> None:
        self._table = table.name

    def file_started(self, table: TableSource, data_file: DataFile) -> None:
        pass

    def file_finished(self, table: TableSource, data_file: DataFile, *, items: int) -> None:
        pass

    def row(self, result: RowResult) -> None:
        if not self.keep_rows:
            return
        if result.outcome == Outcome.NEW:
            kept = self._new_kept.get(result.table, 0)
            if kept >= self.new_rows_per_table:
                return
            self._new_kept[result.table] = kept + 1
        self.rows.append(
            {
                "table_id": self.tables[result.table].pk,
                "outcome": str(result.outcome),
                "item_key": result.item_key,
                "file": result.file,
                "line": result.line,
                "diff": {
                    name: [shown(old), shown(new)] for name, (old, new) in result.diff.items()
                },
                "problems": [
                    {
                        "attribute": p.attribute,
                        "field": p.field,
                        "raw_value": p.raw_value,
                        "message": p.message,
                    }
                    for p in result.problems
                ],
            }
        )
        if len(self.rows) >= FLUSH_ROWS:
            self.flush()

    def problem(self, problem: RowProblem) -> None:
        self.problems.append(
            {
                "table": problem.table,
                "file": problem.file,
                "line": problem.line,
                "item_key": problem.item_key,
                "attribute": problem.attribute,
                "field": problem.field,
                "raw_value": problem.raw_value,
                "message": problem.message,
            }
        )
        if len(self.problems) >= FLUSH_ROWS:
            self.flush()

    def batch_done(self, table: TableSource, counts: TableCounts) -> None:
        self._read[table.name] = counts.read
        self.progress.done = sum(self._read.values())

    def table_finished(self, table: TableSource, counts: TableCounts) -> None:
        self.batch_done(table, counts)

    def flush(self) -> None:
        """Write (or spool) the rows and problems gathered since the last flush."""
        rows, problems = self.rows, self.problems
        self.rows, self.problems = [], []
        if not rows and not problems:
            return
        if self.alias is not None:
            self._insert(rows, problems, using=self.alias)
            return
        if self._spool is None:
            self._spool = tempfile.TemporaryFile()
        pickle.dump((rows, problems), self._spool)

    def save(self) -> None:
        """Write what is left (call once the run's transaction has ended)."""
        self.flush()
        if self._spool is None:
            return
        spool, self._spool = self._spool, None
        with spool, transaction.atomic():
            spool.seek(0)
            while True:
                try:
                    rows, problems = pickle.load(spool)
                except EOFError:
                    break
                self._insert(rows, problems, using="default")

    def _insert(
        self, rows: list[dict[str, Any]], problems: list[dict[str, Any]], *, using: str
    ) -> None:
        job_id, phase = self.job.pk, self.phase
        ImportRow.objects.using(using).bulk_create(
            [ImportRow(job_id=job_id, phase=phase, **row) for row in rows]
        )
        ImportProblem.objects.using(using).bulk_create(
            [ImportProblem(job_id=job_id, phase=phase, **problem) for problem in problems]
        )


def shown(value: Any) -> str | None:
    """A diff value as the text the preview shows: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=str)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
