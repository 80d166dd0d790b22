"""The PostgreSQL fast path (importer/pgcopy.py) and the coercion shortcuts change nothing visible.

The same export goes through the fast path and through the generic path into the same cleared
database; every row of every table, every count, every RowResult and RowProblem must be equal.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection

from backend.samples.export import write_sample_export
from importer.archive import open_source
from importer.coerce import RowCoercer
from importer.conf import get_settings
from importer.mapping import FieldMapping, MappingSet, TableMapping
from importer.pgcopy import ROWS_PER_COPY, StagedWriter, staged_writer_for
from importer.run import analyse, execute, suggest_mappings
from tests.exports import write_export

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path is PostgreSQL's"),
]

# Every kind of value the Reading model converts, and a few that each converter refuses.
READINGS = [
    {
        "code": {"S": f"R{index:04d}"},
        "label": {"S": f"reading {index}"},
        "amount": {"N": f"{index}.{index % 1000:03d}"},
        "smallAmount": {"N": f"-{index % 10}.5"},
        "hugeAmount": {"N": "9" * 38},
        "count": {"N": str(index * 7)},
        "bigCount": {"N": str(10**15 + index)},
        "quantity": {"N": str(index % 50)},
        "ratio": {"N": f"{index / 3:.9f}"},
        "active": {"BOOL": index % 2 == 0},
        "payload": {"M": {"n": {"N": "1.10"}, "l": {"L": [{"S": "x"}, {"NULL": True}]}}},
        "blob": {"B": base64.b64encode(bytes([index % 256, 0, 255])).decode()},
        "seenAt": {"S": f"2024-03-{1 + index % 28:02d}T10:{index % 60:02d}:00+02:00"},
        "birthDate": {"S": f"19{50 + index % 50}-01-{1 + index % 28:02d}"},
        "token": {"S": f"12345678-1234-5678-1234-{index:012d}"},
        "size": {"S": "SL"[index % 2]},
    }
    for index in range(1, 1201)
]
BAD_READINGS = [
    {"code": {"S": "BAD-INT"}, "count": {"N": "1.5"}},
    {"code": {"S": "BAD-RANGE"}, "count": {"N": "99999999999"}},
    {"code": {"S": "BAD-TEXT"}, "label": {"S": "x" * 41}},
    {"code": {"S": "BAD-CHOICE"}, "size": {"S": "M"}},
    {"code": {"S": "BAD-DATE"}, "birthDate": {"S": "yesterday"}},
    {"code": {"S": "BAD-DEC"}, "amount": {"N": "1.2345"}},
    {"code": {"S": "BAD-NUM"}, "ratio": {"N": "NaN"}},
    {"code": {"S": "NUM-AS-TEXT"}, "count": {"S": "12"}, "label": {"N": "12.50"}},
    {"code": {"S": "NULLS"}, "count": {"NULL": True}, "quantity": {"NULL": True}},
    {"code": {"S": "EXP"}, "count": {"N": "1.2E3"}, "ratio": {"N": "1e-5"}},
    {"code": {"S": "R0001"}, "label": {"S": "a duplicate key"}},
    {"code": {"S": ""}, "label": {"S": "empty key"}},
    {"code": {"S": "BOOL-TEXT"}, "active": {"S": "yes"}},
    {"code": {"S": "NUL-CHAR"}, "label": {"S": "a\x00b"}},
]
READING_FIELDS = {
    "code": "code",
    "label": "label",
    "amount": "amount",
    "smallAmount": "small_amount",
    "hugeAmount": "huge_amount",
    "count": "count",
    "bigCount": "big_count",
    "quantity": "quantity",
    "ratio": "ratio",
    "active": "active",
    "payload": "payload",
    "blob": "blob",
    "seenAt": "seen_at",
    "birthDate": "birth_date",
    "token": "token",
    "size": "size",
}


class Recorder:
    def __init__(self) -> None:
        self.rows = []
        self.problems = []
        self.batches = 0

    def table_started(self, table, *, target, total_items):
        pass

    def file_started(self, table, data_file):
        pass

    def file_finished(self, table, data_file, *, items):
        pass

    def row(self, result):
        self.rows.append(result)

    def problem(self, problem):
        self.problems.append(problem)

    def batch_done(self, table, counts):
        self.batches += 1

    def table_finished(self, table, counts):
        pass


def reading_mapping(**overrides) -> TableMapping:
    return TableMapping(
        table="readings",
        target="testapp.Reading",
        key=("code",),
        fields=tuple(FieldMapping(attribute=a, field=f) for a, f in READING_FIELDS.items()),
        **overrides,
    )


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    sample = tmp_path / "sample.zip"
    write_sample_export(sample, items=3000, seed=7)
    changed = tmp_path / "sample-changed.zip"
    write_sample_export(changed, items=3000, seed=8)
    write_export(tmp_path / "readings", "readings", READINGS + BAD_READINGS)
    edited = [
        {**item, "label": {"S": "edited"}} if index % 7 == 0 else item
        for index, item in enumerate(READINGS)
    ]
    write_export(tmp_path / "readings2", "readings", edited[::-1], export_id="01700000000001-ffff")
    write_export(
        tmp_path / "raw",
        "events",
        [
            {"pk": {"S": f"e{n % 900}"}, "n": {"N": str(n)}, "s": {"SS": ["a", "b"]}}
            for n in range(1000)
        ],
    )
    return {
        "sample": sample,
        "changed": changed,
        "readings": tmp_path / "readings",
        "readings2": tmp_path / "readings2",
        "raw": tmp_path / "raw",
    }


def import_source(path: Path, *, fast: bool, dry_run: bool = False, mode: str | None = None):
    """Import one source through the chosen path; return (report counts, rows, problems)."""
    # Both paths cut the items into the same batches, so results come in the same order.
    conf = dataclasses.replace(get_settings(), postgres_copy=fast, batch_size=ROWS_PER_COPY)
    recorder = Recorder()
    with open_source(path) as tree:
        analysis = analyse(tree, conf=conf)
        if path.name.startswith("readings"):
            mappings = MappingSet(tables={"readings": reading_mapping(mode=mode or "upsert")})
        elif path.name == "raw":
            mappings = suggest_mappings(analysis, targets={"events": "raw"}, mode=mode, conf=conf)
        else:
            mappings = suggest_mappings(analysis, mode=mode, conf=conf)
        report = execute(tree, analysis, mappings, dry_run=dry_run, observer=recorder, conf=conf)
    counts = {table.table: (table.status, table.counts, table.messages) for table in report.tables}
    return counts, recorder.rows, recorder.problems


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table of the project, ordered by primary key.

    `auto_now` timestamps are left out: the clock differs between the two runs.
    """
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ("sessions", "admin", "contenttypes", "auth") or (
            model._meta.label == "importer.ImportJob"
            or model._meta.app_label == "django_tasks_database"
        ):
            continue
        names = [
            field.attname
            for field in model._meta.concrete_fields
            if not getattr(field, "auto_now", False)
        ]
        rows = model._base_manager.order_by("pk").values_list(*names)
        tables[model._meta.label] = [
            tuple(bytes(value) if isinstance(value, memoryview) else value for value in row)
            for row in rows
        ]
    return tables


