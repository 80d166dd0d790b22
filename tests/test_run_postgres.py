"""Whole runs on PostgreSQL, read back from the database with SQL: exactly what was stored.

C02 (40-digit numbers), C03 (a map into a JSONField), C04 (a string set into an ArrayField, from
tests/pgapp: fields only PostgreSQL has), C05 (binary into a BinaryField).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from importer.archive import open_source
from importer.mapping import FieldMapping, MappingSet, TableMapping
from importer.observer import SilentObserver
from importer.run import analyse, execute
from tests.exports import write_export

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="reads PostgreSQL's own types back with SQL"
    ),
]

LABELS = TableMapping(
    table="labelled",
    target="pgapp.Labelled",
    key=("code",),
    fields=(
        FieldMapping(attribute="code", field="code"),
        FieldMapping(attribute="labels", field="labels"),
    ),
)


@pytest.fixture(params=[True, False], ids=["copy", "generic"])
def write_path(request, settings):
    """Run each test through the COPY fast path and through the generic batched-ORM path."""
    settings.DYNAMODB_IMPORTER = {**settings.DYNAMODB_IMPORTER, "POSTGRES_COPY": request.param}
    return request.param


def run(folder: Path, items, mapping: TableMapping = LABELS, *, dry_run=False, observer=None):
    write_export(folder, mapping.table, items)
    with open_source(folder) as tree:
        analysis = analyse(tree)
        return execute(
            tree,
            analysis,
            MappingSet(tables={mapping.table: mapping}),
            dry_run=dry_run,
            observer=observer,
        )


def fetch(sql: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def stored_labels() -> list[tuple[str, list[str]]]:
    with connection.cursor() as cursor:
        cursor.execute('SELECT code, labels FROM "pgapp_labelled" ORDER BY code')
        return cursor.fetchall()


def test_c04_a_string_set_into_an_array_field_is_sorted_and_stable(tmp_path, write_path):
    Labelled = apps.get_model("pgapp", "Labelled")
    first = run(tmp_path / "1", [{"code": {"S": "a"}, "labels": {"SS": ["b", "a"]}}])
    assert first.tables[0].counts["new"] == 1
    assert stored_labels() == [("a", ["a", "b"])]
    assert Labelled.objects.get(code="a").labels == ["a", "b"]
    assert list(Labelled.objects.filter(labels__contains=["b"]).values_list("code", flat=True)) == [
        "a"
    ]
    again = run(tmp_path / "2", [{"code": {"S": "a"}, "labels": {"SS": ["a", "b"]}}])
    assert again.tables[0].counts == {
        "read": 1,
        "new": 0,
        "updated": 0,
        "unchanged": 1,
        "skipped": 0,
        "errors": 0,
        "deleted": 0,
    }
    assert stored_labels() == [("a", ["a", "b"])]
    changed = run(tmp_path / "3", [{"code": {"S": "a"}, "labels": {"SS": ["c", "a"]}}])
    assert (changed.tables[0].counts["updated"], changed.tables[0].counts["unchanged"]) == (1, 0)
    assert stored_labels() == [("a", ["a", "c"])]


def readings(*attributes: tuple[str, str]) -> TableMapping:
    return TableMapping(
        table="readings",
        target="testapp.Reading",
        key=("code",),
        fields=(
            FieldMapping(attribute="code", field="code"),
            *(FieldMapping(attribute=name, field=field) for name, field in attributes),
        ),
    )


class Rows(SilentObserver):
    """Keep the row results and problems a run reports."""

    def __init__(self) -> None:
        self.rows = []
        self.problems = []

    def row(self, result):
        self.rows.append(result)

    def problem(self, problem):
        self.problems.append(problem)


FORTY_DIGITS = "1234567895171680000000000000000000000000"


def test_c02_forty_digits_are_stored_exactly(tmp_path, write_path):
    Reading = apps.get_model("testapp", "Reading")
    mapping = readings(("n", "huge_amount"), ("j", "payload"))
    number = {"N": FORTY_DIGITS}
    report = run(tmp_path / "x", [{"code": {"S": "a"}, "n": number, "j": number}], mapping)
    assert report.tables[0].counts["new"] == 1
    assert fetch(
        "SELECT huge_amount::text, payload::text, jsonb_typeof(payload) FROM testapp_reading"
    ) == [(FORTY_DIGITS, FORTY_DIGITS, "number")]
    stored = Reading.objects.get(code="a")
    assert stored.huge_amount == Decimal(FORTY_DIGITS)
    assert stored.payload == int(FORTY_DIGITS)


def test_c02_forty_digits_into_a_big_integer_field_is_an_out_of_range_row_error(
    tmp_path, write_path
):
    observer = Rows()
    items = [{"code": {"S": "a"}, "n": {"N": FORTY_DIGITS}}, {"code": {"S": "b"}, "n": {"N": "7"}}]
    report = run(tmp_path / "x", items, readings(("n", "big_count")), observer=observer)
    assert (report.tables[0].counts["new"], report.tables[0].counts["errors"]) == (1, 1)
    assert [
        (p.item_key, p.attribute, p.field, p.raw_value, p.message) for p in observer.problems
    ] == [
        (
            "code=a",
            "n",
            "big_count",
            FORTY_DIGITS,
            f"{FORTY_DIGITS} is out of range for testapp.Reading.big_count "
            "(-9223372036854775808 to 9223372036854775807)",
        )
    ]
    assert fetch("SELECT code, big_count FROM testapp_reading ORDER BY code") == [("b", 7)]


PRICE_MAP = {"M": {"price": {"N": "9.99"}, "qty": {"N": "3"}, "tags": {"L": [{"N": "1"}]}}}


def test_c03_a_map_into_a_json_field_is_a_json_object_with_the_documented_numbers(
    tmp_path, write_path
):
    Reading = apps.get_model("testapp", "Reading")
    Reading.objects.create(code="a", payload={})
    mapping = readings(("m", "payload"))
    items = [{"code": {"S": "a"}, "m": PRICE_MAP}]
    expected = {"price": 9.99, "qty": 3, "tags": [1]}
    # The dry run shows what the import saves, and saves nothing.
    observer = Rows()
    dry = run(tmp_path / "dry", items, mapping, dry_run=True, observer=observer)
    assert dry.tables[0].counts["updated"] == 1
    assert [row.diff for row in observer.rows] == [{"payload": ({}, expected)}]
    assert fetch("SELECT payload::text FROM testapp_reading") == [("{}",)]
    report = run(tmp_path / "real", items, mapping)
    assert report.tables[0].counts["updated"] == 1
    # jsonb keeps keys shortest first; the text is the stored value itself: an object (never a
    # string), qty and the list element JSON integers, price the number 9.99.
    assert fetch(
        "SELECT payload::text, jsonb_typeof(payload), jsonb_typeof(payload->'price') "
        "FROM testapp_reading"
    ) == [('{"qty": 3, "tags": [1], "price": 9.99}', "object", "number")]
    stored = Reading.objects.get(code="a").payload
    assert stored == expected
    assert [type(stored["qty"]), type(stored["price"]), type(stored["tags"][0])] == [
        int,
        float,
        int,
    ]
    assert list(Reading.objects.filter(payload__qty=3).values_list("code", flat=True)) == ["a"]


def test_c05_binary_into_a_binary_field_reads_back_as_bytes(tmp_path, write_path):
    Reading = apps.get_model("testapp", "Reading")
    item = {
        "code": {"S": "a"},
        "b": {"B": "SGVsbG8="},
        "m": {"M": {"bs": {"BS": ["V29ybGQ=", "SGVsbG8="]}}},
    }
    report = run(tmp_path / "x", [item], readings(("b", "blob"), ("m", "payload")))
    assert report.tables[0].counts["new"] == 1
    ((raw, length, payload),) = fetch(
        "SELECT blob, octet_length(blob), payload::text FROM testapp_reading"
    )
    assert (bytes(raw), length) == (b"Hello", 5)
    # Inside JSON, binary stays base64 text (a set, so sorted), as the README documents.
    assert payload == '{"bs": ["SGVsbG8=", "V29ybGQ="]}'
    assert bytes(Reading.objects.get(code="a").blob) == b"Hello"
