"""The command-line door end to end: real exports in, exact counts and values out, clear failures."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from contextlib import closing
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.production.models import Product, PushToProduction
from backend.samples.export import write_sample_export
from backend.stock.models import Stock, StockRemarks
from backend.undo.models import StockTransaction, UndoAction
from backend.users.models import Group, User
from importer.models import RawItem
from tests.conftest import CORPUS, REPO
from tests.exports import promise_items, write_export

PFEILBR = CORPUS / "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground"
PFEILBR_TABLE = "dynamodb-export-to-s3-and-query-with-athena-playground-v2-MyTable-1WGSJ3W2WJWPK"

pytestmark = pytest.mark.django_db(transaction=True)


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("import_dynamodb", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


DEMO_MODELS = (
    User,
    Group,
    Stock,
    StockRemarks,
    Product,
    PushToProduction,
    StockTransaction,
    UndoAction,
)


def demo_rows() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in DEMO_MODELS}


def demo_table_contents() -> dict[str, list[dict[str, object]]]:
    """Every row of every demo table, every field value, in primary-key order."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in DEMO_MODELS}


def test_pfeilbr_export_imports_three_items_from_four_files():
    output = run_command("--data-dir", str(PFEILBR), "--map", f"{PFEILBR_TABLE}=raw")
    assert f"Detected table: {PFEILBR_TABLE} in directory 01605130432834-8a918b87" in output
    assert "Found 4 JSON files" in output
    assert f"Successfully imported 3 records for table {PFEILBR_TABLE}" in output
    rows = RawItem.objects.filter(source_table=PFEILBR_TABLE).order_by("item_key")
    assert [(row.item_key, row.attributes) for row in rows] == [
        ('{"pk":"pk001-1605121017583"}', {"pk": "pk001-1605121017583", "sk": "sk001"}),
        ('{"pk":"pk002-1605121017583"}', {"pk": "pk002-1605121017583", "sk": "sk002"}),
        ('{"pk":"pk003-1605121017583"}', {"pk": "pk003-1605121017583", "sk": "sk003"}),
    ]


def test_scylla_export_covers_all_ten_types_exactly(tmp_path):
    source = CORPUS / "scylladb__scylla-migrator"
    archive = shutil.make_archive(str(tmp_path / "scylla"), "zip", source)
    output = run_command("--data-dir", archive)
    assert "Successfully imported 3 records for table S3ExportTest" in output
    stored = {
        row.item_key: row.attributes for row in RawItem.objects.filter(source_table="S3ExportTest")
    }
    assert stored == {
        '{"id":"bar"}': {"id": "bar", "baz": 0},
        '{"id":"foo"}': {"id": "foo", "bar": 42},
        '{"id":"K3TXQk84Si"}': {
            "id": "K3TXQk84Si",
            "a": False,
            "b": None,
            "c": ["8gfX8dh0xa", "fRjHZJ2Ce9"],
            "d": [2, 3],
            "e": [1, "Dsb87qc6Es"],
            "f": {"h": None, "i": True, "g": 9},
            "j": "aGVsbG8=",
            "k": ["aXMgZmFzdA==", "c2N5bGxhZGI="],
        },
    }


def test_dynamodump_table_imports_with_its_key_schema():
    output = run_command("--data-dir", str(CORPUS / "bchew__dynamodump"))
    assert "Successfully imported 1 record for table testTable" in output
    row = RawItem.objects.get(source_table="testTable")
    assert row.item_key == '{"id":1}'
    assert row.attributes == {"lastName": "Doe", "id": 1, "firstName": "John"}


def test_sabuat_missing_data_file_is_named_and_nothing_imported():
    with pytest.raises(CommandError) as raised:
        run_command("--data-dir", str(CORPUS / "sabuat__db-dynamo-aws"))
    assert str(raised.value) == "nothing could be imported (see the messages above)."
    assert RawItem.objects.count() == 0


