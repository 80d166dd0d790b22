"""PostgreSQL's fast path for one table: COPY each batch into a staging table, classify and write in SQL.

Per batch: the coerced rows go through psycopg's COPY into a temporary table shaped like the
written columns; one join against the target says which rows are new, which match an existing
row (and, in upsert mode, whether any written column IS DISTINCT FROM it); then one
`INSERT ... SELECT` writes the new rows and one `UPDATE ... FROM` the changed ones. Python only
looks again at the rows SQL found changed: it loads those instances through the ORM and diffs them
with `plan.classify`, so old → new values are exactly the generic path's. The loader keeps what is
shared (coercion, duplicate keys, references, savepoint and row-by-row fallback, reporting);
tables with many-to-many fields, multi-table inheritance or generated columns take the generic
path (see `staged_writer_for`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from .coerce import CoercedRow, RowCoercer
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


def staged_writer_for(
    model: type[models.Model], coercer: RowCoercer, *, mode: str, using: str
) -> StagedWriter | None:
    """Return a StagedWriter when the fast path can write this table exactly, else None."""
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
    if any(model_field.attname not in local for model_field in key_columns):
        return None
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
    """Plan and write batches of one table's rows through a temporary staging table."""

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
        self._stage = quote(f"importer_stage_{next(_names)}")
        self._columns = [quote(model_field.column) for model_field in fields]
        self.defaults = defaults
        self._default_columns = [quote(model_field.column) for model_field in defaults]
        self._prepare: list[Callable[[Any], Any] | None] = [
            None if _passes_through(model_field) else _preparer(model_field, connection)
            for model_field in fields
        ]
        pk = model._meta.pk
        assert pk is not None
        self._pk = quote(pk.column)
        self._pk_type = pk.rel_db_type(connection)
        key_columns = [quote(model._meta.get_field(name).column) for name in self.key_fields]
        self._join = " AND ".join(f"t.{column} = s.{column}" for column in key_columns)
        self._rows: list[CoercedRow] = []
        self._target_was_empty = False
        self._position: dict[int, int] = {}

    def open(self) -> None:
        """Create the staging table (dropped at the end of the table, or at commit/rollback)."""
        connection = connections[self.using]
        columns = ", ".join(
            f"{column} {model_field.db_type(connection)}"
            for column, model_field in zip(
                [*self._columns, *self._default_columns],
                [*self.fields, *self.defaults],
                strict=True,
            )
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._stage} (_n integer NOT NULL, {columns}) "
                "ON COMMIT DROP"
            )
            # An empty target can only match rows written earlier in this run, and their keys
            # are refused as duplicates before staging: no batch needs the join then.
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {self._target})")
            self._target_was_empty = not cursor.fetchone()[0]

    def close(self) -> None:
        with connections[self.using].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._stage}")

    def plan(self, rows: list[CoercedRow]) -> list[PlannedRow] | None:
        """Stage `rows` and give each its outcome, with the generic path's diffs.

        Return None when a value cannot be staged (e.g. a NUL character in text): the loader
        then takes the generic path for this batch, which finds and reports the row.
        """
        self._rows = rows
        self._position = {id(row): number for number, row in enumerate(rows)}
        if not rows:
            return []
        try:
            with transaction.atomic(using=self.using):
                self._copy(rows)
        except (DatabaseError, connections[self.using].Database.Error):
            return None  # the raw psycopg cursor's errors are not wrapped by Django
        if self.mode == Mode.REPLACE:
            return [PlannedRow(row=row, outcome=Outcome.NEW) for row in rows]
        matched = {} if self._target_was_empty else self._match()
        changed = [(number, pk) for number, (pk, differs) in matched.items() if differs]
        instances = self._instances([pk for _, pk in changed])
        rediffed = {
            number: entry
            for (number, _), entry in zip(
                changed,
                classify(
                    [rows[number] for number, _ in changed],
                    index_by_key(self.model, self.key_fields, instances),
                    model=self.model,
                    key_fields=self.key_fields,
                    mode=self.mode,
                ),
                strict=True,
            )
        }
        planned = []
        for number, row in enumerate(rows):
            if number not in matched:
                planned.append(PlannedRow(row=row, outcome=Outcome.NEW))
            elif self.mode == Mode.INSERT:
                planned.append(PlannedRow(row=row, outcome=Outcome.SKIPPED))
            elif number in rediffed:
                planned.append(rediffed[number])
            else:
                planned.append(PlannedRow(row=row, outcome=Outcome.UNCHANGED))
        return planned

    def write(self, entries: list[PlannedRow]) -> None:
        """Write the planned new and updated rows of the staged batch, set-based."""
        new = [self._position[id(entry.row)] for entry in entries if entry.outcome == Outcome.NEW]
        updated = [entry for entry in entries if entry.outcome == Outcome.UPDATED and entry.diff]
        columns = ", ".join([*self._columns, *self._default_columns])
        with connections[self.using].cursor() as cursor:
            if new:
                if len(new) == len(self._rows):
                    cursor.execute(
                        f"INSERT INTO {self._target} ({columns}) "
                        f"SELECT {columns} FROM {self._stage} ORDER BY _n"
                    )
                else:  # a join, not `_n = ANY(%s)`: that scans the array once per staged row
                    cursor.execute(
                        f"INSERT INTO {self._target} ({columns}) "
                        f"SELECT {columns} FROM {self._stage} "
                        "JOIN unnest(%s::integer[]) AS u(n) ON _n = u.n ORDER BY _n",
                        [new],
                    )
            if updated:
                # Like bulk_update: the fields changed in any row of the batch, for every row.
                changed = {
                    self.model._meta.get_field(name).column
                    for entry in updated
                    for name in entry.diff
                }
                assignments = ", ".join(
                    f"{self._quote(column)} = s.{self._quote(column)}" for column in sorted(changed)
                )
                numbers = [self._position[id(entry.row)] for entry in updated]
                pks = [entry.instance.pk for entry in updated]  # type: ignore[union-attr]
                cursor.execute(
                    f"UPDATE {self._target} AS t SET {assignments} FROM {self._stage} AS s, "
                    f"unnest(%s::integer[], %s::{self._pk_type}[]) AS u(n, pk) "
                    f"WHERE s._n = u.n AND t.{self._pk} = u.pk",
                    [numbers, pks],
                )

    def _copy(self, rows: list[CoercedRow]) -> None:
        prepare = list(zip(self.fields, self._prepare, strict=True))
        attnames = [model_field.attname for model_field in self.fields]
        with connections[self.using].cursor() as cursor:
            cursor.execute(f"TRUNCATE {self._stage}")
            columns = ", ".join(["_n", *self._columns, *self._default_columns])
            with cursor.cursor.copy(f"COPY {self._stage} ({columns}) FROM STDIN") as copy:
                if self.defaults:
                    for number, row in enumerate(rows):
                        values = row.values
                        copy.write_row(
                            (
                                number,
                                *[
                                    values[model_field.attname]
                                    if function is None
                                    else function(values[model_field.attname])
                                    for model_field, function in prepare
                                ],
                                *self._default_values(),
                            )
                        )
                    return
                if all(function is None for _, function in prepare):
                    for number, row in enumerate(rows):
                        values = row.values
                        copy.write_row((number, *[values[name] for name in attnames]))
                    return
                for number, row in enumerate(rows):
                    values = row.values
                    copy.write_row(
                        (
                            number,
                            *[
                                values[model_field.attname]
                                if function is None
                                else function(values[model_field.attname])
                                for model_field, function in prepare
                            ],
                        )
                    )

    def _default_values(self) -> list[Any]:
        connection = connections[self.using]
        values = []
        for model_field in self.defaults:
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
        with connections[self.using].cursor() as cursor:
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


def _passes_through(model_field: models.Field) -> bool:
    if isinstance(model_field, models.ForeignKey):
        return _passes_through(model_field.target_field)
    return type(model_field) in _PASS_THROUGH


def _preparer(model_field: models.Field, connection: Any) -> Callable[[Any], Any]:
    def prepare(value: Any) -> Any:
        return model_field.get_db_prep_save(value, connection)

    return prepare
