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
from django.db import connection, models, transaction

from backend.samples.export import write_sample_export
from importer.archive import open_source
from importer.coerce import RowCoercer
from importer.conf import get_settings
from importer.mapping import FieldMapping, MappingSet, TableMapping
from importer.pgcopy import ROWS_PER_COPY, StagedWriter, staged_writer_for
from importer.read import iter_line_chunks
from importer.run import analyse, execute, suggest_mappings
from importer.sources import LineChunk
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

    `auto_now` timestamps are left out: the clock differs between the two runs. So are serial
    primary keys (AutoField): where the import does not write them, the database numbers the
    rows, and a batch that went straight in by COPY and was sent back (a repeated key) has taken
    numbers that a sequence never gives back. The rows' order is the same.
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
            and not (field.primary_key and isinstance(field, models.AutoField))
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


# Values at the edges of every rule the fast lane (importer/encode.py) reads off text, and values
# just past them: each must give exactly what the generic path gives (a value or a row error).
EDGE_VALUES = {
    "count": [
        {"N": v}
        for v in [
            "007",
            "-0",
            "0",
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "1e3",
            "1.0",
            "+5",
            " 5",
            "12345678901234567890",
            "٣",
            "-",
            "",
        ]
    ]
    + [{"N": 5}, {"NULL": True}, {"NULL": False}, {"S": "12"}, {"S": "x", "NULL": True}, {}],
    "bigCount": [
        {"N": v}
        for v in [
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "123456789012345678",
            "-123456789012345678",
        ]
    ],
    "amount": [
        {"N": v}
        for v in [
            "123456.789",
            "1234567.1",
            "0.001",
            "0.0001",
            "-0.000",
            "000.5",
            "1.2300",
            "0",
            "100000",
            "999999",
            "1000000",
            "1E2",
            ".5",
            "5.",
            "-.5",
            "-0",
            "00",
        ]
    ],
    "smallAmount": [{"N": v} for v in ["-0.0015", "-1.5E-3", "999999.9999", "1000000"]],
    "hugeAmount": [{"N": v} for v in ["9" * 38, "1" + "0" * 38, "9" * 39, "-" + "9" * 38]],
    "ratio": [
        {"N": v}
        for v in [
            "0.1",
            "1e-5",
            "-0",
            "123456789012345678901234567890.5",
            "5.",
            ".5",
            "-1",
            "0.1000000000000000055511151231257827",
            "1.7976931348623157e309",
        ]
    ],
    "active": [{"BOOL": True}, {"BOOL": False}, {"S": "yes"}, {"NULL": True}, {"BOOL": 1}],
    "payload": [
        {
            "M": {
                "a": {"N": "3.0"},
                "c": {"N": "0.1000000000000000055511151231257827"},
                "d": {"N": "123456789012345678"},
                "f": {"N": "-0"},
                "g": {"SS": ["b", "a", "b"]},
                "h": {"NS": ["2", "1", "01"]},
                "i": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]},
                "k": {"M": {"deeper": {"M": {"n": {"N": "-12.50"}}}}},
                "s": {"S": "plain"},
                "z": {"N": "0.5"},
            }
        },
        {"M": {"big": {"N": "1234567890123456789"}, "exp": {"N": "1e5"}}},
        {"M": {"bin": {"B": "SGVsbG8="}}},
        {"M": {"bad": {"N": "NaN"}}},
        {"M": {"empty": {"SS": []}}},
        {"M": {"two": {"S": "x", "N": "1"}}},
        {"SS": ["x"]},
        {"NULL": True},
        {"S": "text"},
        {"N": "5"},
        {"L": []},
        {"M": {}},
    ],
    "blob": [{"B": v} for v in ["SGVsbG8=", "SGVsbG8", "", "////", "SGVs bG8="]],
    "seenAt": [
        {"S": v}
        for v in [
            "2024-03-20T19:26:08Z",
            "2024-03-20T19:26:08.123456Z",
            "2024-03-20T19:26:08.1Z",
            "2024-03-20T19:26:08.1234567Z",
            "2024-03-20 19:26:08+05:30",
            "2024-03-20T19:26:08",
            "2024-03-20T19:26:08+0530",
            "2024-03-20",
            "20240320T192608Z",
            "2024-W12-3",
            "2024-02-30T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-03-20T19:26:08,5Z",
            "2024-03-20T24:00:00Z",
            "2024-03-20T19:26:08-00:00",
            "2024-03-20T19:26:08+00:00:30",
            "2024-03-20T19:26",
            "yesterday",
            "",
            "2024-03-20T19:26Z",
            "2024-03-20T19:26+01:00",
            "2024-03-20T19:26:08+05:30:15.500000",
        ]
    ]
    + [{"N": "1700000000"}],
    "birthDate": [
        {"S": v}
        for v in ["1990-01-02", "1990-1-2", "19900102", "1990-01-02T10:00:00", "1990-02-30", ""]
    ],
    "token": [
        {"S": v}
        for v in [
            "12345678-1234-5678-1234-567812345678",
            "ABCDEF12-1234-5678-1234-567812345678",
            "{12345678-1234-5678-1234-567812345678}",
            "12345678123456781234567812345678",
            "urn:uuid:12345678-1234-5678-1234-567812345678",
            "12345678-1234-5678-1234-56781234567g",
            "12345678_1234_5678_1234_567812345678",
        ]
    ],
    "size": [{"S": v} for v in ["S", "L", "M", "", "s"]],
    "label": [{"S": v} for v in ["", "x" * 40, "x" * 41, "tab\tinside", "unicode é", "line\nbreak"]]
    + [{"s": "lower-case tag"}, {"N": "12.50"}, {"NULL": True}]
    + [{"S": "x", "NULL": None}, {"S": None, "NULL": False}, {"S": None}],
    "quantity": [{"N": "3"}, {"NULL": True}, {"N": "-1"}],
}