def test_sabuat_message_names_the_missing_file(cli):
    completed = cli("import_dynamodb", "--data-dir", str(CORPUS / "sabuat__db-dynamo-aws"))
    assert completed.returncode == 1
    assert "enpvklgbwq7gta42yshirxd6ea.json.gz" in completed.stdout
    assert (
        "table livros_por_ler not imported: data file "
        "data/enpvklgbwq7gta42yshirxd6ea.json.gz is listed in "
        "manifest-files.json but missing from sabuat__db-dynamo-aws" in completed.stdout
    )
    assert completed.stderr == "CommandError: nothing could be imported (see the messages above).\n"
    assert cli.count("importer_rawitem") == 0


@pytest.fixture(scope="module")
def sample_zip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "demo.zip"
    write_sample_export(path, items=10_000, seed=7)
    return path


EXPECTED_10K = {
    "users.User": 1000,
    "users.Group": 100,
    "stock.Stock": 2000,
    "stock.StockRemarks": 1500,
    "production.Product": 1000,
    "production.PushToProduction": 1395,
    "undo.StockTransaction": 2000,
    "undo.UndoAction": 1000,
}


def test_ten_thousand_items_import_then_reimport_unchanged_then_dry_run_writes_nothing(
    sample_zip, tmp_path
):
    report = tmp_path / "errors.csv"
    first = run_command("--data-dir", str(sample_zip), "--error-report", str(report))
    assert "Done in" in first and "9995 new, 0 updated, 0 unchanged, 0 skipped, 5 errors" in first
    assert demo_rows() == EXPECTED_10K
    assert len(report.read_text().splitlines()) == 6
    second = run_command("--data-dir", str(sample_zip))
    assert "0 new, 0 updated, 9995 unchanged, 0 skipped, 5 errors" in second
    Stock.objects.filter(pk__in=list(Stock.objects.values_list("pk", flat=True)[:3])).update(
        quantity=-1
    )
    changed = {stock.pk: stock.quantity for stock in Stock.objects.filter(quantity=-1)}
    assert changed == {"STK-000001": -1, "STK-000002": -1, "STK-000003": -1}
    # Every row of every demo table, every field, exactly as it was before the dry run.
    before = demo_table_contents()
    assert {label: len(rows) for label, rows in before.items()} == EXPECTED_10K
    dry = run_command("--data-dir", str(sample_zip), "--dry-run")
    assert "3 updated, 9992 unchanged" in dry and "Dry run: nothing was written." in dry
    after = demo_table_contents()
    for label, rows in before.items():
        assert after[label] == rows, label


def test_ten_thousand_items_on_sqlite_through_manage_py(sample_zip, cli):
    first = cli("import_dynamodb", "--data-dir", str(sample_zip))
    assert first.returncode == 0, first.stderr
    assert "9995 new, 0 updated, 0 unchanged, 0 skipped, 5 errors" in first.stdout
    tables = {
        "users_user": 1000,
        "users_group": 100,
        "stock_stock": 2000,
        "stock_stockremarks": 1500,
        "production_product": 1000,
        "production_pushtoproduction": 1395,
        "undo_stocktransaction": 2000,
        "undo_undoaction": 1000,
    }
    assert {table: cli.count(table) for table in tables} == tables
    second = cli("import_dynamodb", "--data-dir", str(sample_zip))
    assert "0 new, 0 updated, 9995 unchanged, 0 skipped, 5 errors" in second.stdout


