"""A whole run on real export files into the test models: modes, dry run, policies, references."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.archive import open_source
from importer.mapping import FieldMapping, MappingSet, TableMapping
from importer.models import RawItem
from importer.outcomes import Outcome, RowResult
from importer.run import analyse, execute, suggest_mappings
from tests.exports import promise_items, write_export
from tests.testapp.models import Article, Counter, Reading, Tag

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """An observer that keeps every row result and problem."""

    def __init__(self) -> None:
        self.rows: list[RowResult] = []
        self.problems = []

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
        pass

    def table_finished(self, table, counts):
        pass


def run(tmp_path: Path, table: str, items, mapping: TableMapping, *, dry_run=False, name="x"):
    folder = tmp_path / name
    write_export(folder, table, items)
    recorder = Recorder()
    with open_source(folder) as tree:
        analysis = analyse(tree)
        report = execute(
            tree, analysis, MappingSet(tables={table: mapping}), dry_run=dry_run, observer=recorder
        )
    return report, recorder


def reading_mapping(**overrides):
    fields = (
        FieldMapping(attribute="code", field="code"),
        FieldMapping(attribute="birthDate", field="birth_date"),
        FieldMapping(attribute="qty", field="quantity"),
    )
    return TableMapping(
        table="readings", target="testapp.Reading", key=("code",), fields=fields, **overrides
    )


def item(code, **extra):
    return {"code": {"S": code}, **extra}


def test_upsert_then_unchanged_then_updated_with_diff(tmp_path):
    first, _ = run(
        tmp_path,
        "readings",
        [item("a", qty={"N": "1"}), item("b", qty={"N": "2"})],
        reading_mapping(),
        name="1",
    )
    assert first.tables[0].counts == {
        "read": 2,
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": 0,
        "deleted": 0,
    }
    again, _ = run(
        tmp_path,
        "readings",
        [item("a", qty={"N": "1"}), item("b", qty={"S": "2"})],
        reading_mapping(),
        name="2",
    )
    assert again.tables[0].counts["unchanged"] == 2
    changed, recorder = run(
        tmp_path,
        "readings",
        [item("a", qty={"N": "5"}), item("b", qty={"N": "2"})],
        reading_mapping(),
        name="3",
    )
    assert changed.tables[0].counts["updated"] == 1
    updated = [row for row in recorder.rows if row.outcome == Outcome.UPDATED]
    assert [(row.item_key, row.diff) for row in updated] == [("code=a", {"quantity": (1, 5)})]
    assert dict(Reading.objects.values_list("code", "quantity")) == {"a": 5, "b": 2}


def test_dry_run_writes_nothing_and_reports_what_the_import_then_does(tmp_path):
    Reading.objects.create(code="a", quantity=1)
    items = [item("a", qty={"N": "3"}), item("n", qty={"N": "4"}), item("x", qty={"N": "0.5"})]
    dry, dry_rows = run(tmp_path, "readings", items, reading_mapping(), dry_run=True, name="dry")
    assert dry.dry_run is True
    assert list(Reading.objects.values_list("code", "quantity")) == [("a", 1)]
    real, real_rows = run(tmp_path, "readings", items, reading_mapping(), name="real")
    assert (
        dry.tables[0].counts
        == real.tables[0].counts
        == {
            "read": 3,
            "new": 1,
            "updated": 1,
            "unchanged": 0,
            "skipped": 0,
            "errors": 1,
            "deleted": 0,
        }
    )
    assert dry_rows.rows == real_rows.rows
    assert dry_rows.problems == real_rows.problems
    assert sorted(Reading.objects.values_list("code", "quantity")) == [("a", 3), ("n", 4)]


def test_c14_invalid_value_on_existing_row_is_an_error_not_skipped(tmp_path):
    Reading.objects.create(code="a", quantity=1)
    report, recorder = run(
        tmp_path, "readings", [item("a", birthDate={"S": "not-a-date"})], reading_mapping()
    )
    assert report.tables[0].counts["errors"] == 1
    assert report.tables[0].counts["unchanged"] == 0
    assert [(p.attribute, p.field, p.raw_value, p.message) for p in recorder.problems] == [
        (
            "birthDate",
            "birth_date",
            "not-a-date",
            "'not-a-date' is not a date (expected YYYY-MM-DD)",
        )
    ]


def test_insert_mode_leaves_existing_rows_alone(tmp_path):
    Reading.objects.create(code="a", quantity=1)
    report, _ = run(
        tmp_path, "readings", [item("a", qty={"N": "9"}), item("b")], reading_mapping(mode="insert")
    )
    assert report.tables[0].counts["skipped"] == 1 and report.tables[0].counts["new"] == 1
    assert dict(Reading.objects.values_list("code", "quantity")) == {"a": 1, "b": 0}


def test_replace_mode_clears_the_table_first(tmp_path):
    Reading.objects.create(code="old", quantity=1)
    report, _ = run(tmp_path, "readings", [item("a")], reading_mapping(mode="replace"))
    assert report.tables[0].counts["deleted"] == 1 and report.tables[0].counts["new"] == 1
    assert list(Reading.objects.values_list("code", flat=True)) == ["a"]


def test_abort_policy_rolls_back_everything(tmp_path):
    report, _ = run(
        tmp_path,
        "readings",
        [item("a"), item("b", qty={"N": "1.5"})],
        reading_mapping(on_error="abort"),
    )
    assert report.aborted == (
        "import aborted at table readings, AWSDynamoDB/01700000000000-0a1b2c3d/data/file002c3d.json.gz, line 2 (item code=b): "
        "qty: not an integer"
    )
    assert report.exit_code == 1
    assert Reading.objects.count() == 0


def test_duplicate_key_in_the_export_is_an_error(tmp_path):
    report, recorder = run(tmp_path, "readings", [item("a"), item("a")], reading_mapping())
    assert report.tables[0].counts["new"] == 1 and report.tables[0].counts["errors"] == 1
    assert recorder.problems[0].message == (
        "duplicate key code=a (first seen at AWSDynamoDB/01700000000000-0a1b2c3d/data/file002c3d.json.gz, line 1)"
    )


def test_c16_sequences_reset_after_explicit_primary_keys(tmp_path):
    mapping = TableMapping(
        table="counters",
        target="testapp.Counter",
        key=("id",),
        fields=(
            FieldMapping(attribute="id", field="id"),
            FieldMapping(attribute="name", field="name"),
        ),
    )
    items = [{"id": {"N": str(n)}, "name": {"S": f"c{n}"}} for n in (1, 2, 3)]
    report, _ = run(tmp_path, "counters", items, mapping)
    assert report.tables[0].counts["new"] == 3
    created = Counter.objects.create(name="next")
    assert created.pk == 4


def test_c25_missing_many_to_many_target_is_a_row_error(tmp_path):
    Tag.objects.create(slug="news")
    mapping = TableMapping(
        table="articles",
        target="testapp.Article",
        key=("id",),
        fields=(
            FieldMapping(attribute="id", field="id"),
            FieldMapping(attribute="title", field="title"),
            FieldMapping(attribute="tags", field="tags"),
        ),
    )
    items = [
        {"id": {"S": "a1"}, "title": {"S": "One"}, "tags": {"SS": ["news", "does-not-exist"]}},
        {"id": {"S": "a2"}, "title": {"S": "Two"}, "tags": {"SS": ["news"]}},
    ]
    report, recorder = run(tmp_path, "articles", items, mapping)
    assert report.tables[0].counts["new"] == 1 and report.tables[0].counts["errors"] == 1
    assert [(p.item_key, p.attribute, p.message) for p in recorder.problems] == [
        ("id=a1", "tags", "no tag with slug 'does-not-exist'")
    ]
    assert list(Article.objects.get(pk="a2").tags.values_list("slug", flat=True)) == ["news"]
    assert not Article.objects.filter(pk="a1").exists()


def test_c13_json_lookup_matches_a_real_object(tmp_path):
    mapping = TableMapping(
        table="readings",
        target="testapp.Reading",
        key=("code",),
        fields=(
            FieldMapping(attribute="code", field="code"),
            FieldMapping(attribute="p", field="payload"),
        ),
    )
    run(tmp_path, "readings", [item("a", p={"M": {"a": {"S": "b"}}})], mapping)
    assert list(Reading.objects.filter(payload__a="b").values_list("code", flat=True)) == ["a"]


def test_c04_reimporting_a_set_in_another_order_is_unchanged(tmp_path):
    mapping = TableMapping(
        table="readings",
        target="testapp.Reading",
        key=("code",),
        fields=(
            FieldMapping(attribute="code", field="code"),
            FieldMapping(attribute="p", field="payload"),
        ),
    )
    run(tmp_path, "readings", [item("a", p={"SS": ["b", "a"]})], mapping, name="1")
    report, _ = run(tmp_path, "readings", [item("a", p={"SS": ["a", "b"]})], mapping, name="2")
    assert report.tables[0].counts["unchanged"] == 1
    assert Reading.objects.get(code="a").payload == ["a", "b"]


def test_raw_model_keeps_exact_numbers(tmp_path):
    from importer.models import RawItem

    folder = tmp_path / "raw"
    write_export(
        folder,
        "things",
        [{"id": {"S": "t"}, "n": {"N": "0.1234567890123456789012345"}, "big": {"N": "1E+100"}}],
    )
    with open_source(folder) as tree:
        analysis = analyse(tree)
        mappings = suggest_mappings(analysis)
        report = execute(tree, analysis, mappings, dry_run=False)
    assert report.tables[0].counts["new"] == 1
    stored = RawItem.objects.get(source_table="things")
    from decimal import Decimal

    assert stored.item_key == '{"id":"t"}'
    assert stored.attributes == {
        "id": "t",
        "n": Decimal("0.1234567890123456789012345"),
        "big": 10**100,
    }
    with open_source(folder) as tree:
        analysis = analyse(tree)
        again = execute(tree, analysis, suggest_mappings(analysis), dry_run=False)
    assert again.tables[0].counts["unchanged"] == 1


NOTES = [{"id": {"S": "n1"}}, {"id": {"S": "n2"}}, {"id": {"S": "n3"}}]


def run_raw(folder: Path, *, dry_run: bool = False):
    with open_source(folder) as tree:
        analysis = analyse(tree)
        return analysis, execute(tree, analysis, suggest_mappings(analysis), dry_run=dry_run)


def test_c22_a_manifest_count_the_data_does_not_hold_is_a_warning(tmp_path):
    export = write_export(tmp_path / "short", "notes", NOTES)
    promise_items(export, 5)
    for dry_run in (True, False):
        analysis, report = run_raw(tmp_path / "short", dry_run=dry_run)
        (table,) = report.tables
        assert analysis.warnings == ()
        assert table.warnings == ()  # the manifests agree with each other; only the data differs
        assert (table.status, table.expected_items, table.counts["read"], table.counts["new"]) == (
            "imported",
            5,
            3,
            3,
        )
        assert table.messages == ("the manifest promises 5 items, the data files hold 3",)
        assert report.exit_code == 0
    assert sorted(RawItem.objects.values_list("item_key", flat=True)) == [
        '{"id":"n1"}',
        '{"id":"n2"}',
        '{"id":"n3"}',
    ]


def test_c22_a_manifest_count_the_data_holds_gives_no_warning(tmp_path):
    write_export(tmp_path / "whole", "notes", NOTES)
    _, report = run_raw(tmp_path / "whole")
    (table,) = report.tables
    assert (table.expected_items, table.counts["read"], table.messages) == (3, 3, ())
