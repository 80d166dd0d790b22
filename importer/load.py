"""Write one table's rows: batched, new rows created, changed rows updated, bad rows reported.

Runs inside the run's one transaction (see importer/run.py). Repeated keys, foreign keys and
many-to-many targets are checked before writing, because the database checks them only at commit,
where one bad row would undo everything. A batch the database refuses is retried row by row in
savepoints, so a bad row becomes a row problem instead of aborting the run (unless the error policy
says abort). On PostgreSQL the checks, the classification and the writes are set-based SQL on a
staging table (importer/pgcopy.py), and export lines can skip Python's per-value work through the
fast lane (importer/encode.py); everywhere else they are ORM queries. Reporting is shared, in the
same order on both paths.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from django.db import DatabaseError, models, transaction

from .coerce import CoercedRow, RowCoercer, RowFailure
from .converters import m2m_lookup_field
from .duplicates import SeenKeys, key_text
from .errors import ImportAborted
from .fanout import EncodedLines
from .mapping import ErrorPolicy
from .observer import RunObserver
from .outcomes import Outcome, RowProblem, RowResult, TableCounts
from .pgcopy import FastRow, StagedBatch, StagedRow, StagedWriter, staged_writer_for
from .plan import PlannedRow, classify, fetch_existing
from .read import ItemLines
from .sources import LineChunk, SourceItem, TableSource

# An item; (file, line, raw) of an export line; or (file, line, raw, COPY values or None, item
# key) of an export line a worker process encoded.
Entry = SourceItem | tuple[str, int, bytes] | tuple[str, int, bytes, str | None, str | None]


@dataclass(slots=True)
class _StagedBatch:
    """A batch on the staged path: every item's result, the rows to stage, what COPY sends."""

    results: list[StagedRow | RowFailure] = field(default_factory=list)
    rows: list[StagedRow] = field(default_factory=list)
    copied: list[str | tuple[Any, ...]] = field(default_factory=list)
    found: Future[StagedBatch] | None = None


