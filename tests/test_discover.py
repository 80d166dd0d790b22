"""importer.discover: the real corpus (as folders and zipped), layouts, manifests, junk."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from importer.archive import open_source
from importer.discover import discover
from importer.errors import SourceError
from importer.sources import DataFile, Discovery, TableSource
from tests.conftest import CORPUS

MakeZip = Callable[..., Path]

PFEILBR = CORPUS / "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground"
PFEILBR_EXPORT = PFEILBR / "example-export/demo_prefix/AWSDynamoDB/01605130432834-8a918b87"
PFEILBR_TABLE = "dynamodb-export-to-s3-and-query-with-athena-playground-v2-MyTable-1WGSJ3W2WJWPK"
SCYLLA = CORPUS / "scylladb__scylla-migrator"
SCYLLA_EXPORT = SCYLLA / "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1"
SABUAT = CORPUS / "sabuat__db-dynamo-aws"
DYNAMODUMP = CORPUS / "bchew__dynamodump"

EXPORT_ID = "01700000000000-0a1b2c3d"
EMPTY_GZIP = bytes.fromhex("1f8b0800000000000000030000000000000000000000")


def discover_path(path: Path) -> Discovery:
    with open_source(path) as tree:
        return discover(tree)


def pfeilbr_table(root: str) -> TableSource:
    """The pfeilbr export found at `root`: 4 data files (2 empty partitions), 3 items."""
    data = f"{root}/data/" if root else "data/"
    return TableSource(
        name=PFEILBR_TABLE,
        root=root,
        layout="s3-export",
        export_id="01605130432834-8a918b87",
        files=(
            DataFile(
                path=f"{data}nb2ssxy7sy27llohdduogaviai.json.gz",
                expected_items=0,
                md5_base64="OXDoJgXH0Qm7NI/JTp7swA==",
            ),
            DataFile(
                path=f"{data}om5xbquzn476lo3qh5l2cy6m6i.json.gz",
                expected_items=1,
                md5_base64="3k7rDt+OHxYVJpA5sn3QZg==",
            ),
            DataFile(
                path=f"{data}pkxc7dy3dyyljh2cv4optmccw4.json.gz",
                expected_items=0,
                md5_base64="OXDoJgXH0Qm7NI/JTp7swA==",
            ),
            DataFile(
                path=f"{data}vajn3deidy4svdja3fgej2ynay.json.gz",
                expected_items=2,
                md5_base64="J/tzfeC42jGYz0+Lo26WKg==",
            ),
        ),
        manifest_item_count=3,
    )


# --- the real corpus ----------------------------------------------------------------------------


def test_pfeilbr_folder() -> None:
    root = "example-export/demo_prefix/AWSDynamoDB/01605130432834-8a918b87"
    assert discover_path(PFEILBR) == Discovery(tables=(pfeilbr_table(root),))


@pytest.mark.parametrize(
    ("folder", "prefix", "root"),
    [
        (PFEILBR, "", "example-export/demo_prefix/AWSDynamoDB/01605130432834-8a918b87"),
        (PFEILBR_EXPORT, "", ""),  # zipped from inside the export folder
        (PFEILBR_EXPORT, "a/b/c/", "a/b/c"),
        (PFEILBR_EXPORT.parents[1], "deep/er/", "deep/er/AWSDynamoDB/01605130432834-8a918b87"),
    ],
)
def test_pfeilbr_zipped_with_any_prefix(
    zip_folder: Callable[..., Path], folder: Path, prefix: str, root: str
) -> None:
    assert discover_path(zip_folder(folder, prefix)) == Discovery(tables=(pfeilbr_table(root),))


@pytest.mark.parametrize(
    ("folder", "prefix", "root"),
    [
        (SCYLLA, "", "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1"),
        (SCYLLA_EXPORT, "", ""),
        (SCYLLA_EXPORT, "a/b/c/", "a/b/c"),
    ],
)
def test_scylla_folder_and_zipped(
    zip_folder: Callable[..., Path], folder: Path, prefix: str, root: str
) -> None:
    expected = Discovery(
        tables=(
            TableSource(
                name="S3ExportTest",
                root=root,
                layout="s3-export",
                export_id="01715685260608-c488b4e1",
                files=(
                    DataFile(
                        path=(f"{root}/" if root else "")
                        + "data/uimbi7eofu2b5kzkxe63gsvb6i.json.gz",
                        expected_items=3,
                        md5_base64="rzAeIrtALbOlNdK5Hh8tgA==",
                    ),
                ),
                manifest_item_count=3,
            ),
        )
    )
    if folder == SCYLLA:
        assert discover_path(SCYLLA) == expected
    assert discover_path(zip_folder(folder, prefix)) == expected


def sabuat_table(root: str, label: str) -> TableSource:
    prefix = f"{root}/" if root else ""
    missing = f"{prefix}data/enpvklgbwq7gta42yshirxd6ea.json.gz"
    return TableSource(
        name="livros_por_ler",
        root=root,
        layout="s3-export",
        export_id="01668227450456-b6733290",
        files=(
            DataFile(
                path=missing, expected_items=6, md5_base64="EV+2HwdmZ3AyD9j+Yxd+Mg==", missing=True
            ),
        ),
        manifest_item_count=6,
        warnings=(
            f"{missing} is listed in {prefix}manifest-files.json but missing from {label} (6 items)",
        ),
    )


def test_sabuat_manifest_only_export_reports_the_missing_data_file() -> None:
    assert discover_path(SABUAT) == Discovery(tables=(sabuat_table("", "sabuat__db-dynamo-aws"),))


@pytest.mark.parametrize(("prefix", "root"), [("", ""), ("backup/2024/", "backup/2024")])
def test_sabuat_zipped(zip_folder: Callable[..., Path], prefix: str, root: str) -> None:
    discovery = discover_path(zip_folder(SABUAT, prefix))
    assert discovery == Discovery(tables=(sabuat_table(root, "upload.zip"),))


@pytest.mark.parametrize(("prefix", "root"), [("", "testTable"), ("dump/", "dump/testTable")])
def test_dynamodump_folder_and_zipped(
    zip_folder: Callable[..., Path], prefix: str, root: str
) -> None:
    expected = Discovery(
        tables=(
            TableSource(
                name="testTable",
                root=root,
                layout="dynamodump",
                files=(DataFile(path=f"{root}/data/0001.json"),),
                manifest_item_count=1,
                key_attributes=("id",),
            ),
        )
    )
    if not prefix:
        assert discover_path(DYNAMODUMP) == expected
    assert discover_path(zip_folder(DYNAMODUMP, prefix)) == expected


def test_all_four_corpus_exports_in_one_zip(zip_folder: Callable[..., Path]) -> None:
    discovery = discover_path(zip_folder(CORPUS, "corpus/"))
    assert [(t.name, t.layout, len(t.files)) for t in discovery.tables] == [
        (PFEILBR_TABLE, "s3-export", 4),  # sorted without regard to case
        ("livros_por_ler", "s3-export", 1),
        ("S3ExportTest", "s3-export", 1),
        ("testTable", "dynamodump", 1),
    ]
    assert discovery.warnings == ("ignored 1 file(s) that are not DynamoDB data: corpus/README.md",)


# --- CASES.md -----------------------------------------------------------------------------------


def gz(lines: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines), mtime=0)


def md5(raw: bytes) -> str:
    return base64.b64encode(hashlib.md5(raw).digest()).decode()


def summary(table: str = "users", export_id: str = EXPORT_ID, **extra: Any) -> bytes:
    body = {
        "exportArn": f"arn:aws:dynamodb:eu-west-1:1:table/{table}/export/{export_id}",
        "tableArn": f"arn:aws:dynamodb:eu-west-1:1:table/{table}",
        "itemCount": 2,
        "outputFormat": "DYNAMODB_JSON",
        **extra,
    }
    return json.dumps(body).encode()


def file_list(*entries: tuple[str, int, bytes | str]) -> bytes:
    lines = [
        {
            "itemCount": count,
            "md5Checksum": raw if isinstance(raw, str) else md5(raw),
            "etag": "x-1",
            "dataFileS3Key": key,
        }
        for key, count, raw in entries
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


ITEMS = gz([{"Item": {"id": {"S": "a"}}}, {"Item": {"id": {"S": "b"}}}])


def test_c21_macos_junk_is_ignored_silently(make_zip: MakeZip) -> None:
    root = f"AWSDynamoDB/{EXPORT_ID}"
    path = make_zip(
        {
            f"{root}/manifest-summary.json": summary(),
            f"{root}/data/aaaa.json.gz": ITEMS,
            f"__MACOSX/{root}/._manifest-summary.json": b"\0\5\26\7 AppleDouble",
            f"__MACOSX/{root}/data/._aaaa.json.gz": b"\0\5\26\7 AppleDouble",
            f"{root}/data/._x.json.gz": b"\0\5\26\7",
            ".DS_Store": b"\0\0\0\1Bud1",
            f"{root}/.DS_Store": b"\0\0\0\1Bud1",
        }
    )
    assert discover_path(path) == Discovery(
        tables=(
            TableSource(
                name="users",
                root=root,
                layout="s3-export",
                export_id=EXPORT_ID,
                files=(DataFile(path=f"{root}/data/aaaa.json.gz"),),
                manifest_item_count=2,
            ),
        )
    )


def test_c22_empty_partitions_and_markers_discover_cleanly(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "_started": b"",
            "manifest-summary.json": summary(),
            "manifest-summary.md5": md5(summary()).encode(),
            "manifest-files.checksum": b"whatever",
            "manifest-files.json": file_list(
                (f"AWSDynamoDB/{EXPORT_ID}/data/full.json.gz", 2, ITEMS),
                (f"AWSDynamoDB/{EXPORT_ID}/data/empty.json.gz", 0, EMPTY_GZIP),
                (f"AWSDynamoDB/{EXPORT_ID}/data/zero.json.gz", 0, b""),
            ),
            "data/full.json.gz": ITEMS,
            "data/empty.json.gz": EMPTY_GZIP,
            "data/zero.json.gz": b"",
        }
    )
    (table,) = discover_path(path).tables
    assert table.warnings == ()
    assert table.files == (
        DataFile(path="data/empty.json.gz", expected_items=0, md5_base64=md5(EMPTY_GZIP)),
        DataFile(path="data/full.json.gz", expected_items=2, md5_base64=md5(ITEMS)),
        DataFile(path="data/zero.json.gz", expected_items=0, md5_base64=md5(b"")),
    )


def test_c23_ion_and_incremental_exports_are_discovered_for_the_caller_to_refuse(
    make_zip: MakeZip,
) -> None:
    path = make_zip(
        {
            f"ion/AWSDynamoDB/{EXPORT_ID}/manifest-summary.json": summary(
                "books", outputFormat="ION"
            ),
            f"ion/AWSDynamoDB/{EXPORT_ID}/data/abc.ion.gz": gzip.compress(b"$ion_1_0 {Item:{}}\n"),
            # Incremental data sits in a folder shared by exports, beside the export root.
            "inc/AWSDynamoDB/01700000000001-00000000/manifest-summary.json": summary(
                "users", "01700000000001-00000000", exportType="INCREMENTAL_EXPORT"
            ),
            "inc/AWSDynamoDB/01700000000001-00000000/manifest-files.json": file_list(
                ("inc/AWSDynamoDB/data/chg.json.gz", 2, ITEMS)
            ),
            "inc/AWSDynamoDB/data/chg.json.gz": ITEMS,
            "inc/AWSDynamoDB/data/other-export.json.gz": ITEMS,
        }
    )
    books, users = discover_path(path).tables
    assert (books.name, books.output_format, books.export_type) == ("books", "ION", "FULL_EXPORT")
    assert books.files == (DataFile(path=f"ion/AWSDynamoDB/{EXPORT_ID}/data/abc.ion.gz"),)
    assert (users.name, users.output_format, users.export_type) == (
        "users",
        "DYNAMODB_JSON",
        "INCREMENTAL_EXPORT",
    )
    assert users.files == (
        DataFile(path="inc/AWSDynamoDB/data/chg.json.gz", expected_items=2, md5_base64=md5(ITEMS)),
    )
    assert users.warnings == ()


# --- manifests ----------------------------------------------------------------------------------


def test_md5_mismatch_is_a_table_warning(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "manifest-summary.json": summary(),
            "manifest-files.json": file_list(
                ("x/data/aaaa.json.gz", 2, "J/tzfeC42jGYz0+Lo26WKg==")
            ),
            "data/aaaa.json.gz": ITEMS,
        }
    )
    (table,) = discover_path(path).tables
    assert table.warnings == (
        f"data/aaaa.json.gz: MD5 checksum {md5(ITEMS)} does not match J/tzfeC42jGYz0+Lo26WKg== "
        "in manifest-files.json; the file may be damaged or not the one exported",
    )


def test_manifest_item_counts_that_disagree_are_a_warning(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "manifest-summary.json": summary(itemCount=5),
            "manifest-files.json": file_list(("data/aaaa.json.gz", 2, ITEMS)),
            "data/aaaa.json.gz": ITEMS,
        }
    )
    (table,) = discover_path(path).tables
    assert table.manifest_item_count == 5
    assert table.warnings == (
        "manifest-summary.json counts 5 items but manifest-files.json lists 2",
    )


def test_unlisted_data_files_are_read_with_a_warning_and_keys_resolve_by_basename(
    make_zip: MakeZip,
) -> None:
    path = make_zip(
        {
            "e/manifest-summary.json": summary(itemCount=2),
            # The key has no data/ part: it is found by its basename anywhere under the root.
            "e/manifest-files.json": file_list(("elsewhere/moved.json.gz", 2, ITEMS)),
            "e/renamed/moved.json.gz": ITEMS,
            "e/data/extra.json.gz": ITEMS,
            "e/data/notes.txt": b"hello",
        }
    )
    (table,) = discover_path(path).tables
    assert table.files == (
        DataFile(path="e/data/extra.json.gz"),
        DataFile(path="e/renamed/moved.json.gz", expected_items=2, md5_base64=md5(ITEMS)),
    )
    assert table.warnings == (
        "e/data/extra.json.gz is not listed in e/manifest-files.json; it is read anyway",
    )


def test_without_manifest_files_every_data_file_is_taken(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "manifest-summary.json": summary(),
            "data/b.json.gz": ITEMS,
            "data/a.json": b"",
        }
    )
    (table,) = discover_path(path).tables
    assert table.files == (DataFile(path="data/a.json"), DataFile(path="data/b.json.gz"))
    assert table.warnings == ()


def test_bad_manifest_files_lines_are_warnings(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "manifest-summary.json": summary(),
            "manifest-files.json": file_list(("data/a.json.gz", 2, ITEMS))
            + b"{not json\n"
            + b'{"itemCount":1}\n',
            "data/a.json.gz": ITEMS,
        }
    )
    (table,) = discover_path(path).tables
    assert table.files == (
        DataFile(path="data/a.json.gz", expected_items=2, md5_base64=md5(ITEMS)),
    )
    assert table.warnings == (
        "manifest-files.json, line 2: invalid JSON (Expecting property name enclosed in double "
        "quotes); line ignored",
        "manifest-files.json, line 3: no dataFileS3Key; line ignored",
    )


def test_invalid_summary_is_a_source_error(make_zip: MakeZip) -> None:
    path = make_zip({"x/manifest-summary.json": b'{"tableArn": ', "x/data/a.json.gz": ITEMS})
    with pytest.raises(SourceError) as caught:
        discover_path(path)
    assert str(caught.value) == (
        "x/manifest-summary.json in upload.zip is not valid JSON (Expecting value, line 1)"
    )


def test_table_name_falls_back_to_export_arn_then_folder(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "one/manifest-summary.json": json.dumps(
                {"exportArn": f"arn:aws:dynamodb:x:1:table/orders/export/{EXPORT_ID}"}
            ).encode(),
            "one/data/a.json.gz": ITEMS,
            "two/manifest-summary.json": b"{}",
            "two/data/a.json.gz": ITEMS,
        }
    )
    assert [(t.name, t.export_id, t.root) for t in discover_path(path).tables] == [
        ("orders", EXPORT_ID, "one"),
        ("two", "two", "two"),
    ]


def test_two_exports_of_one_table_are_refused_by_name(make_zip: MakeZip) -> None:
    later, earlier = "01700000000009-99999999", "01700000000001-11111111"
    path = make_zip(
        {
            f"AWSDynamoDB/{later}/manifest-summary.json": summary("users", later),
            f"AWSDynamoDB/{later}/data/a.json.gz": ITEMS,
            f"AWSDynamoDB/{earlier}/manifest-summary.json": summary("users", earlier),
            f"AWSDynamoDB/{earlier}/data/a.json.gz": ITEMS,
            f"AWSDynamoDB/{EXPORT_ID}/manifest-summary.json": summary("accounts"),
            f"AWSDynamoDB/{EXPORT_ID}/data/a.json.gz": ITEMS,
        }
    )
    with pytest.raises(SourceError) as caught:
        discover_path(path)
    assert str(caught.value) == (
        "upload.zip holds more than one export of the same table (users in "
        f"{earlier}, {later}): keep one export per table and try again"
    )


# --- dynamodump and loose files -----------------------------------------------------------------


def test_dynamodump_key_is_hash_then_range(make_zip: MakeZip) -> None:
    schema = {
        "Table": {
            "TableName": "orders",
            "KeySchema": [
                {"AttributeName": "sk", "KeyType": "RANGE"},
                {"AttributeName": "pk", "KeyType": "HASH"},
            ],
        }
    }
    path = make_zip(
        {
            "dump/orders/schema.json": json.dumps(schema).encode(),
            "dump/orders/data/0001.json": b'{"Items": [], "Count": 0}',
            "dump/orders/data/0002.json": b'{"Items": [], "Count": 0}',
        }
    )
    assert discover_path(path).tables == (
        TableSource(
            name="orders",
            root="dump/orders",
            layout="dynamodump",
            files=(
                DataFile(path="dump/orders/data/0001.json"),
                DataFile(path="dump/orders/data/0002.json"),
            ),
            key_attributes=("pk", "sk"),
        ),
    )


def test_dynamodump_without_a_usable_schema_falls_back_to_the_folder_name(
    make_zip: MakeZip,
) -> None:
    path = make_zip(
        {
            "dump/stock/schema.json": b"{oops",
            "dump/stock/data/0001.json": b'{"Items": []}',
            "other/schema.json": b'{"openapi": "3.0"}',  # no data/ beside it: not a dump
        }
    )
    discovery = discover_path(path)
    assert discovery.tables == (
        TableSource(
            name="stock",
            root="dump/stock",
            layout="dynamodump",
            files=(DataFile(path="dump/stock/data/0001.json"),),
            warnings=("dump/stock/schema.json is not a readable dynamodump schema; key unknown",),
        ),
    )
    assert discovery.warnings == (
        "ignored other/schema.json: not a dynamodump schema and no data/ beside it",
    )


def test_a_summary_that_is_not_an_object_is_a_source_error(make_zip: MakeZip) -> None:
    with pytest.raises(SourceError) as caught:
        discover_path(make_zip({"manifest-summary.json": b"[]"}))
    assert str(caught.value) == "manifest-summary.json in upload.zip is not a JSON object"


def test_a_file_listed_twice_is_taken_once_with_a_warning(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "manifest-summary.json": summary(itemCount=4),
            "manifest-files.json": file_list(
                ("data/a.json.gz", 2, ITEMS), ("data/a.json.gz", 2, ITEMS)
            ),
            "data/a.json.gz": ITEMS,
        }
    )
    (table,) = discover_path(path).tables
    assert table.files == (
        DataFile(path="data/a.json.gz", expected_items=2, md5_base64=md5(ITEMS)),
    )
    assert table.warnings == ("data/a.json.gz is listed more than once in manifest-files.json",)


def test_loose_files_group_by_folder_and_top_level_files_by_stem(make_zip: MakeZip) -> None:
    path = make_zip(
        {
            "users.json": b"[]",
            "users.jsonl.gz": gzip.compress(b""),
            "orders.ndjson": b"",
            "scans/stock/page1.json": b"{}",
            "scans/stock/page2.json.gz": gzip.compress(b"{}"),
            "README.txt": b"hi",
        }
    )
    discovery = discover_path(path)
    assert discovery.tables == (
        TableSource(
            name="orders", root="", layout="loose", files=(DataFile(path="orders.ndjson"),)
        ),
        TableSource(
            name="stock",
            root="scans/stock",
            layout="loose",
            files=(
                DataFile(path="scans/stock/page1.json"),
                DataFile(path="scans/stock/page2.json.gz"),
            ),
        ),
        TableSource(
            name="users",
            root="",
            layout="loose",
            files=(DataFile(path="users.json"), DataFile(path="users.jsonl.gz")),
        ),
    )
    assert discovery.warnings == ("ignored 1 file(s) that are not DynamoDB data: README.txt",)


def test_a_source_without_tables_is_a_source_error(make_zip: MakeZip) -> None:
    path = make_zip({"__MACOSX/._a.json": b"x", "notes.txt": b"x", "_started": b""})
    with pytest.raises(SourceError) as caught:
        discover_path(path)
    assert str(caught.value) == (
        "no DynamoDB export found in upload.zip: expected AWSDynamoDB/<ExportId>/"
        "manifest-summary.json, a dynamodump <table>/schema.json, or data files"
    )