def edge_items() -> list[dict]:
    items = [{"code": {"S": "EDGE-EMPTY"}}]  # every other attribute missing: the defaults
    for attribute, values in EDGE_VALUES.items():
        for index, value in enumerate(values):
            items.append({"code": {"S": f"E-{attribute}-{index}"}, attribute: value})
    items.append({"code": {"S": "E-null-attribute"}, "label": None})
    items.append({"code": {"S": "E-unknown"}, "unmapped": {"S": "ignored"}, "count": {"N": "1"}})
    items.append({"code": {"N": "12"}, "label": {"S": "a key of the wrong type"}})
    items.append({"label": {"S": "no key at all"}})
    items.append({"code": {"S": "E-back\\slash"}, "label": {"S": "a key the lane hands back"}})
    items.append({"code": {"S": 'E-"quoted"'}, "label": {"S": "another"}})
    return items


def test_edge_values_give_exactly_the_generic_paths_rows_and_errors(tmp_path):
    write_export(tmp_path / "readings", "readings", READINGS[:5] + edge_items())

    def steps(fast):
        return import_source(tmp_path / "readings", fast=fast)

    (fast, fast_rows), (generic, generic_rows) = both_paths(steps)
    assert fast_rows == generic_rows
    assert fast == generic
    ((_, counts, _),) = fast[0].values()
    assert counts["read"] == 5 + len(edge_items())
    # The lane took these lines itself (the rest went down the generic path).
    assert lines_the_lane_takes(tmp_path / "readings", edge_items()) == [
        "EDGE-EMPTY",
        *["E-count-0", "E-count-1", "E-count-2", "E-count-3", "E-count-5", "E-count-16"],
        *["E-count-17", "E-bigCount-3", "E-bigCount-4", "E-amount-0", "E-amount-2"],
        *["E-amount-4", "E-amount-7", "E-amount-8", "E-amount-9", "E-amount-15"],
        *["E-smallAmount-0", "E-smallAmount-2", "E-hugeAmount-0", "E-hugeAmount-3"],
        *["E-ratio-0", "E-ratio-2", "E-ratio-3", "E-ratio-6", "E-ratio-7", "E-active-0"],
        *["E-active-1", "E-payload-0", "E-payload-7", "E-payload-11", "E-blob-0", "E-blob-2"],
        *["E-blob-3", "E-seenAt-0", "E-seenAt-1", "E-seenAt-2", "E-seenAt-3", "E-seenAt-4"],
        *["E-seenAt-5", "E-seenAt-6", "E-seenAt-7", "E-seenAt-8", "E-seenAt-9", "E-seenAt-13"],
        *["E-seenAt-15", "E-seenAt-16", "E-seenAt-17", "E-seenAt-20", "E-seenAt-21"],
        *["E-seenAt-22", "E-birthDate-0", "E-birthDate-2"],
        *["E-token-0", "E-token-1", "E-size-0", "E-size-1", "E-size-3", "E-label-0"],
        *["E-label-1", "E-quantity-0", "E-quantity-2", "E-unknown"],
    ]


def lines_the_lane_takes(path: Path, items: list[dict]) -> list[str]:
    """The codes of the items whose export line the fast lane encodes (Reading mapping)."""
    import json

    from importer.encode import LineEncoder
    from importer.mapping import resolve_model

    with open_source(path) as tree:
        (table,) = analyse(tree).tables
    coercer = RowCoercer(reading_mapping(), key_types=table.key_types)
    writer = staged_writer_for(
        resolve_model("testapp.Reading"), coercer, mode="upsert", using="default"
    )
    encoder = LineEncoder.build(
        coercer, columns=writer.fields, naive_timezone="UTC", using="default"
    )
    return [
        item["code"]["S"]
        for item in items
        if encoder.encode(json.dumps({"Item": item}).encode()) is not None
    ]