class TableLoader:
    """Load the items of one table into its target model through one RowCoercer."""

    def __init__(
        self,
        coercer: RowCoercer,
        *,
        source: TableSource,
        observer: RunObserver,
        counts: TableCounts,
        using: str = "default",
        batch_size: int = 1000,
        fast: bool = True,
        naive_timezone: str = "UTC",
    ) -> None:
        self.coercer = coercer
        self.source = source
        self.mapping = coercer.mapping
        self.model = coercer.model
        self.observer = observer
        self.counts = counts
        self.using = using
        self.batch_size = batch_size
        self.wrote_primary_keys = False
        self._written = coercer.written_fields
        pk = self.model._meta.pk
        self._writes_pk = pk is not None and pk.attname in self._written
        self._field_order = {name: index for index, name in enumerate(self._written)}
        # None: the generic path (any database, many-to-many fields, or fast=False).
        self.staged: StagedWriter | None = (
            staged_writer_for(self.model, coercer, mode=self.mapping.mode, using=using)
            if fast
            else None
        )
        self.encoder = (
            self.staged.line_encoder(coercer, naive_timezone=naive_timezone)
            if self.staged is not None
            else None
        )
        self._item_lines: dict[str, ItemLines] = {}

    def load(self, entries: Iterable[SourceItem | LineChunk | EncodedLines]) -> None:
        """Coerce, check, classify and write every item (or export line), batch by batch."""
        if self.staged is None:
            self._seen = SeenKeys(using=self.using)
            for batch in _batches(entries, self.batch_size):
                self._load_batch(batch)
            self._seen.drop()
            return
        self.staged.open()
        # While a worker thread sends batch n to PostgreSQL (which releases the GIL), this
        # thread encodes batch n + 1: the database and Python work at the same time. The
        # connection is used by one thread at a time: before anything else goes through it,
        # the loader waits for the batch in flight.
        pending: _StagedBatch | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="importer-copy") as pool:
            try:
                for entries_batch in _batches(
                    entries, max(self.batch_size, self.staged.batch_size)
                ):
                    batch = self._encode_batch(entries_batch)
                    if pending is not None:
                        self._finish_batch(pending)
                    pending = batch
                    batch.found = pool.submit(self.staged.stage, batch.rows, batch.copied)
                    if self.staged.computes_defaults_per_row:
                        # A callable default may query: the next batch's coercion must not
                        # overlap this one's COPY on the same connection.
                        pending = None
                        self._finish_batch(batch)
                if pending is not None:
                    batch, pending = pending, None
                    self._finish_batch(batch)
            finally:
                if pending is not None and pending.found is not None:
                    wait([pending.found])  # an error here: let the batch in flight end first
        self.staged.close()

    def _load_batch(self, entries: list[Entry]) -> None:
        items = [self._item(entry) for entry in entries]
        rows = self._new_keys([self.coercer.coerce(item) for item in items])
        rows = self._check_references(rows)
        self._report(self._write(self._plan(rows)))
        self.observer.batch_done(self.source, self.counts)

    def _encode_batch(self, entries: list[Entry]) -> _StagedBatch:
        """Encode (fast lane) or coerce every entry; prepare what COPY sends for each row."""
        staged = self.staged
        assert staged is not None
        encoder = self.encoder
        encode = encoder.encode if encoder is not None else None
        file_index = staged.file_index  # files are numbered here, never in the writer thread
        batch = _StagedBatch()
        results, rows, copied = batch.results, batch.rows, batch.copied
        for entry in entries:
            if type(entry) is tuple:
                file_index(entry[0])
                if len(entry) == 5:  # encoded by a worker process (importer/fanout.py)
                    file, line, raw, values, key = entry  # type: ignore[misc]
                    if values is not None:
                        row = FastRow(None, values, file, line, raw, encoder, key)  # type: ignore[arg-type]
                        results.append(row)
                        rows.append(row)
                        copied.append(values)
                        continue
                    encoded = None
                else:
                    file, line, raw = entry
                    encoded = encode(raw) if encode is not None else None
                if encoded is not None:
                    item, values = encoded
                    text = "\t".join(values)
                    row: StagedRow = FastRow(item, text, file, line, raw, encoder)  # type: ignore[arg-type]
                    results.append(row)
                    rows.append(row)
                    copied.append(text)
                    continue
                coerced = [self.coercer.coerce(item) for item in self._lines(file).items(line, raw)]
            else:
                coerced = [self.coercer.coerce(entry)]
            for result in coerced:
                results.append(result)
                if not isinstance(result, RowFailure):
                    copied.append(staged.prepared(len(rows), result))
                    rows.append(result)
        return batch

    def _finish_batch(self, batch: _StagedBatch) -> None:
        """Report a staged batch; plan and write it if the staging did not write it already."""
        staged = self.staged
        assert staged is not None and batch.found is not None
        found = batch.found.result()
        if (
            found.inserted
            and len(batch.rows) == len(batch.results)
            and not (found.refused or found.duplicates or found.missing or self._keeps_new_rows)
        ):
            # Every item of the batch was new and is written: only counts to keep.
            self.counts.read += len(batch.results)
            self.counts.new += len(batch.rows)
            if batch.rows:
                self.wrote_primary_keys = self.wrote_primary_keys or self._writes_pk
            self.observer.batch_done(self.source, self.counts)
            return
        # Report as the generic path does: failed items and repeated keys in item order, then
        # missing references, then what was written.
        kept: list[tuple[int, StagedRow]] = []
        number = 0
        for result in batch.results:
            self.counts.read += 1
            if isinstance(result, RowFailure):
                self._fail(result.item_key, result.file, result.line, result.problems)
                continue
            first = found.duplicates.get(number)
            if first is not None:
                origin = f"{staged.file_name(first[0])}, line {first[1]}"
                self._fail_row(result, f"duplicate key {result.item_key} (first seen at {origin})")
            else:
                kept.append((number, result))
            number += 1
        clean: list[StagedRow] = []
        for number, row in kept:
            missing = found.missing.get(number)
            if missing is None:
                clean.append(row)
                continue
            problems = tuple(
                self._problem(
                    row,
                    f"{model_field.related_model._meta.verbose_name} {value!r} does not exist",
                    attribute=self._attribute_of(model_field.name),
                    field=model_field.name,
                    raw_value=str(value),
                )
                for model_field, value in sorted(
                    missing, key=lambda pair: self._field_order[pair[0].attname]
                )
            )
            self._fail(row.item_key, row.file, row.line, problems)
        refused = {id(row): found.refused[n] for n, row in kept if n in found.refused}
        writable = [row for row in clean if id(row) not in refused]
        if found.inserted or found.insert_error is not None:
            planned = [PlannedRow(row=row, outcome=Outcome.NEW) for row in writable]
        else:
            planned = staged.plan(writable, self._coerced)
        if refused:  # the refused rows take their place, as rows to insert
            by_row = {id(entry.row): entry for entry in planned}
            planned = [
                by_row.get(id(row)) or PlannedRow(row=row, outcome=Outcome.NEW)  # type: ignore[arg-type]
                for row in clean
            ]
        self._report(self._write_staged(planned, refused, found))
        self.observer.batch_done(self.source, self.counts)

    def _write_staged(
        self, planned: list[PlannedRow], refused: dict[int, str], found: StagedBatch
    ) -> Iterator[PlannedRow]:
        """Write a staged batch (unless `stage` did); refused rows fail where the generic path
        fails them."""
        staged = self.staged
        assert staged is not None
        to_write = [entry for entry in planned if entry.outcome in (Outcome.NEW, Outcome.UPDATED)]
        writable = [entry for entry in to_write if id(entry.row) not in refused]
        error = found.insert_error if found.inserted or found.insert_error else None
        if not found.inserted and found.insert_error is None:
            error = staged.write(writable)
        if error is not None:
            for entry in to_write:
                entry.row = self._coerced(entry.row)  # type: ignore[arg-type]
            written = []
            for entry in self._write_row_by_row(planned, to_write):
                if entry.outcome == Outcome.NEW:
                    written.append(entry.row)
                yield entry
            staged.remember(written)  # type: ignore[arg-type]
            # Django's error wrappers leave reference cycles (traceback and frame) holding the
            # batch; the cyclic collector is paused during a run (run.py), so collect them now.
            gc.collect()
            return
        if any(entry.outcome == Outcome.NEW for entry in writable):
            self.wrote_primary_keys = self.wrote_primary_keys or self._writes_pk
        if not refused:
            yield from planned
            return
        # As the generic path reports a batch the database refused: the rows it did not mean
        # to write first, then the others in order, each refused row failing in its place.
        yield from (
            entry for entry in planned if entry.outcome not in (Outcome.NEW, Outcome.UPDATED)
        )
        for entry in to_write:
            reason = refused.get(id(entry.row))
            if reason is not None:
                self._fail_row(entry.row, f"the database refused the row: {reason}")
                continue
            yield entry

    def _item(self, entry: Entry) -> SourceItem:
        if type(entry) is tuple:
            file, line, raw = entry
            (item,) = self._lines(file).items(line, raw)
            return item
        return entry  # type: ignore[return-value]

    def _lines(self, file: str) -> ItemLines:
        parser = self._item_lines.get(file)
        if parser is None:
            parser = self._item_lines[file] = ItemLines(file)
        return parser

    def _coerced(self, row: StagedRow) -> CoercedRow:
        """The coercer's row for a fast-lane row (for diffs and the ORM's row-by-row writes)."""
        if isinstance(row, CoercedRow):
            return row
        (item,) = self._lines(row.file).items(row.line, row.raw)
        coerced = self.coercer.coerce(item)
        if not isinstance(coerced, CoercedRow):  # the lane took a line the coercer refuses
            raise AssertionError(f"fast lane and coercer disagree on {row.file}, line {row.line}")
        return coerced

    def _new_keys(self, results: list[CoercedRow | RowFailure]) -> list[CoercedRow]:
        """Report failed items and repeated keys (in item order); return the rows to go on."""
        texts = [
            key_text(result.key) if isinstance(result, CoercedRow) else "" for result in results
        ]
        earlier = self._seen.seen([text for text in texts if text])
        first_seen: dict[str, str] = {}
        rows: list[CoercedRow] = []
        for result, text in zip(results, texts, strict=True):
            self.counts.read += 1
            if isinstance(result, RowFailure):
                self._fail(result.item_key, result.file, result.line, result.problems)
                continue
            first = earlier.get(text) or first_seen.get(text)
            if first is not None:
                self._fail_row(result, f"duplicate key {result.item_key} (first seen at {first})")
                continue
            first_seen[text] = f"{result.file}, line {result.line}"
            rows.append(result)
        self._seen.add(list(first_seen.items()))
        return rows

    def _plan(self, rows: list[CoercedRow]) -> list[PlannedRow]:
        existing = fetch_existing(self.model, self.coercer.key_fields, rows, using=self.using)
        current_many = self._current_many(existing) if self.coercer.many_fields else None
        return classify(
            rows,
            existing,
            model=self.model,
            key_fields=self.coercer.key_fields,
            mode=self.mapping.mode,
            current_many=current_many,
        )

    @property
    def _keeps_new_rows(self) -> bool:
        # Observers that only count new rows (the command line, or a preview that has listed
        # enough) are spared a RowResult each.
        return getattr(self.observer, "keeps_new_rows", True)

    def _report(self, written: Iterator[PlannedRow]) -> None:
        report_new = self._keeps_new_rows
        for entry in written:
            self.counts.add(entry.outcome)
            if entry.outcome == Outcome.UNCHANGED or (
                entry.outcome == Outcome.NEW and not report_new
            ):
                continue
            diff = dict(entry.diff)
            diff.update({name: (old, new) for name, (old, new) in entry.many_diff.items()})
            self.observer.row(
                RowResult(
                    table=self.mapping.table,
                    outcome=entry.outcome,
                    item_key=entry.row.item_key,
                    file=entry.row.file,
                    line=entry.row.line,
                    diff=diff,
                )
            )

    def _check_references(self, rows: list[CoercedRow]) -> list[CoercedRow]:
        """Fail the rows whose foreign keys or many-to-many values name rows that do not exist."""
        problems: dict[int, list[RowProblem]] = {}
        for model_field in self.model._meta.concrete_fields:
            if not model_field.is_relation or model_field.attname not in self._written:
                continue
            wanted = {row.values.get(model_field.attname) for row in rows} - {None}
            if not wanted:
                continue
            target = model_field.target_field
            found = set(
                model_field.related_model._base_manager.using(self.using)
                .filter(**{f"{target.attname}__in": wanted})
                .values_list(target.attname, flat=True)
            )
            attribute = self._attribute_of(model_field.name)
            for index, row in enumerate(rows):
                value = row.values.get(model_field.attname)
                if value is not None and value not in found:
                    problems.setdefault(index, []).append(
                        self._problem(
                            row,
                            f"{model_field.related_model._meta.verbose_name} {value!r} does not exist",
                            attribute=attribute,
                            field=model_field.name,
                            raw_value=str(value),
                        )
                    )
        for model_field in self.coercer.many_fields:
            lookup = m2m_lookup_field(model_field)
            wanted = {value for row in rows for value in row.many.get(model_field.name, [])}
            found = set(
                model_field.related_model._base_manager.using(self.using)
                .filter(**{f"{lookup.attname}__in": wanted})
                .values_list(lookup.attname, flat=True)
            )
            attribute = self._attribute_of(model_field.name)
            for index, row in enumerate(rows):
                missing = [
                    value for value in row.many.get(model_field.name, []) if value not in found
                ]
                if missing:
                    names = ", ".join(repr(value) for value in missing)
                    problems.setdefault(index, []).append(
                        self._problem(
                            row,
                            f"no {model_field.related_model._meta.verbose_name} with "
                            f"{lookup.name} {names}",
                            attribute=attribute,
                            field=model_field.name,
                            raw_value=", ".join(map(str, missing)),
                        )
                    )
        for index, row_problems in problems.items():
            row = rows[index]
            self._fail(row.item_key, row.file, row.line, tuple(row_problems))
        return [row for index, row in enumerate(rows) if index not in problems]

    def _current_many(
        self, existing: dict[tuple[Any, ...], models.Model]
    ) -> dict[tuple[Any, ...], dict[str, list[Any]]]:
        current: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
        for model_field in self.coercer.many_fields:
            lookup = m2m_lookup_field(model_field)
            for key, instance in existing.items():
                values = list(
                    getattr(instance, model_field.name).values_list(lookup.attname, flat=True)
                )
                current.setdefault(key, {})[model_field.name] = values
        return current

    def _write(self, planned: list[PlannedRow]) -> Iterator[PlannedRow]:
        """Write a batch in a savepoint; if the database refuses it, retry row by row."""
        to_write = [entry for entry in planned if entry.outcome in (Outcome.NEW, Outcome.UPDATED)]
        try:
            with transaction.atomic(using=self.using):
                self._write_rows(to_write)
        except DatabaseError:
            yield from self._write_row_by_row(planned, to_write)
            return
        yield from planned

    def _write_row_by_row(
        self, planned: list[PlannedRow], to_write: list[PlannedRow]
    ) -> Iterator[PlannedRow]:
        yield from (
            entry for entry in planned if entry.outcome not in (Outcome.NEW, Outcome.UPDATED)
        )
        for entry in to_write:
            try:
                with transaction.atomic(using=self.using):
                    self._write_rows([entry])
            except DatabaseError as error:
                message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
                self._fail_row(entry.row, f"the database refused the row: {message}")
                continue
            yield entry

    def _write_rows(self, entries: list[PlannedRow]) -> None:
        manager = self.model._base_manager.using(self.using)
        new = [entry for entry in entries if entry.outcome == Outcome.NEW]
        updated = [entry for entry in entries if entry.outcome == Outcome.UPDATED]
        if new:
            instances = [self.model(**entry.row.values) for entry in new]
            manager.bulk_create(instances, batch_size=self.batch_size)
            for entry, instance in zip(new, instances, strict=True):
                entry.instance = instance
            self.wrote_primary_keys = self.wrote_primary_keys or self._writes_pk
        if updated:
            changed: set[str] = set()
            for entry in updated:
                assert entry.instance is not None
                for attname, value in entry.row.values.items():
                    setattr(entry.instance, attname, value)
                changed.update(self.model._meta.get_field(name).attname for name in entry.diff)
            if changed:
                manager.bulk_update(
                    [entry.instance for entry in updated if entry.diff],
                    fields=sorted(changed),
                    batch_size=self.batch_size,
                )
        for entry in (*new, *updated):
            for name, values in entry.row.many.items():
                self._set_many(entry, name, values)

    def _set_many(self, entry: PlannedRow, name: str, values: list[Any]) -> None:
        model_field = self.model._meta.get_field(name)
        lookup = m2m_lookup_field(model_field)  # type: ignore[arg-type]
        related = model_field.related_model._base_manager.using(self.using).filter(
            **{f"{lookup.attname}__in": values}
        )
        getattr(entry.instance, name).set(list(related))

    def _attribute_of(self, field_name: str) -> str:
        return next(
            (item.attribute for item in self.mapping.fields if item.field == field_name), ""
        )

    def _problem(self, row: CoercedRow, message: str, **where: Any) -> RowProblem:
        return RowProblem(
            table=self.mapping.table,
            message=message,
            file=row.file,
            line=row.line,
            item_key=row.item_key,
            **where,
        )

    def _fail_row(self, row: CoercedRow, message: str) -> None:
        self._fail(row.item_key, row.file, row.line, (self._problem(row, message),))

    def _fail(self, item_key: str, file: str, line: int, problems: tuple[RowProblem, ...]) -> None:
        self.counts.add(Outcome.ERROR)
        for problem in problems:
            self.observer.problem(problem)
        self.observer.row(
            RowResult(
                table=self.mapping.table,
                outcome=Outcome.ERROR,
                item_key=item_key,
                file=file,
                line=line,
                problems=problems,
            )
        )
        if self.mapping.on_error == ErrorPolicy.ABORT:
            first = problems[0]
            where = f"{first.file}, line {first.line}" if first.line else first.file
            detail = f"{first.attribute}: " if first.attribute else ""
            raise ImportAborted(
                f"import aborted at table {self.mapping.table}, {where} (item {item_key or '?'}): "
                f"{detail}{first.message}"
            )


def _batches(
    entries: Iterable[SourceItem | LineChunk | EncodedLines], size: int
) -> Iterator[list[Entry]]:
    """Cut items and export lines into batches of `size` (a file's lines may be cut anywhere)."""
    batch: list[Entry] = []
    for entry in entries:
        if type(entry) is EncodedLines:
            lines = list(
                zip(repeat(entry.file), entry.numbers, entry.raws, entry.texts, entry.keys)
            )
            start = 0
            while start < len(lines):
                part = lines[start : start + size - len(batch)]
                batch.extend(part)  # type: ignore[arg-type]
                start += len(part)
                if len(batch) >= size:
                    yield batch
                    batch = []
            continue
        if type(entry) is not LineChunk:
            batch.append(entry)  # type: ignore[arg-type]
            if len(batch) >= size:
                yield batch
                batch = []
            continue
        lines, numbers, start = entry.lines, entry.numbers, 0
        while start < len(lines):
            part = lines[start : start + size - len(batch)]
            if numbers is None:
                at: Iterable[int] = range(entry.first + start, entry.first + start + len(part))
            else:
                at = numbers[start : start + len(part)]
            batch.extend(zip(repeat(entry.file), at, part))
            start += len(part)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch
