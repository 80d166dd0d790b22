"""Whole runs into fields only PostgreSQL has (tests/pgapp), read back from the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from importer.archive import open_source
from importer.mapping import FieldMapping, MappingSet, TableMapping
from importer.run import analyse, execute
from tests.exports import write_export

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="ArrayField is PostgreSQL's"),
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


def run(folder: Path, items):
    write_export(folder, "labelled", items)
    with open_source(folder) as tree:
        analysis = analyse(tree)
        return execute(tree, analysis, MappingSet(tables={"labelled": LABELS}), dry_run=False)


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