class Cli:
    """manage.py in a subprocess, on its own migrated SQLite database (never the developer's)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SETTINGS_MODULE": "backend.settings",
        }

    def __call__(self, *args: str, script: str = "manage.py", cwd: Path = REPO):
        return subprocess.run(
            [sys.executable, str(REPO / script), *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            check=False,
            timeout=300,
        )

    def count(self, table: str) -> int:
        with closing(sqlite3.connect(self.database)) as connection:
            return connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]

    def rows_everywhere(self) -> int:
        return sum(
            self.count(table)
            for table in ("users_group", "users_user", "stock_stock", "importer_rawitem")
        )


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> Path:
    database = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    completed = Cli(database)("migrate", "-v0")
    assert completed.returncode == 0, completed.stderr
    return database


@pytest.fixture
def cli(migrated_sqlite, tmp_path) -> Cli:
    database = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated_sqlite, database)
    return Cli(database)


def test_seed_guide_table_map_and_output(tmp_path):
    write_export(tmp_path / "export", "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    output = run_command("--data-dir", str(tmp_path / "export"))
    assert "Found 1 table export directory" in output
    assert "Detected table: Groups in directory 01700000000000-0a1b2c3d" in output
    assert "Importing table: Groups → users.Group" in output
    assert "Found 1 JSON file" in output
    assert "Successfully imported 1 record for table Groups" in output
    assert list(Group.objects.values_list("id", "name")) == [(1, "Ops")]
    assert Group.objects.create(name="next").pk == 2


def broken_zip(tmp_path: Path, data: bytes) -> Path:
    folder = tmp_path / "export"
    write_export(folder, "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    (data_file,) = (folder / "AWSDynamoDB").glob("*/data/*.json.gz")
    data_file.write_bytes(data)
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
    return archive


BROKEN_FILE = "AWSDynamoDB/01700000000000-0a1b2c3d/data/file002c3d.json.gz"
NOTHING = "nothing could be imported (see the messages above)."


@pytest.mark.parametrize(
    ("make", "error", "table_message"),
    [
        (lambda tmp: tmp / "missing.zip", "{path} does not exist", None),
        (
            lambda tmp: _write(tmp / "notes.zip", b"hello, not a zip"),
            "notes.zip is not a zip file: compress the export folder as a .zip",
            None,
        ),
        (lambda tmp: _empty_zip(tmp / "empty.zip"), "empty.zip is an empty zip file", None),
        (
            lambda tmp: _folder(tmp / "nothing"),
            "no DynamoDB export found in nothing: expected "
            "AWSDynamoDB/<ExportId>/manifest-summary.json, a dynamodump <table>/schema.json, "
            "or data files",
            None,
        ),
        (
            lambda tmp: broken_zip(tmp, b"\x1f\x8b\x08\x00garbage-not-deflate"),
            NOTHING,
            f"table Groups not imported: {BROKEN_FILE}, line 1: corrupt gzip data "
            "(Error -3 while decompressing data: invalid code lengths set)",
        ),
        (
            lambda tmp: broken_zip(
                tmp, gzip.compress(b'{"Item":{"id":{"N":"1"}}}\n{"Item": oops}\n')
            ),
            NOTHING,
            f"table Groups not imported: {BROKEN_FILE}, line 2: invalid JSON: Expecting value",
        ),
    ],
    ids=["missing", "not-a-zip", "empty-zip", "no-export", "corrupt-gzip", "invalid-json-line"],
)
def test_bad_input_gets_one_clear_line_and_writes_nothing(
    cli, tmp_path, make, error, table_message
):
    path = make(tmp_path)
    completed = cli("import_dynamodb", "--data-dir", str(path))
    assert completed.returncode == 1
    assert completed.stderr == f"CommandError: {error.format(path=path)}\n"
    if table_message:
        assert f"  {table_message}\n" in completed.stdout
    assert cli.rows_everywhere() == 0


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _empty_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w"):
        pass
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "readme.txt").write_text("nothing here")
    return path


def test_mapping_file_round_trip_and_c11_flag(tmp_path):
    folder = tmp_path / "export"
    write_export(
        folder,
        "Groups",
        [{"id": {"N": "1"}, "name": {"S": "Ops"}, "createdAt": {"N": "1700000000"}}],
    )
    saved = tmp_path / "mapping.json"
    run_command("--data-dir", str(folder), "--save-mapping", str(saved), "--dry-run")
    assert (
        '"createdAt": {\n          "field": "created_at",\n          "converter": "epoch_s"\n        }'
        in saved.read_text()
    )
    saved.write_text(saved.read_text().replace('"converter": "epoch_s"', '"converter": ""'))
    with pytest.raises(CommandError) as raised:
        run_command("--data-dir", str(folder), "--mapping", str(saved))
    assert (
        "createdAt holds numbers; choose epoch seconds or epoch milliseconds for created_at"
        in str(raised.value)
    )
    assert Group.objects.count() == 0


def test_numbers_stay_exact_in_raw_json(tmp_path):
    folder = tmp_path / "export"
    write_export(folder, "prices", [{"sku": {"S": "a"}, "price": {"N": "9.99"}, "qty": {"N": "3"}}])
    run_command("--data-dir", str(folder))
    assert RawItem.objects.get().attributes == {"sku": "a", "price": Decimal("9.99"), "qty": 3}


def test_only_the_named_tables_are_imported(tmp_path):
    write_export(tmp_path / "export", "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    write_export(
        tmp_path / "export", "notes", [{"id": {"S": "n1"}}], export_id="01700000000001-0a1b2c3e"
    )
    output = run_command("--data-dir", str(tmp_path / "export"), "--table", "notes")
    assert "Found 1 table export directory" in output
    assert Group.objects.count() == 0
    assert list(RawItem.objects.values_list("source_table", flat=True)) == ["notes"]
    with pytest.raises(CommandError) as raised:
        run_command("--data-dir", str(tmp_path / "export"), "--table", "nope")
    assert str(raised.value) == "no table named nope in export (found: Groups, notes)"


def test_abort_policy_exits_non_zero_and_writes_nothing(cli, tmp_path):
    items = [{"id": {"N": "1"}, "name": {"S": "Ops"}}, {"id": {"N": "2.5"}, "name": {"S": "Dev"}}]
    write_export(tmp_path / "export", "Groups", items)
    completed = cli(
        "import_dynamodb", "--data-dir", str(tmp_path / "export"), "--on-error", "abort"
    )
    assert completed.returncode == 1
    assert completed.stderr == (
        "CommandError: import aborted at table Groups, "
        "AWSDynamoDB/01700000000000-0a1b2c3d/data/file002c3d.json.gz, line 2 (item id=2.5): "
        "id: not an integer. Nothing was written.\n"
    )
    assert cli.count("users_group") == 0


def test_clear_tables_replaces_the_rows(tmp_path):
    Group.objects.create(id=7, name="Old")
    write_export(tmp_path / "export", "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    output = run_command("--data-dir", str(tmp_path / "export"), "--clear-tables")
    assert "new 1, updated 0, unchanged 0, skipped 0, errors 0, deleted 1" in output
    assert list(Group.objects.values_list("id", "name")) == [(1, "Ops")]


def test_the_summary_says_what_would_happen_then_what_did(tmp_path):
    Group.objects.create(id=7, name="Old")
    items = [{"id": {"N": "1"}, "name": {"S": "Ops"}}, {"id": {"S": "x"}, "name": {"S": "Bad"}}]
    write_export(tmp_path / "export", "Groups", items)
    report = tmp_path / "errors.csv"
    args = ("--data-dir", str(tmp_path / "export"), "--clear-tables", "--no-progress")
    dry = run_command(*args, "--dry-run", "--error-report", str(report)).splitlines()
    summary = next(line for line in dry if line.startswith("Dry run in "))
    assert summary.partition("s: ")[2] == (
        "would import 1 new, 0 updated, 0 unchanged, 0 skipped, 1 error; "
        "would delete 1 existing row"
    )
    assert "Would import 1 record for table Groups" in dry
    assert f"Error report: {report} (1 problem)" in dry
    done = run_command(*args).splitlines()
    summary = next(line for line in done if line.startswith("Done in "))
    assert summary.partition("s: ")[2] == (
        "1 new, 0 updated, 0 unchanged, 0 skipped, 1 error; 1 existing row deleted"
    )


USERS = [
    {
        "id": {"S": "9b2f4c1e-0000-4000-8000-000000000001"},
        "username": {"S": "ann"},
        "password": {"S": "!"},
    }
]
CLEARS_USERS = (
    "Warning: users → users.User in replace mode clears the user model: every user, staff and "
    "superuser logins included, is deleted before the export's users are imported "
    "(--mode upsert keeps them)"
)


@pytest.mark.parametrize("option", [["--clear-tables"], ["--mode", "replace"]])
def test_clearing_the_user_model_warns_and_goes_ahead(tmp_path, option):
    User.objects.create_user(username="admin", is_staff=True, is_superuser=True)
    write_export(tmp_path / "export", "users", USERS)
    output = run_command("--data-dir", str(tmp_path / "export"), "--no-progress", *option)
    assert output.splitlines().count(CLEARS_USERS) == 1
    assert "new 1, updated 0, unchanged 0, skipped 0, errors 0, deleted 1" in output
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]


def test_upsert_into_the_user_model_does_not_warn(tmp_path):
    write_export(tmp_path / "export", "users", USERS)
    output = run_command("--data-dir", str(tmp_path / "export"), "--no-progress")
    assert "Warning" not in output
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]


def test_map_to_an_unknown_model_is_one_clear_line(cli, tmp_path):
    write_export(tmp_path / "export", "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    completed = cli(
        "import_dynamodb", "--data-dir", str(tmp_path / "export"), "--map", "Groups=nope.Model"
    )
    assert completed.returncode == 1
    assert completed.stderr == (
        "CommandError: unknown model 'nope.Model': expected app_label.Model, e.g. stock.Stock, "
        "or raw/skip\n"
    )


def test_import_data_script_imports_the_awsdynamodb_folder(cli, tmp_path):
    write_export(tmp_path, "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    completed = cli("--no-progress", script="import_data.py", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "Successfully imported 1 record for table Groups" in completed.stdout
    assert cli.count("users_group") == 1


def test_import_data_script_without_the_folder_says_what_to_do(cli, tmp_path):
    completed = cli(script="import_data.py", cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stderr == (
        f"Error: there is no AWSDynamoDB folder here ({tmp_path}): unzip an export here (the "
        "zip holds AWSDynamoDB/<ExportId>/...), or pass its folder or .zip: "
        "python import_data.py PATH\n"
    )


def test_import_data_script_takes_a_zip(cli, tmp_path):
    archive = tmp_path / "demo.zip"
    write_sample_export(archive, items=20, seed=1)
    completed = cli(str(archive), "--no-progress", script="import_data.py", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "Found 8 table export directories" in completed.stdout
    assert cli.count("users_group") == 3


def test_map_naming_no_table_of_the_export_is_refused(tmp_path):
    write_export(tmp_path / "export", "stock", [{"id": {"S": "S1"}}])
    with pytest.raises(CommandError) as raised:
        run_command("--data-dir", str(tmp_path / "export"), "--map", "Stock=skip")
    assert str(raised.value) == "--map names no table of this export: Stock (found: stock)"
    assert RawItem.objects.count() == 0


@pytest.mark.parametrize("option", ["--error-report", "--save-mapping"])
def test_an_unwritable_output_path_is_one_clear_line(tmp_path, option):
    write_export(tmp_path / "export", "Groups", [{"id": {"N": "1"}, "name": {"S": "Ops"}}])
    target = tmp_path / "no-such-folder" / "out.txt"
    with pytest.raises(CommandError) as raised:
        run_command("--data-dir", str(tmp_path / "export"), option, str(target))
    assert str(raised.value) == f"cannot write {target}: No such file or directory"
    assert Group.objects.count() == 0


def short_export(tmp_path: Path) -> Path:
    """A real-format export whose manifests promise 5 items; its one data file holds 3."""
    items = [{"id": {"S": f"n{n}"}} for n in (1, 2, 3)]
    promise_items(write_export(tmp_path / "short", "notes", items), 5)
    return tmp_path / "short"


def test_c22_manifest_count_mismatch_still_imports_what_the_data_holds(tmp_path):
    output = run_command("--data-dir", str(short_export(tmp_path)), "--no-progress")
    assert (
        "Importing table: notes → importer.RawItem (raw)\n"
        "Found 1 JSON file\n"
        "  Processing 3 records from file002c3d.json.gz\n"
        "Successfully imported 3 records for table notes\n"
        "  new 3, updated 0, unchanged 0, skipped 0, errors 0\n"
    ) in output
    assert sorted(RawItem.objects.values_list("item_key", flat=True)) == [
        '{"id":"n1"}',
        '{"id":"n2"}',
        '{"id":"n3"}',
    ]


def test_c22_manifest_count_mismatch_is_printed_as_a_warning(tmp_path):
    output = run_command("--data-dir", str(short_export(tmp_path)), "--no-progress")
    assert output.endswith(
        "Warnings:\n  notes: the manifest promises 5 items, the data files hold 3\n"
    )


def without_timing(output: str) -> str:
    """The output with its one timing figure ("Done in 0.1s") blanked, for comparing runs."""
    return re.sub(r"^(Done|Dry run) in [0-9.]+s:", r"\1 in _s:", output, flags=re.MULTILINE)


def test_import_dynamodb_auto_prints_what_import_dynamodb_prints(tmp_path, monkeypatch):
    items = [{"id": {"N": "1"}, "name": {"S": "Ops"}}, {"id": {"N": "2"}, "name": {"S": "Dev"}}]
    write_export(tmp_path, "Groups", items)  # ./AWSDynamoDB, the seed guide's default
    monkeypatch.chdir(tmp_path)
    out = StringIO()
    call_command("import_dynamodb_auto", "--no-progress", stdout=out, stderr=StringIO())
    auto = out.getvalue()
    assert list(Group.objects.order_by("id").values_list("id", "name")) == [(1, "Ops"), (2, "Dev")]
    Group.objects.all().delete()
    plain = run_command("--data-dir", "AWSDynamoDB", "--no-progress")
    assert list(Group.objects.order_by("id").values_list("id", "name")) == [(1, "Ops"), (2, "Dev")]
    assert without_timing(auto) == without_timing(plain)
    assert without_timing(auto) == (
        "Found 1 table export directory\n"
        "Detected table: Groups in directory 01700000000000-0a1b2c3d\n"
        "\n"
        "Importing table: Groups → users.Group\n"
        "Found 1 JSON file\n"
        "  Processing 2 records from file002c3d.json.gz\n"
        "Successfully imported 2 records for table Groups\n"
        "  new 2, updated 0, unchanged 0, skipped 0, errors 0\n"
        "\n"
        "Done in _s: 2 new, 0 updated, 0 unchanged, 0 skipped, 0 errors\n"
    )


GROUPS_AGAIN = [
    {"id": {"N": "1"}, "name": {"S": "Operations"}},  # exists, changed
    {"id": {"N": "2"}, "name": {"S": "Dev"}},  # new
    {"id": {"N": "3"}, "name": {"S": "QA"}},  # exists, the same
]


@pytest.mark.parametrize(
    ("mode", "imported", "table_counts", "total", "stored"),
    [
        (
            "insert",
            1,
            "new 1, updated 0, unchanged 0, skipped 2, errors 0",
            "1 new, 0 updated, 0 unchanged, 2 skipped, 0 errors",
            [(1, "Ops"), (2, "Dev"), (3, "QA")],
        ),
        (
            "upsert",
            3,
            "new 1, updated 1, unchanged 1, skipped 0, errors 0",
            "1 new, 1 updated, 1 unchanged, 0 skipped, 0 errors",
            [(1, "Operations"), (2, "Dev"), (3, "QA")],
        ),
    ],
)
def test_mode_from_the_command_line(tmp_path, mode, imported, table_counts, total, stored):
    Group.objects.create(id=1, name="Ops")
    Group.objects.create(id=3, name="QA")
    write_export(tmp_path / "export", "Groups", GROUPS_AGAIN)
    output = run_command("--data-dir", str(tmp_path / "export"), "--mode", mode, "--no-progress")
    records = "1 record" if imported == 1 else f"{imported} records"
    assert f"Successfully imported {records} for table Groups\n" in output
    assert f"  {table_counts}\n" in output
    assert re.search(rf"^Done in [0-9.]+s: {total}$", output, flags=re.MULTILINE)
    assert list(Group.objects.order_by("id").values_list("id", "name")) == stored


def test_a_checksum_mismatch_is_printed_as_a_warning(tmp_path):
    export = write_export(tmp_path / "export", "notes", [{"id": {"S": "n1"}}])
    (data_file,) = (export / "data").iterdir()
    data_file.write_bytes(gzip.compress(gzip.decompress(data_file.read_bytes()), mtime=1))
    actual = base64.b64encode(hashlib.md5(data_file.read_bytes()).digest()).decode()
    expected = json.loads((export / "manifest-files.json").read_text())["md5Checksum"]
    output = run_command("--data-dir", str(tmp_path / "export"), "--no-progress")
    assert output.endswith(
        "Warnings:\n"
        f"  notes: AWSDynamoDB/01700000000000-0a1b2c3d/data/{data_file.name}: MD5 checksum "
        f"{actual} does not match {expected} in "
        "AWSDynamoDB/01700000000000-0a1b2c3d/manifest-files.json; "
        "the file may be damaged or not the one exported\n"
    )
    assert RawItem.objects.count() == 1
