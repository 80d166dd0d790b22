"""`manage.py import_dynamodb --data-dir PATH`: the command-line door onto the import pipeline."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from importer.archive import open_source
from importer.conf import get_settings
from importer.errors import ImporterError
from importer.mapping import RAW, SKIP, ErrorPolicy, MappingSet, Mode
from importer.outcomes import RowProblem, RowResult, TableCounts
from importer.permissions import replaces_user_model
from importer.report import ErrorCsvWriter, RunReport, TableStatus
from importer.run import analyse, execute, suggest_mappings
from importer.sources import DataFile, TableSource
from importer.validation import validate_mappings

SHOWN_PROBLEMS = 10


class Command(BaseCommand):
    help = (
        "Import a DynamoDB export (a folder or a .zip holding AWSDynamoDB/<ExportId>/..., "
        "dynamodump folders or data files) into Django models, in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", required=True, help="Export folder or .zip file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change; write nothing."
        )
        parser.add_argument(
            "--mode", choices=Mode.values, help="insert, upsert (default) or replace."
        )
        parser.add_argument(
            "--clear-tables",
            action="store_true",
            help="Clear the target tables first (= --mode replace).",
        )
        parser.add_argument(
            "--on-error",
            choices=ErrorPolicy.values,
            help="skip bad rows and report them (default), or abort.",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="TABLE=app_label.Model",
            help="Send a table to a model ('raw' for importer.RawItem, 'skip' to leave it). Repeatable.",
        )
        parser.add_argument(
            "--mapping", metavar="FILE.json", help="A mapping file (as the wizard saves)."
        )
        parser.add_argument(
            "--save-mapping",
            metavar="FILE.json",
            help="Write the mapping used (to edit and reuse).",
        )
        parser.add_argument(
            "--table",
            action="append",
            default=[],
            metavar="NAME",
            help="Only these tables. Repeatable.",
        )
        parser.add_argument(
            "--error-report", metavar="FILE.csv", help="Write every problem to this CSV."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = self._run(options)
        except ImporterError as error:
            raise CommandError(str(error)) from None
        if report.aborted:
            raise CommandError(f"{report.aborted}. Nothing was written.")
        if not report.imported_anything:
            raise CommandError("nothing could be imported (see the messages above).")

    def _run(self, options: dict[str, Any]) -> RunReport:
        conf = get_settings()
        mode = Mode.REPLACE if options["clear_tables"] else options["mode"]
        targets = self._targets(options["map"])
        given = self._mapping_file(options["mapping"])
        with (
            open_source(
                options["data_dir"],
                max_upload_bytes=sys.maxsize,  # a local file: no upload limit, the zip checks still apply
                max_members=conf.max_zip_members,
                max_uncompressed_bytes=conf.max_uncompressed_bytes,
                max_compression_ratio=conf.max_compression_ratio,
            ) as tree
        ):
            analysis = analyse(tree, only=tuple(options["table"]), conf=conf)
            directories = "table export directory", "table export directories"
            self.stdout.write(f"Found {plural(len(analysis.tables), *directories)}")
            for table in analysis.tables:
                where = table.source.export_id or table.source.root or tree.label
                self.stdout.write(f"Detected table: {table.name} in directory {where}")
            for warning in analysis.warnings:
                self.stdout.write(self.style.WARNING(f"Warning: {warning}"))
            found = {table.name for table in analysis.tables}
            unknown = sorted(set(targets) - found)
            if unknown:
                # A misspelt --map (e.g. Stock=skip for table stock) must not import the table.
                raise CommandError(
                    f"--map names no table of this export: {', '.join(unknown)} "
                    f"(found: {', '.join(sorted(found, key=str.lower))})"
                )
            mappings = suggest_mappings(
                analysis,
                targets=targets,
                given=given,
                mode=mode,
                on_error=options["on_error"],
                conf=conf,
            )
            if options["save_mapping"]:
                _write_text(options["save_mapping"], mappings.dumps())
                self.stdout.write(f"Mapping written to {options['save_mapping']}")
            readable = {
                table.name: table.profile for table in analysis.tables if table.error is None
            }
            problems = validate_mappings(
                {name: mapping for name, mapping in mappings.tables.items() if name in readable},
                readable,
            )
            if problems:
                lines = "\n".join(f"  {problem.table}: {problem.message}" for problem in problems)
                raise CommandError(
                    f"the mapping cannot work; fix it (--map, --mapping) and run again:\n{lines}"
                )
            for name, mapping in mappings.tables.items():
                if replaces_user_model(mapping):
                    self.stdout.write(
                        self.style.WARNING(
                            f"Warning: {name} → {mapping.target} in replace mode clears the user "
                            "model: every user, staff and superuser logins included, is deleted "
                            "before the export's users are imported (--mode upsert keeps them)"
                        )
                    )
            error_file = (
                _open_for_writing(options["error_report"]) if options["error_report"] else None
            )
            try:
                observer = CommandObserver(
                    self,
                    errors=ErrorCsvWriter(error_file) if error_file else None,
                    progress=not options["no_progress"] and sys.stderr.isatty(),
                    total=sum(table.profile.items for table in analysis.tables),
                    dry_run=options["dry_run"],
                )
                report = execute(
                    tree,
                    analysis,
                    mappings,
                    dry_run=options["dry_run"],
                    observer=observer,
                    conf=conf,
                )
            finally:
                if error_file:
                    error_file.close()
        self._summary(report, observer, options)
        return report

    def _targets(self, pairs: list[str]) -> dict[str, str]:
        targets = {}
        for pair in pairs:
            table, sep, target = pair.partition("=")
            if not sep or not table or not target:
                raise CommandError(
                    f"--map expects TABLE=app_label.Model (or TABLE=raw / TABLE=skip), got {pair!r}"
                )
            targets[table] = target
        return targets

    def _mapping_file(self, path: str | None) -> MappingSet | None:
        if not path:
            return None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read mapping file {path}: {error.strerror}") from None
        return MappingSet.loads(text, source=path)

    def _summary(
        self, report: RunReport, observer: CommandObserver, options: dict[str, Any]
    ) -> None:
        totals = report.totals()
        self.stdout.write("")
        deleted = plural(totals.get("deleted", 0), "existing row")
        if report.dry_run:
            summary = f"Dry run in {report.seconds:.1f}s: would import {describe_counts(totals)}"
            summary += f"; would delete {deleted}" if totals.get("deleted") else ""
        else:
            summary = f"Done in {report.seconds:.1f}s: {describe_counts(totals)}"
            summary += f"; {deleted} deleted" if totals.get("deleted") else ""
        self.stdout.write(summary)
        if report.dry_run:
            self.stdout.write("Dry run: nothing was written.")
        # Table warnings (checksum, manifest counts, ...); a table's failure was said as it
        # happened.
        notes = [
            f"  {table.table}: {text}"
            for table in report.tables
            for text in (*table.warnings, *table.messages)
            if not text.startswith(f"table {table.table} not imported")
        ]
        if notes:
            self.stdout.write(self.style.WARNING("Warnings:"))
            for note in notes:
                self.stdout.write(note)
        if options["error_report"]:
            self.stdout.write(
                f"Error report: {options['error_report']} "
                f"({plural(observer.problem_count, 'problem')})"
            )
        elif observer.shown:
            more = observer.problem_count - len(observer.shown) - len(observer.failed_tables)
            self.stdout.write(self.style.WARNING("Problems:"))
            for problem in observer.shown:
                self.stdout.write(f"  {format_problem(problem)}")
            if more > 0:
                self.stdout.write(
                    f"  ... and {more} more (use --error-report FILE.csv to get them all)"
                )


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None


def _open_for_writing(path: str) -> TextIO:
    try:
        return open(path, "w", newline="", encoding="utf-8")  # closed by the caller
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None


def plural(count: int, noun: str, nouns: str = "") -> str:
    """ "1 error", "2 errors"; `nouns` is the plural where it is not `noun` + "s"."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def describe_counts(counts: dict[str, int]) -> str:
    """The counts of a run in one phrase: "3 new, 0 updated, 5 unchanged, 0 skipped, 1 error"."""
    return (
        f"{counts.get('new', 0)} new, {counts.get('updated', 0)} updated, "
        f"{counts.get('unchanged', 0)} unchanged, {counts.get('skipped', 0)} skipped, "
        f"{plural(counts.get('errors', 0), 'error')}"
    )