def flush() -> None:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    statements = connection.ops.sql_flush(
        no_style(), tables, reset_sequences=True, allow_cascade=True
    )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def both_paths(steps):
    """Run `steps(fast)` on a cleared database once per path; return both results."""
    results = {}
    for fast in (True, False):
        flush()
        outcome = steps(fast)
        results[fast] = (outcome, snapshot())
    flush()
    return results[True], results[False]


def test_the_fast_path_is_taken_for_plain_models_and_not_for_many_to_many():
    from importer.mapping import resolve_model

    plain = RowCoercer(reading_mapping())
    writer = staged_writer_for(
        resolve_model("testapp.Reading"), plain, mode="upsert", using="default"
    )
    assert isinstance(writer, StagedWriter)
    many = RowCoercer(
        TableMapping(
            table="articles",
            target="testapp.Article",
            key=("id",),
            fields=(
                FieldMapping(attribute="id", field="id"),
                FieldMapping(attribute="tags", field="tags"),
            ),
        )
    )
    assert (
        staged_writer_for(resolve_model("testapp.Article"), many, mode="upsert", using="default")
        is None
    )


def test_sample_export_fresh_then_changed_import_is_identical(sources):
    def steps(fast):
        first = import_source(sources["sample"], fast=fast)
        second = import_source(sources["changed"], fast=fast)
        again = import_source(sources["changed"], fast=fast)
        return first, second, again

    (fast, fast_rows), (generic, generic_rows) = both_paths(steps)
    assert fast_rows == generic_rows
    assert fast == generic
    first_counts = fast[0][0]
    assert sum(counts["new"] for _, counts, _ in first_counts.values()) > 2000
    second_counts = fast[1][0]
    assert sum(counts["updated"] for _, counts, _ in second_counts.values()) > 0
    assert all(counts["new"] == counts["updated"] == 0 for _, counts, _ in fast[2][0].values())


