"""PostgreSQL's staged path for one table: COPY each batch into a staging table, then decide in SQL.

Per batch every row that coerced goes through COPY into a temporary table shaped like the written
columns, tagged with its place in the batch (`_n`) and its origin (`_f` file, `_l` line). Then, set
by set: a temporary table of the keys seen so far in the run says which rows repeat an earlier
key; an anti-join per foreign key says which rows name a row that does not exist; one join
against the target says which rows are new and which match an existing row (and, in upsert mode,
whether a written column IS DISTINCT FROM it); one `INSERT ... SELECT` writes the new rows and one
`UPDATE ... FROM` the changed ones. Python looks again only at the rows SQL found changed, through
the ORM, so old → new values are exactly the generic path's.

Rows come two ways: lines of an export file the LineEncoder turned straight into COPY text (the
fast lane, importer/encode.py), and rows the RowCoercer made (everything else), written with
psycopg's own adaptation. Tables with many-to-many fields, multi-table inheritance, generated
columns or a nullable key field take the generic path (see `staged_writer_for`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connections, models
from django.utils import timezone

from .coerce import CoercedRow, RowCoercer
from .encode import NULL, LineEncoder
from .errors import ImporterError
from .mapping import Mode
from .outcomes import Outcome
from .plan import PlannedRow, classify, index_by_key

ROWS_PER_COPY = 10_000  # rows per staging round: fewer statements, still a bounded batch

# Fields whose coerced Python value psycopg adapts exactly as Django's get_db_prep_save would:
# they skip that call (~3 µs a value). Exact classes only: a subclass may prepare differently.
_PASS_THROUGH: frozenset[type[models.Field]] = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.SmallAutoField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
        models.CharField,
        models.TextField,
        models.SlugField,
        models.EmailField,
        models.URLField,
        models.DecimalField,
        models.FloatField,
        models.DateField,
        models.DateTimeField,
        models.TimeField,
        models.UUIDField,
    }
)
_names = itertools.count(1)
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]")


@dataclass(slots=True, eq=False)
class FastRow:
    """A row the fast lane encoded: its COPY text line, and where it came from."""

    item: Any  # the decoded (msgspec) item, for its key (None: a worker gave the key)
    text: str  # the COPY text of its values (the staging prepends _n, _f, _l)
    file: str
    line: int
    raw: bytes  # the export line, for the generic path when SQL finds the row changed
    encoder: LineEncoder = field(repr=False)
    _item_key: str | None = None

    @property
    def item_key(self) -> str:
        if self._item_key is None:
            self._item_key = self.encoder.item_key(self.item)
        return self._item_key


StagedRow = CoercedRow | FastRow


@dataclass(slots=True)
class StagedBatch:
    """What SQL found about one staged batch (row numbers are places in the batch)."""

    refused: dict[int, str] = field(default_factory=dict)  # could not be staged: why
    duplicates: dict[int, tuple[int, int]] = field(default_factory=dict)  # → first (_f, _l)
    missing: dict[int, list[tuple[models.ForeignKey, Any]]] = field(default_factory=dict)
    inserted: bool = False  # every staged row is new and was written (see `stage`)
    insert_error: str | None = None  # the database refused that write: take the rows one by one


def staged_writer_for(
    model: type[models.Model], coercer: RowCoercer, *, mode: str, using: str
) -> StagedWriter | None:
    """Return a StagedWriter when the staged path can write this table exactly, else None."""
    connection = connections[using]
    if connection.vendor != "postgresql" or coercer.many_fields:
        return None
    meta = model._meta
    if meta.parents or meta.pk is None:
        return None  # multi-table inheritance writes two tables per row
    local = {model_field.attname: model_field for model_field in meta.local_concrete_fields}
    written = coercer.written_fields
    if any(name not in local or getattr(local[name], "generated", False) for name in written):
        return None
    key_columns = [meta.get_field(name) for name in coercer.key_fields]
    if any(model_field.attname not in local or model_field.null for model_field in key_columns):
        return None  # repeated keys are found by a primary key on the key columns
    # The key columns first: a row's key is then the start of its COPY text (see _origin_lines).
    keys = {model_field.attname for model_field in key_columns}
    written = [name for name in written if name in keys] + [n for n in written if n not in keys]
    # Fields the mapping does not write still get their value on insert, as Model(**values)
    # + bulk_create would give them: auto_now(_add) timestamps, Python defaults, else NULL.
    pk = meta.pk
    defaults = [
        model_field
        for name, model_field in local.items()
        if name not in written
        and not (model_field is pk and isinstance(model_field, models.AutoField))
        and getattr(model_field, "db_default", models.NOT_PROVIDED) is models.NOT_PROVIDED
    ]
    return StagedWriter(
        model,
        fields=[local[name] for name in written],
        defaults=defaults,
        key_fields=coercer.key_fields,
        mode=mode,
        using=using,
    )


class StagedWriter:
    """Stage, check, plan and write batches of one table's rows through temporary tables."""

    batch_size = ROWS_PER_COPY

    def __init__(
        self,
        model: type[models.Model],
        *,
        fields: list[models.Field],
        defaults: list[models.Field],
        key_fields: Sequence[str],
        mode: str,
        using: str,
    ) -> None:
        self.model = model
        self.fields = fields
        self.key_fields = tuple(key_fields)
        self.mode = mode
        self.using = using
        connection = connections[using]
        quote = connection.ops.quote_name
        self._quote = quote
        self._target = quote(model._meta.db_table)
        serial = next(_names)
        self._stage = quote(f"importer_stage_{serial}")
        self._seen = quote(f"importer_seen_{serial}")
        self._origins = quote(f"importer_origins_{serial}")
        self._direct = False  # see `open`
        self._origins_indexed = False
        self._staged_before = 0  # rows staged by earlier batches: a row's place in the run
        self._columns = [quote(model_field.column) for model_field in fields]
        # Defaults that differ per row (a callable: uuid4, a counter...) are staged with each
        # row; the others (constants, auto_now, NULL) are one parameter of the INSERT.
        self._per_row = [f for f in defaults if f.has_default() and callable(f.default)]
        self._per_batch = [f for f in defaults if f not in self._per_row]
        self._per_row_columns = [quote(model_field.column) for model_field in self._per_row]
        self._fields_and_preparers: list[tuple[models.Field, Callable[[Any], Any] | None]] = [
            (
                model_field,
                None if _passes_through(model_field) else _preparer(model_field, connection),
            )
            for model_field in fields
        ]
        pk = model._meta.pk
        assert pk is not None
        self._pk = quote(pk.column)
        self._pk_type = pk.rel_db_type(connection)
        self._key_model_fields = [model._meta.get_field(name) for name in self.key_fields]
        self._key_columns = [quote(model_field.column) for model_field in self._key_model_fields]
        self._join = " AND ".join(f"t.{column} = s.{column}" for column in self._key_columns)
        # Every foreign key, with or without a database constraint (as the generic path).
        self._references = [
            model_field for model_field in fields if isinstance(model_field, models.ForeignKey)
        ]
        self._rows: list[StagedRow] = []
        self._position: dict[int, int] = {}
        self._files: dict[str, int] = {}
        self._target_was_empty = False
        self._connection: Any = None

    def line_encoder(self, coercer: RowCoercer, *, naive_timezone: str) -> LineEncoder | None:
        """The fast lane for this table's export lines, if every written field has one."""
        if self._per_row:
            return None
        return LineEncoder.build(
            coercer, columns=self.fields, naive_timezone=naive_timezone, using=self.using
        )

    @property
    def writes_every_new_row_itself(self) -> bool:
        """Whether `stage` also writes the batch: every row left is new (empty target, replace)."""
        return self.mode == Mode.REPLACE or self._target_was_empty

    def file_index(self, name: str) -> int:
        """The `_f` number of a data file (registered by the loader's thread only)."""
        index = self._files.get(name)
        if index is None:
            index = self._files[name] = len(self._files)
        return index

    @property
    def computes_defaults_per_row(self) -> bool:
        """Whether some field's default is a callable run for every row (it may query)."""
        return bool(self._per_row)

    def prepared(self, number: int, row: CoercedRow) -> tuple[Any, ...]:
        """A coerced row as the values COPY sends: _n, _f, _l, then the staged columns."""
        values = row.values
        staged = [
            values[model_field.attname]
            if function is None
            else function(values[model_field.attname])
            for model_field, function in self._fields_and_preparers
        ]
        staged.extend(self._row_defaults())
        return (number, self.file_index(row.file), row.line, *staged)

    def open(self) -> None:
        """Create the staging and seen-keys tables (dropped at the end, or at commit/rollback)."""
        connection = connections[self.using]
        connection.ensure_connection()
        # Statements go through psycopg's own connection, so the loader's writer thread can
        # send a batch while the loader's thread encodes the next (never both at once).
        self._connection = connection.connection
        staged = [*self.fields, *self._per_row]
        columns = ", ".join(
            f"{self._quote(model_field.column)} {model_field.db_type(connection)}"
            for model_field in staged
        )
        keys = ", ".join(
            f"{column} {model_field.db_type(connection)} NOT NULL"
            for column, model_field in zip(self._key_columns, self._key_model_fields, strict=True)
        )
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._stage} "
                f"(_n integer NOT NULL, _f integer NOT NULL, _l integer NOT NULL, {columns}) "
                "ON COMMIT DROP"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._seen} "
                f"({keys}, _f integer NOT NULL, _l integer NOT NULL, _o bigint NOT NULL, "
                f"PRIMARY KEY ({', '.join(self._key_columns)})) ON COMMIT DROP"
            )
            # An empty target can only match rows written earlier in this run, and their keys
            # are refused as repeated before the match: no batch needs the join then.
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {self._target})")
            self._target_was_empty = not cursor.fetchone()[0]
            # Into an empty target (or one just cleared), with a unique key and no foreign key
            # to check first, a batch can go straight in by COPY: the key's unique index refuses
            # a repeated key, and then (only then) the batch takes the staging table, which finds
            # the repeats. Where each key was first seen is kept beside, for those messages.
            self._direct = (
                self.writes_every_new_row_itself
                and not self._references
                and not self._per_row
                and _unique_key(self.model, self._key_model_fields)
            )
            if self._direct:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {self._origins} "
                    f"({keys}, _f integer NOT NULL, _l integer NOT NULL) ON COMMIT DROP"
                )

    def close(self) -> None:
        with self._connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._stage}, {self._seen}, {self._origins}")

    def file_name(self, number: int) -> str:
        """The file a staged `_f` number stands for."""
        return next(name for name, index in self._files.items() if index == number)

    # --- one batch ---------------------------------------------------------------------------

    def stage(self, rows: list[StagedRow], copied: list[str | tuple[Any, ...]]) -> StagedBatch:
        """COPY a batch into the staging table; find repeated keys and missing references.

        `copied` holds each row as COPY takes it: a fast-lane text line, or the prepared values
        of a coerced row. A value psycopg cannot send (text with a NUL character) refuses only
        its row. Found rows are taken out of the staging table, so `plan` and `write` see only
        the rest. When every row left is new (`writes_every_new_row_itself`) they are written
        here too, in a savepoint: `inserted`, or `insert_error` if the database refused them.
        It may run in another thread than the loader's, which waits for it before anything
        else goes through the connection.
        """
        self._rows = rows
        self._position = {id(row): number for number, row in enumerate(rows)}
        found = StagedBatch()
        if not rows:
            return found
        base, self._staged_before = self._staged_before, self._staged_before + len(rows)
        if self._direct:
            refused = self._copy_into_target(rows, copied)
            if refused is not None:
                found.refused, found.inserted = refused, True
                return found
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {self._stage}")
                found.refused = self._copy(cursor, rows, copied)
                if self._direct:
                    found.duplicates = self._repeats_in_target(cursor)
                else:
                    staged = len(rows) - len(found.refused)
                    found.duplicates = self._repeats_seen(cursor, staged, base)
                self._drop(cursor, list(found.duplicates))
                for model_field in self._references:
                    column = self._quote(model_field.column)
                    related = model_field.related_model._meta
                    cursor.execute(
                        f"SELECT s._n, s.{column} FROM {self._stage} AS s "
                        f"WHERE s.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                        f"{self._quote(related.db_table)} AS r "
                        f"WHERE r.{self._quote(model_field.target_field.column)} = s.{column}) "
                        "ORDER BY s._n"
                    )
                    for number, value in cursor.fetchall():
                        found.missing.setdefault(number, []).append((model_field, value))
                self._drop(cursor, list(found.missing))
        except psycopg.Error as error:
            # The server refused the staged rows as a whole: an unexpected value or type. The
            # table stops (its savepoint is rolled back); the message says what the server said.
            raise ImporterError(
                f"the database refused the staged rows: {_first_line(error)}"
            ) from None
        if self.writes_every_new_row_itself:
            found.insert_error = self._insert(None)
            found.inserted = found.insert_error is None
            if found.inserted and self._direct:
                keys = ", ".join(self._key_columns)
                with self._connection.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO {self._origins} ({keys}, _f, _l) "
                        f"SELECT {keys}, _f, _l FROM {self._stage}"
                    )
        return found

    def _repeats_seen(self, cursor: Any, staged: int, base: int) -> dict[int, tuple[int, int]]:
        """Staged rows whose key an earlier row of the run had (from the seen-keys table).

        A row is told from the first one with its key by its place in the run (`_o`), not by its
        file and line: the items of a scan page share one line.
        """
        keys = ", ".join(self._key_columns)
        cursor.execute(
            f"INSERT INTO {self._seen} ({keys}, _f, _l, _o) "
            f"SELECT {keys}, _f, _l, _n + %s FROM {self._stage} ORDER BY _n "
            "ON CONFLICT DO NOTHING",
            [base],
        )
        if cursor.rowcount == staged:
            return {}
        join = " AND ".join(f"k.{column} = s.{column}" for column in self._key_columns)
        cursor.execute(
            f"SELECT s._n, k._f, k._l FROM {self._stage} AS s JOIN {self._seen} AS k ON {join} "
            "WHERE k._o <> s._n + %s ORDER BY s._n",
            [base],
        )
        return {number: (file, line) for number, file, line in cursor.fetchall()}

    def _repeats_in_target(self, cursor: Any) -> dict[int, tuple[int, int]]:
        """Staged rows whose key an earlier row of the run had: in an earlier batch (the target
        holds only this run's rows; the origins table says where) or earlier in this one."""
        keys = ", ".join(self._key_columns)
        join = " AND ".join(f"o.{column} = s.{column}" for column in self._key_columns)
        if not self._origins_indexed:  # the first repeat: from now on they are looked up
            cursor.execute(f"CREATE INDEX ON {self._origins} ({keys})")
            self._origins_indexed = True
        cursor.execute(
            f"SELECT s._n, o._f, o._l FROM {self._stage} AS s JOIN {self._origins} AS o ON {join}"
        )
        repeats = {number: (file, line) for number, file, line in cursor.fetchall()}
        cursor.execute(
            f"SELECT s._n, o._f, o._l FROM {self._stage} AS s JOIN "
            f"(SELECT DISTINCT ON ({keys}) {keys}, _n, _f, _l FROM {self._stage} "
            f"ORDER BY {keys}, _n) AS o ON {join} WHERE s._n <> o._n"
        )
        for number, file, line in cursor.fetchall():
            repeats.setdefault(number, (file, line))
        return dict(sorted(repeats.items()))

    def _copy_into_target(
        self, rows: list[StagedRow], copied: list[str | tuple[Any, ...]]
    ) -> dict[int, str] | None:
        """COPY the batch straight into the target, and its keys' origins beside it.

        Return the rows psycopg refused to send (row number → why), or None when the database
        refused the batch (a repeated key, most likely): nothing of it is written then.
        """
        defaults = self._batch_defaults()
        suffix = _copy_text(defaults)
        if suffix is None:
            return None  # a default COPY text cannot spell: the staging table takes the batch
        refused: dict[int, str] = {}
        keys = ", ".join(self._key_columns)
        columns = ", ".join([*self._columns, *[self._quote(f.column) for f in self._per_batch]])
        lines = []
        with self._connection.cursor() as cursor:
            cursor.execute("SAVEPOINT importer_direct")
            try:
                with cursor.copy(f"COPY {self._target} ({columns}) FROM STDIN") as copy:
                    # In item order: the serial keys the database gives follow it.
                    for number, row in enumerate(copied):
                        if type(row) is str:
                            lines.append(row + suffix)
                            continue
                        if lines:
                            lines.append("")
                            copy.write("\n".join(lines))
                            lines.clear()
                        try:
                            copy.write_row((*row[3:], *defaults))  # type: ignore[misc]
                        except psycopg.DataError as error:  # raised before anything is sent
                            refused[number] = _first_line(error)
                        # write_row buffers its rows, write() does not: send them now.
                        if buffered := copy.formatter.end():
                            copy.write(bytes(buffered))
                    if lines:
                        lines.append("")
                        copy.write("\n".join(lines))
                with cursor.copy(f"COPY {self._origins} ({keys}, _f, _l) FROM STDIN") as copy:
                    self._write_origins(copy, rows, copied, refused)
            except psycopg.Error:
                cursor.execute("ROLLBACK TO SAVEPOINT importer_direct")
                return None
            cursor.execute("RELEASE SAVEPOINT importer_direct")
        return refused

    def _write_origins(
        self,
        copy: Any,
        rows: list[StagedRow],
        copied: list[str | tuple[Any, ...]],
        refused: dict[int, str],
    ) -> None:
        """(key columns, _f, _l) of every row sent (the key columns come first in its values).

        A fast-lane row's values are COPY text already (and hold no character to escape); a
        coerced row's go through psycopg, which escapes them.
        """
        count = len(self._key_columns)
        files = self._files
        lines = []
        for number, (row, sent) in enumerate(zip(rows, copied, strict=True)):
            if number in refused:
                continue
            if type(sent) is str:
                key = (
                    sent.partition("\t")[0]
                    if count == 1
                    else "\t".join(sent.split("\t", count)[:count])
                )
                lines.append(f"{key}\t{files[row.file]}\t{row.line}\n")
            else:
                copy.write_row((*sent[3 : 3 + count], files[row.file], row.line))
        if lines:
            copy.write("".join(lines))

    def remember(self, rows: list[CoercedRow]) -> None:
        """Note where these rows' keys were first seen (rows written one by one, direct mode)."""
        if not self._direct or not rows:
            return
        keys = ", ".join(self._key_columns)
        with self._connection.cursor() as cursor:
            with cursor.copy(f"COPY {self._origins} ({keys}, _f, _l) FROM STDIN") as copy:
                for row in rows:
                    prepared = self.prepared(0, row)
                    copy.write_row(
                        (*prepared[3 : 3 + len(self._key_columns)], self._files[row.file], row.line)
                    )

    def plan(
        self, rows: list[StagedRow], coerce: Callable[[FastRow], CoercedRow]
    ) -> list[PlannedRow]:
        """Give each staged row (none of them refused, repeated or missing a reference) its outcome.

        `coerce` turns a fast-lane row into the coercer's row, for the rows SQL found changed:
        their diffs are the generic path's.
        """
        if not rows:
            return []
        # (An empty or cleared target never gets here: `stage` wrote its batches already.)
        matched = self._match()
        planned = []
        changed: list[tuple[int, CoercedRow, Any]] = []
        for index, row in enumerate(rows):
            number = self._position[id(row)]
            if number not in matched:
                planned.append(PlannedRow(row=row, outcome=Outcome.NEW))
            elif self.mode == Mode.INSERT:
                planned.append(PlannedRow(row=row, outcome=Outcome.SKIPPED))
            else:
                pk, differs = matched[number]
                planned.append(PlannedRow(row=row, outcome=Outcome.UNCHANGED))
                if differs:
                    coerced = row if isinstance(row, CoercedRow) else coerce(row)
                    changed.append((index, coerced, pk))
        if changed:
            instances = self._instances([pk for _, _, pk in changed])
            rediffed = classify(
                [coerced for _, coerced, _ in changed],
                index_by_key(self.model, self.key_fields, instances),
                model=self.model,
                key_fields=self.key_fields,
                mode=self.mode,
            )
            for (index, _, _), entry in zip(changed, rediffed, strict=True):
                entry.row = rows[index]  # keep the staged row: its place in the batch
                planned[index] = entry
        return planned

    def write(self, entries: list[PlannedRow]) -> str | None:
        """Write the planned new and updated rows of the staged batch, set-based, in a savepoint.

        Return None, or why the database refused the batch (then nothing of it is written).
        """
        new = [self._position[id(entry.row)] for entry in entries if entry.outcome == Outcome.NEW]
        updated = [entry for entry in entries if entry.outcome == Outcome.UPDATED and entry.diff]
        if new:
            error = self._insert(None if len(new) == len(self._rows) else new)
            if error is not None:
                return error
        if not updated:
            return None
        # Like bulk_update: the fields changed in any row of the batch, for every row.
        changed = {
            self.model._meta.get_field(name).column for entry in updated for name in entry.diff
        }
        assignments = ", ".join(
            f"{self._quote(column)} = s.{self._quote(column)}" for column in sorted(changed)
        )
        numbers = [self._position[id(entry.row)] for entry in updated]
        pks = [entry.instance.pk for entry in updated]  # type: ignore[union-attr]
        return self._in_savepoint(
            f"UPDATE {self._target} AS t SET {assignments} FROM {self._stage} AS s, "
            f"unnest(%s::integer[], %s::{self._pk_type}[]) AS u(n, pk) "
            f"WHERE s._n = u.n AND t.{self._pk} = u.pk",
            [numbers, pks],
        )

    def _insert(self, numbers: list[int] | None) -> str | None:
        """INSERT the staged rows (those `numbers`, or all) into the target, in a savepoint."""
        names = [*self._columns, *self._per_row_columns]
        defaults = self._batch_defaults()
        columns = ", ".join([*names, *[self._quote(f.column) for f in self._per_batch]])
        values = ", ".join([*[f"s.{name}" for name in names], *["%s"] * len(defaults)])
        # a join, not `_n = ANY(%s)`: that scans the array once per staged row
        join = "" if numbers is None else "JOIN unnest(%s::integer[]) AS u(n) ON s._n = u.n "
        return self._in_savepoint(
            f"INSERT INTO {self._target} ({columns}) SELECT {values} FROM {self._stage} AS s "
            f"{join}ORDER BY s._n",
            [*defaults] if numbers is None else [*defaults, numbers],
        )

    def _in_savepoint(self, sql: str, params: list[Any]) -> str | None:
        with self._connection.cursor() as cursor:
            cursor.execute("SAVEPOINT importer_write")
            try:
                cursor.execute(sql, params)
            except psycopg.Error as error:
                cursor.execute("ROLLBACK TO SAVEPOINT importer_write")
                return _first_line(error)
            cursor.execute("RELEASE SAVEPOINT importer_write")
        return None

    # --- helpers -----------------------------------------------------------------------------

    def _copy(
        self,
        cursor: psycopg.Cursor[Any],
        rows: list[StagedRow],
        copied: list[str | tuple[Any, ...]],
    ) -> dict[int, str]:
        """Send the rows to the staging table; return those psycopg refused to send (why)."""
        refused: dict[int, str] = {}
        files = self._files  # read only here: the loader's thread registers the files
        lines = [
            f"{number}\t{files[row.file]}\t{row.line}\t{sent}"
            for number, (row, sent) in enumerate(zip(rows, copied, strict=True))
            if type(sent) is str
        ]
        columns = ", ".join(["_n", "_f", "_l", *self._columns, *self._per_row_columns])
        with cursor.copy(f"COPY {self._stage} ({columns}) FROM STDIN") as copy:
            if len(lines) < len(copied):
                for row in copied:
                    if type(row) is str:
                        continue
                    try:
                        copy.write_row(row)
                    except psycopg.DataError as error:  # raised before anything is sent
                        refused[row[0]] = _first_line(error)  # type: ignore[index]
            if lines:
                lines.append("")
                copy.write("\n".join(lines))
        return refused

    def _drop(self, cursor: Any, numbers: list[int]) -> None:
        if numbers:
            cursor.execute(f"DELETE FROM {self._stage} WHERE _n = ANY(%s::integer[])", [numbers])

    def _row_defaults(self) -> list[Any]:
        connection = connections[self.using]
        return [f.get_db_prep_save(f.get_default(), connection) for f in self._per_row]

    def _batch_defaults(self) -> list[Any]:
        connection = connections[self.using]
        values = []
        for model_field in self._per_batch:
            if getattr(model_field, "auto_now", False) or getattr(
                model_field, "auto_now_add", False
            ):
                value = timezone.now()
                if type(model_field) is models.DateField:
                    value = timezone.localdate(value)
            elif model_field.has_default():
                value = model_field.get_default()
            else:
                value = None
            values.append(model_field.get_db_prep_save(value, connection))
        return values

    def _match(self) -> dict[int, tuple[Any, bool]]:
        """Staged row number → (pk of the existing row with its key, whether it differs)."""
        if self.mode == Mode.INSERT:
            differs = "false"
        else:
            theirs = ", ".join(f"t.{column}" for column in self._columns)
            ours = ", ".join(f"s.{column}" for column in self._columns)
            differs = f"ROW({theirs}) IS DISTINCT FROM ROW({ours})"
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT ON (s._n) s._n, t.{self._pk}, {differs} "
                f"FROM {self._stage} AS s JOIN {self._target} AS t ON {self._join} "
                "ORDER BY s._n"
            )
            return {number: (pk, differs) for number, pk, differs in cursor.fetchall()}

    def _instances(self, pks: list[Any]) -> list[models.Model]:
        if not pks:
            return []
        return list(self.model._base_manager.using(self.using).filter(pk__in=pks))