def test_the_fast_lane_takes_plain_lines_and_hands_back_the_rest(sources):
    import json

    from importer.encode import LineEncoder
    from importer.mapping import resolve_model

    with open_source(sources["readings"]) as tree:
        (table,) = analyse(tree).tables
    coercer = RowCoercer(reading_mapping(), key_types=table.key_types)
    writer = staged_writer_for(
        resolve_model("testapp.Reading"), coercer, mode="upsert", using="default"
    )
    encoder = LineEncoder.build(
        coercer, columns=writer.fields, naive_timezone="UTC", using="default"
    )
    lines = [json.dumps({"Item": item}).encode() for item in READINGS + BAD_READINGS]
    taken = [encoder.encode(line) is not None for line in lines]
    assert taken[: len(READINGS)] == [True] * len(READINGS)
    handed_back = [
        item["code"]["S"]
        for item, ok in zip(BAD_READINGS, taken[len(READINGS) :], strict=True)
        if not ok
    ]
    assert handed_back == [
        "BAD-INT",
        "BAD-RANGE",
        "BAD-TEXT",
        "BAD-CHOICE",
        "BAD-DATE",
        "BAD-DEC",
        "BAD-NUM",
        "NUM-AS-TEXT",
        "NULLS",
        "EXP",
        "",
        "BOOL-TEXT",
        "NUL-CHAR",
    ]
    item, values = encoder.encode(lines[0])
    assert encoder.item_key(item) == "code=R0001"
    assert values[:4] == ["R0001", "reading 1", "1.001", "-1.5"]


def test_lines_a_worker_process_encoded_load_exactly_as_the_lines_themselves(tmp_path):
    """The fan-out's EncodedLines (importer/fanout.py) give the loader's own rows and results."""
    import gc

    from importer import fanout
    from importer.load import TableLoader
    from importer.outcomes import TableCounts
    from importer.run import _limits

    write_export(tmp_path / "readings", "readings", READINGS + BAD_READINGS, files=3)

    def steps(encoded_by_workers):
        recorder = Recorder()
        with open_source(tmp_path / "readings") as tree:
            (table,) = analyse(tree).tables
            coercer = RowCoercer(reading_mapping(), key_types=table.key_types)
            counts = TableCounts()
            loader = TableLoader(
                coercer, source=table.source, observer=recorder, counts=counts, batch_size=500
            )
            assert loader.encoder is not None
            if encoded_by_workers:
                fanout._set_encoder(loader.encoder)  # what a worker process is given
                gc.enable()
                entries = [
                    fanout._encode_file(str(tree.path), data_file, _limits(get_settings()))
                    for data_file in table.source.files
                ]
            else:
                entries = [
                    LineChunk(file=data_file.path, first=first, lines=lines)
                    for data_file in table.source.files
                    for first, lines in iter_line_chunks(tree, data_file)
                ]
            with transaction.atomic():
                loader.load(entries)
        return counts, recorder.rows, recorder.problems

    (workers, worker_rows), (lines, line_rows) = both_paths(steps)
    assert worker_rows == line_rows
    assert workers == lines
    assert (workers[0].read, workers[0].new, workers[0].errors) == (1214, 1203, 11)


def test_items_that_share_a_line_are_told_apart_by_their_place(tmp_path):
    """A scan page on one line: its items share the line, and a repeated key is still found."""
    import json

    write_export(tmp_path / "readings", "readings", READINGS[:3])
    page = {
        "Items": [
            {"code": {"S": "R0001"}, "label": {"S": "first"}},
            {"code": {"S": "R0001"}, "label": {"S": "again"}},
            {"code": {"S": "R0009"}, "label": {"S": "new"}},
            {"code": {"S": "R0009"}, "label": {"S": "new again"}},
        ],
        "Count": 4,
    }
    (tmp_path / "readings-page").mkdir()
    (tmp_path / "readings-page" / "readings.json").write_text(json.dumps(page) + "\n")

    def steps(fast):
        import_source(tmp_path / "readings", fast=fast)
        return import_source(tmp_path / "readings-page", fast=fast)

    (fast, fast_rows), (generic, generic_rows) = both_paths(steps)
    assert fast_rows == generic_rows
    assert fast == generic
    ((_, counts, _),) = fast[0].values()
    assert (counts["updated"], counts["new"], counts["errors"]) == (1, 1, 2)
    assert [(row.outcome, row.item_key) for row in fast[1]] == [
        ("error", "code=R0001"),
        ("error", "code=R0009"),
        ("updated", "code=R0001"),
        ("new", "code=R0009"),
    ]
    assert fast[1][0].problems[0].message == (
        "duplicate key code=R0001 (first seen at readings.json, line 1)"
    )