def test_every_field_type_fresh_changed_and_insert_mode_are_identical(sources):
    def steps(fast):
        return (
            import_source(sources["readings"], fast=fast),
            import_source(sources["readings2"], fast=fast),
            import_source(sources["readings"], fast=fast, mode="insert"),
            import_source(sources["raw"], fast=fast),
            import_source(sources["raw"], fast=fast),
        )

    (fast, fast_rows), (generic, generic_rows) = both_paths(steps)
    assert fast_rows == generic_rows
    assert fast == generic
    ((_, counts, _),) = fast[0][0].values()
    assert (counts["read"], counts["new"], counts["errors"]) == (1214, 1203, 11)
    ((_, counts, _),) = fast[1][0].values()
    assert (counts["new"], counts["updated"], counts["unchanged"]) == (0, 172, 1028)
    updated = [row for row in fast[1][1] if row.outcome == "updated"]
    assert updated[0].diff == {"label": ("reading 1198", "edited")}
    ((_, counts, _),) = fast[2][0].values()
    assert (counts["skipped"], counts["errors"]) == (1203, 11)
    ((_, counts, _),) = fast[3][0].values()
    assert (counts["new"], counts["errors"]) == (1000, 0)


def test_dry_run_and_replace_are_identical(sources):
    def steps(fast):
        import_source(sources["readings"], fast=fast)
        dry = import_source(sources["readings2"], fast=fast, dry_run=True)
        replace = import_source(sources["readings2"], fast=fast, mode="replace")
        return dry, replace

    (fast, fast_rows), (generic, generic_rows) = both_paths(steps)
    assert fast_rows == generic_rows
    assert fast == generic
    ((_, counts, _),) = fast[0][0].values()
    assert (counts["updated"], counts["unchanged"]) == (172, 1028)
    ((_, counts, _),) = fast[1][0].values()
    assert (counts["deleted"], counts["new"]) == (1203, 1200)


def test_coercion_shortcuts_give_exactly_the_full_paths_results(sources):
    from importer.read import iter_items

    with open_source(sources["readings"]) as tree:
        analysis = analyse(tree)
        (table,) = analysis.tables
        quick = RowCoercer(reading_mapping(), key_types=table.key_types)
        full = RowCoercer(reading_mapping(), key_types=table.key_types, shortcuts=False)
        compared = 0
        for data_file in table.source.files:
            for item in iter_items(tree, data_file):
                assert quick.coerce(item) == full.coerce(item)
                compared += 1
    assert compared == 1214