def _unique_key(model: type[models.Model], key_fields: list[models.Field]) -> bool:
    """Whether the key fields carry a unique index checked at once (not deferred)."""
    names = {model_field.name for model_field in key_fields}
    if len(key_fields) == 1 and (key_fields[0].primary_key or key_fields[0].unique):
        return True
    meta = model._meta
    if any(set(together) == names for together in meta.unique_together):
        return True
    return any(
        isinstance(constraint, models.UniqueConstraint)
        and set(constraint.fields) == names
        and constraint.condition is None
        and not constraint.expressions
        and constraint.deferrable is None
        for constraint in meta.constraints
    )


def _copy_text(values: list[Any]) -> str | None:
    """Prepared values as the COPY text that follows a row ("\tv1\tv2"), or None."""
    parts = []
    for value in values:
        if value is None:
            parts.append(NULL)
        elif value is True or value is False:
            parts.append("t" if value else "f")
        elif isinstance(value, (int, Decimal, dt.date, dt.time, uuid.UUID)):
            text = value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)
            parts.append(text)
        elif isinstance(value, str) and not _NEEDS_ESCAPE.search(value):
            parts.append(value)
        else:
            return None
    return "".join(f"\t{part}" for part in parts)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _passes_through(model_field: models.Field) -> bool:
    if isinstance(model_field, models.ForeignKey):
        return _passes_through(model_field.target_field)
    return type(model_field) in _PASS_THROUGH


def _preparer(model_field: models.Field, connection: Any) -> Callable[[Any], Any]:
    def prepare(value: Any) -> Any:
        return model_field.get_db_prep_save(value, connection)

    return prepare
