"""One import run, start to finish: analyse a source, settle the mappings, execute (dry or real).

This is the service the three doors call: the `import_dynamodb` command, the wizard's views and the
background task. It holds no reading, mapping or writing logic of its own; it puts the pipeline's
stages in order and keeps the run atomic: one transaction for all tables, a savepoint per table,
and a dry run that is the same run rolled back.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from django.core.management.color import no_style
from django.db import connections, models, transaction

from .archive import SourceTree
from .coerce import RowCoercer
from .conf import ImporterSettings, get_settings
from .discover import discover
from .encode import LineEncoder
from .errors import ImportAborted, ImporterError, ReadError
from .fanout import EncodedLines, Limits, encode_files, profile_files, worker_count
from .load import TableLoader
from .mapping import RAW, MappingSet, Mode, TableMapping, resolve_model, suggest_mapping
from .observer import RunObserver, SilentObserver
from .outcomes import RowProblem, TableCounts
from .profile import TableProfile, TableProfiler
from .read import iter_items, iter_line_chunks
from .report import RunReport, TableReport, TableStatus
from .sources import DataFile, Discovery, LineChunk, SourceItem, TableSource


@dataclass(frozen=True, slots=True, kw_only=True)
class TableAnalysis:
    """One table of the source, profiled; `error` says why it cannot be imported, if it cannot."""

    source: TableSource
    profile: TableProfile
    error: str | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def key_types(self) -> dict[str, str]:
        return {
            attribute.name: next((tag for tag in attribute.types if tag != "NULL"), "")
            for attribute in self.profile.attributes
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """Everything found in one source: its tables, profiled, and source-level warnings."""

    label: str
    tables: tuple[TableAnalysis, ...] = ()
    warnings: tuple[str, ...] = ()

    def table(self, name: str) -> TableAnalysis | None:
        return next((table for table in self.tables if table.name == name), None)


@dataclass(slots=True)
class _TableRun:
    analysis: TableAnalysis
    mapping: TableMapping
    counts: TableCounts = field(default_factory=TableCounts)
    messages: list[str] = field(default_factory=list)
    status: str = TableStatus.IMPORTED
    seconds: float = 0.0
    files: int = 0


def analyse(
    tree: SourceTree,
    *,
    only: tuple[str, ...] = (),
    conf: ImporterSettings | None = None,
    discovery: Discovery | None = None,
) -> Analysis:
    """Discover every table in `tree` and profile each one over all its items.

    `discovery`, when given, is what `discover` found in this tree already (the wizard discovers
    first, so that only the profiling reads count as its progress).
    """
    conf = conf or get_settings()
    discovery = discovery or discover(tree)
    with _without_cyclic_gc():
        tables = _analyse_tables(tree, discovery.tables, only=only, conf=conf)
    if only:
        unknown = sorted(set(only) - {table.name for table in tables})
        if unknown:
            found = ", ".join(table.name for table in discovery.tables) or "none"
            raise ImporterError(
                f"no table named {', '.join(unknown)} in {tree.label} (found: {found})"
            )
    return Analysis(label=tree.label, tables=tuple(tables), warnings=discovery.warnings)


def _analyse_tables(
    tree: SourceTree,
    sources: tuple[TableSource, ...],
    *,
    only: tuple[str, ...],
    conf: ImporterSettings,
) -> list[TableAnalysis]:
    tables = []
    limits = _limits(conf)
    processes = worker_count(conf.analysis_processes)
    for source in sources:
        if only and source.name not in only:
            continue
        profiler = TableProfiler(source.name)
        error = _unreadable_reason(source, tree)
        if error is None:
            try:
                profiler = profile_files(
                    tree, source.name, source.files, limits=limits, processes=processes
                )
            except ReadError as read_error:
                error = str(read_error)
        tables.append(TableAnalysis(source=source, profile=profiler.build(), error=error))
    return tables


def _limits(conf: ImporterSettings) -> Limits:
    return Limits(
        max_line_bytes=conf.max_line_bytes,
        max_decompressed_bytes=conf.max_file_decompressed_bytes,
        max_members=conf.max_zip_members,
        max_uncompressed_bytes=conf.max_uncompressed_bytes,
        max_compression_ratio=conf.max_compression_ratio,
    )


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while items stream through.

    Items are freed by reference counting as soon as their batch is done; what the collector
    would do is walk every live batch again and again as it promotes them (measured: a fifth
    of an import's time). The pipeline builds no reference cycles; whatever a library may
    leave is collected as usual once the collector runs again.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def suggest_mappings(
    analysis: Analysis,
    *,
    targets: dict[str, str] | None = None,
    given: MappingSet | None = None,
    mode: str | None = None,
    on_error: str | None = None,
    conf: ImporterSettings | None = None,
) -> MappingSet:
    """Settle one mapping per table: a given one, else a suggestion for the chosen or default target.

    The target comes from `targets`, then the TABLE_MODEL_MAP setting, else "raw" (nothing lost).
    `mode` and `on_error`, when given, override every table's.
    """
    conf = conf or get_settings()
    targets = targets or {}
    tables = {}
    for table in analysis.tables:
        if given is not None and table.name in given.tables and table.name not in targets:
            mapping = given.tables[table.name]
        else:
            target = targets.get(table.name) or conf.table_model_map.get(table.name) or RAW
            mapping = suggest_mapping(
                table.profile, target=target, key_attributes=table.source.key_attributes
            )
        overrides = {}
        if mode:
            overrides["mode"] = mode
        if on_error:
            overrides["on_error"] = on_error
        if overrides:
            mapping = replace(mapping, **overrides)
        tables[table.name] = mapping
    return MappingSet(tables=tables)


def execute(
    tree: SourceTree,
    analysis: Analysis,
    mappings: MappingSet,
    *,
    dry_run: bool,
    observer: RunObserver | None = None,
    using: str = "default",
    conf: ImporterSettings | None = None,
) -> RunReport:
    """Run the import of every mapped table in one transaction; roll it back when `dry_run`."""
    conf = conf or get_settings()
    observer = observer or SilentObserver()
    started = time.monotonic()
    runs = [
        _TableRun(analysis=table, mapping=mappings.tables[table.name])
        for table in analysis.tables
        if table.name in mappings.tables
    ]
    for run in runs:
        if run.mapping.is_skipped:
            run.status = TableStatus.SKIPPED
    active = _in_dependency_order([run for run in runs if run.status != TableStatus.SKIPPED])
    aborted: str | None = None
    try:
        with _without_cyclic_gc(), transaction.atomic(using=using):
            _clear_replaced(active, using)
            loaders = []
            for run in active:
                loader = _run_table(run, tree, observer, using, conf)
                if loader is not None:
                    loaders.append(loader)
            if dry_run:
                transaction.set_rollback(True, using=using)
            else:
                _reset_sequences(loaders, using)
    except ImportAborted as error:
        aborted = str(error)
    seconds = time.monotonic() - started
    if aborted:
        for run in runs:
            if run.status == TableStatus.IMPORTED:
                run.status = TableStatus.FAILED
    return RunReport(
        dry_run=dry_run,
        tables=tuple(_table_report(run) for run in runs),
        seconds=seconds,
        aborted=aborted,
        warnings=analysis.warnings,
    )


def _run_table(
    run: _TableRun, tree: SourceTree, observer: RunObserver, using: str, conf: ImporterSettings
) -> TableLoader | None:
    table = run.analysis
    started = time.monotonic()
    observer.table_started(table.source, target=run.mapping.target, total_items=table.profile.items)
    try:
        if table.error:
            raise ImporterError(table.error)
        coercer = RowCoercer(
            run.mapping, key_types=table.key_types, naive_timezone=conf.naive_timezone, using=using
        )
        loader = TableLoader(
            coercer,
            source=table.source,
            observer=observer,
            counts=run.counts,
            using=using,
            batch_size=conf.batch_size,
            fast=conf.postgres_copy,
            naive_timezone=conf.naive_timezone,
        )
        with transaction.atomic(using=using):
            loader.load(
                _entries(
                    tree, table.source, conf, encoder=loader.encoder, observer=observer, run=run
                )
            )
    except ImporterError as error:
        if isinstance(error, ImportAborted):
            raise
        run.status = TableStatus.FAILED
        message = f"table {table.name} not imported: {error}"
        run.messages.append(message)
        observer.problem(RowProblem(table=table.name, message=message))
        if run.mapping.on_error == "abort":
            raise ImportAborted(message) from None
        loader = None
    run.seconds = time.monotonic() - started
    expected = table.source.manifest_item_count
    if run.status == TableStatus.IMPORTED and expected is not None and expected != run.counts.read:
        run.messages.append(
            f"the manifest promises {expected} items, the data files hold {run.counts.read}"
        )
    observer.table_finished(table.source, run.counts)
    return loader


def _unreadable_reason(source: TableSource, tree: SourceTree) -> str | None:
    missing = [data_file.path for data_file in source.files if data_file.missing]
    if missing:
        names = ", ".join(missing)
        return f"data file {names} is listed in manifest-files.json but missing from {tree.label}"
    if source.output_format.upper() != "DYNAMODB_JSON":
        return f"export format {source.output_format} is not supported (only DYNAMODB_JSON)"
    if source.export_type.upper() != "FULL_EXPORT":
        return (
            f"{source.export_type} exports hold change records, not items; "
            "import a full export instead"
        )
    return None


def _entries(
    tree: SourceTree,
    source: TableSource,
    conf: ImporterSettings,
    *,
    encoder: LineEncoder | None,
    observer: RunObserver,
    run: _TableRun,
) -> Iterator[SourceItem | LineChunk | EncodedLines]:
    """The table's items, file by file, for its loader.

    With a fast lane (`encoder`), export lines come undecoded (LineChunks), or already encoded by
    worker processes when the table is big (EncodedLines, importer/fanout.py).
    """
    limits = {
        "max_line_bytes": conf.max_line_bytes,
        "max_decompressed_bytes": conf.max_file_decompressed_bytes,
    }
    encoded = (
        encode_files(
            tree,
            source.files,
            encoder=encoder,
            limits=_limits(conf),
            processes=worker_count(conf.analysis_processes),
        )
        if encoder is not None
        else None
    )
    ahead = iter(encoded) if encoded is not None else None
    try:
        yield from _files_entries(
            tree,
            source,
            data_file_limits=limits,
            encoder=encoder,
            ahead=ahead,
            observer=observer,
            run=run,
        )
    finally:
        if ahead is not None:
            ahead.close()  # stops the worker processes, even when the table failed


def _files_entries(
    tree: SourceTree,
    source: TableSource,
    *,
    data_file_limits: dict[str, int],
    encoder: LineEncoder | None,
    ahead: Iterator[EncodedLines | DataFile] | None,
    observer: RunObserver,
    run: _TableRun,
) -> Iterator[SourceItem | LineChunk | EncodedLines]:
    limits = data_file_limits
    for data_file in source.files:
        observer.file_started(source, data_file)
        count = 0
        done = next(ahead) if ahead is not None else data_file
        if isinstance(done, EncodedLines):
            count = len(done.numbers)
            yield done
        else:
            chunks = iter_line_chunks(tree, data_file, **limits) if encoder is not None else None
            if chunks is None:
                for item in iter_items(tree, data_file, **limits):
                    count += 1
                    yield item
            else:
                for first, chunk in chunks:
                    numbers = None
                    if b"" in chunk or any(map(bytes.isspace, chunk)):  # blank: no item
                        numbers = [n for n, line in enumerate(chunk, first) if line.strip()]
                        chunk = [line for line in chunk if line.strip()]
                    count += len(chunk)
                    yield LineChunk(file=data_file.path, first=first, lines=chunk, numbers=numbers)
        run.files += 1
        observer.file_finished(source, data_file, items=count)


def _target_model(run: _TableRun) -> type[models.Model]:
    return resolve_model(run.mapping.target)


def _in_dependency_order(runs: list[_TableRun]) -> list[_TableRun]:
    """Order tables so that a model comes after every model its foreign keys point to."""
    by_model: dict[type[models.Model], list[_TableRun]] = {}
    for run in runs:
        by_model.setdefault(_target_model(run), []).append(run)
    ordered: list[_TableRun] = []
    visiting: set[type[models.Model]] = set()
    done: set[type[models.Model]] = set()

    def visit(model: type[models.Model]) -> None:
        if model in done or model in visiting:
            return  # a cycle: keep the source order for its members
        visiting.add(model)
        for model_field in model._meta.concrete_fields:
            related = model_field.related_model if model_field.is_relation else None
            if related in by_model and related is not model:
                visit(related)
        visiting.discard(model)
        done.add(model)
        ordered.extend(by_model[model])

    for run in runs:
        visit(_target_model(run))
    return ordered


def _clear_replaced(runs: list[_TableRun], using: str) -> None:
    """Delete the rows of every table in replace mode, dependants first."""
    for run in reversed(runs):
        if run.mapping.mode != Mode.REPLACE:
            continue
        model = _target_model(run)
        rows = model._base_manager.using(using)
        if run.mapping.target == RAW:
            rows = rows.filter(source_table=run.mapping.table)
        _, per_model = rows.all().delete()
        run.counts.deleted = per_model.get(model._meta.label, 0)


def _reset_sequences(loaders: list[TableLoader], using: str) -> None:
    """Move primary-key sequences past explicitly written ids (CASES.md C16)."""
    models_written = {
        loader.model
        for loader in loaders
        if loader.wrote_primary_keys
        and isinstance(
            loader.model._meta.pk, (models.AutoField, models.BigAutoField, models.SmallAutoField)
        )
    }
    if not models_written:
        return
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), sorted(models_written, key=str))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _table_report(run: _TableRun) -> TableReport:
    return TableReport(
        table=run.analysis.name,
        target=run.mapping.target,
        status=run.status,
        counts=run.counts.as_dict(),
        expected_items=run.analysis.source.manifest_item_count,
        files=len(run.analysis.source.files),
        messages=tuple(run.messages),
        warnings=run.analysis.source.warnings,
        seconds=run.seconds,
    )