def format_problem(problem: RowProblem) -> str:
    """One problem on one line: table, place, item, attribute → field, raw value, message."""
    parts = [problem.table]
    if problem.file:
        parts.append(f"{problem.file}:{problem.line}" if problem.line else problem.file)
    if problem.item_key:
        parts.append(f"[{problem.item_key}]")
    if problem.attribute:
        target = f" → {problem.field}" if problem.field else ""
        raw = f" = {problem.raw_value!r}" if problem.raw_value else ""
        parts.append(f"{problem.attribute}{target}{raw}")
    return " ".join(parts) + f": {problem.message}"


class CommandObserver:
    """Print the seed guide's progress lines, a progress bar, and collect problems."""

    keeps_new_rows = False  # new rows are counted, not listed

    def __init__(
        self,
        command: BaseCommand,
        *,
        errors: ErrorCsvWriter | None,
        progress: bool,
        total: int,
        dry_run: bool,
    ) -> None:
        self.command = command
        self.dry_run = dry_run
        self.errors = errors
        self.progress = progress
        self.total = total
        self.done = 0
        self._finished_before = 0
        self.problem_count = 0
        self.shown: list[RowProblem] = []
        self.failed_tables: set[str] = set()
        self._started = time.monotonic()
        self._last_draw = 0.0

    def table_started(self, table: TableSource, *, target: str, total_items: int) -> None:
        shown = {RAW: "importer.RawItem (raw)", SKIP: "nothing (skipped)"}.get(target, target)
        self.command.stdout.write("")
        self.command.stdout.write(f"Importing table: {table.name} → {shown}")
        self.command.stdout.write(f"Found {plural(len(table.files), 'JSON file')}")

    def file_started(self, table: TableSource, data_file: DataFile) -> None:
        pass

    def file_finished(self, table: TableSource, data_file: DataFile, *, items: int) -> None:
        self._clear_bar()
        self.command.stdout.write(
            f"  Processing {plural(items, 'record')} from {data_file.path.rsplit('/', 1)[-1]}"
        )

    def row(self, result: RowResult) -> None:
        pass

    def batch_done(self, table: TableSource, counts: TableCounts) -> None:
        self.done = self._finished_before + counts.read
        if self.progress:
            self._draw_bar()

    def problem(self, problem: RowProblem) -> None:
        self.problem_count += 1
        if self.errors is not None:
            self.errors.add(problem)
        if not problem.file and not problem.item_key:
            # A whole table failed: say so where it happens, once.
            self.failed_tables.add(problem.table)
            self._clear_bar()
            self.command.stdout.write(self.command.style.ERROR(f"  {problem.message}"))
        elif len(self.shown) < SHOWN_PROBLEMS:
            self.shown.append(problem)

    def table_finished(self, table: TableSource, counts: TableCounts) -> None:
        self._finished_before += counts.read
        self._clear_bar()
        style = self.command.style
        if counts.imported or (not counts.errors and counts.read == 0 and not self._failed(table)):
            self.command.stdout.write(
                style.SUCCESS(
                    f"Would import {plural(counts.imported, 'record')} for table {table.name}"
                    if self.dry_run
                    else f"Successfully imported {plural(counts.imported, 'record')} for table "
                    f"{table.name}"
                )
            )
        elif self._failed(table):
            return
        else:
            self.command.stdout.write(style.ERROR(f"No records imported for table {table.name}"))
        self.command.stdout.write(
            f"  new {counts.new}, updated {counts.updated}, unchanged {counts.unchanged}, "
            f"skipped {counts.skipped}, errors {counts.errors}"
            + (f", deleted {counts.deleted}" if counts.deleted else "")
        )

    def _failed(self, table: TableSource) -> bool:
        return table.name in self.failed_tables

    def _draw_bar(self) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.2:
            return
        self._last_draw = now
        total = max(self.total, self.done, 1)
        width = 30
        filled = int(width * self.done / total)
        rate = self.done / max(now - self._started, 1e-9)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * self.done // total:3d}% "
            f"{self.done:,}/{total:,} items, {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def _clear_bar(self) -> None:
        if self.progress and self._last_draw:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


__all__ = ["Command", "TableStatus"]
