"""importer.read: every item shape, exact line numbers, gzip handling, limits and bad input."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from importer import read
from importer.archive import SourceTree, open_source
from importer.discover import discover
from importer.errors import ReadError
from importer.read import count_items, iter_items
from importer.sources import DataFile, SourceItem
from tests.conftest import CORPUS

MakeZip = Callable[..., Path]

A = {"id": {"S": "a"}}
B = {"id": {"S": "b"}, "n": {"N": "2"}}
C = {"id": {"S": "c"}}


@pytest.fixture(params=[65536, 7, 1], ids=["chunk-64k", "chunk-7", "chunk-1"])
def chunk_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run a test with several read sizes, so values and lines straddle chunk boundaries."""
    monkeypatch.setattr(read, "_CHUNK", request.param)
    return int(request.param)


def read_file(tmp_path: Path, name: str, content: bytes, **limits: int) -> list[tuple[Any, int]]:
    """Write one file into a folder source and return its items as (attributes, line)."""
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with open_source(tmp_path / "src") as tree:
        items = list(iter_items(tree, DataFile(path=name), **limits))
    assert all(item.file == name for item in items)
    return [(item.attributes, item.line) for item in items]


def read_error(tmp_path: Path, name: str, content: bytes, **limits: int) -> str:
    with pytest.raises(ReadError) as caught:
        read_file(tmp_path, name, content, **limits)
    return str(caught.value)


def all_items(tree: SourceTree) -> list[SourceItem]:
    return [
        item
        for table in discover(tree).tables
        for data_file in table.files
        for item in iter_items(tree, data_file)
    ]


# --- the real corpus ----------------------------------------------------------------------------


def test_pfeilbr_items_exactly(zip_folder: Callable[..., Path]) -> None:
    export = CORPUS / (
        "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground/example-export/"
        "demo_prefix/AWSDynamoDB/01605130432834-8a918b87"
    )
    with open_source(zip_folder(export, "x/")) as tree:
        assert all_items(tree) == [
            SourceItem(
                attributes={"pk": {"S": "pk003-1605121017583"}, "sk": {"S": "sk003"}},
                file="x/data/om5xbquzn476lo3qh5l2cy6m6i.json.gz",
                line=1,
            ),
            SourceItem(
                attributes={"pk": {"S": "pk001-1605121017583"}, "sk": {"S": "sk001"}},
                file="x/data/vajn3deidy4svdja3fgej2ynay.json.gz",
                line=1,
            ),
            SourceItem(
                attributes={"pk": {"S": "pk002-1605121017583"}, "sk": {"S": "sk002"}},
                file="x/data/vajn3deidy4svdja3fgej2ynay.json.gz",
                line=2,
            ),
        ]


def test_scylla_items_exactly_and_counts_match_the_manifest() -> None:
    with open_source(CORPUS / "scylladb__scylla-migrator") as tree:
        (table,) = discover(tree).tables
        assert [(item.attributes, item.line) for item in all_items(tree)] == [
            ({"id": {"S": "bar"}, "baz": {"N": "0"}}, 1),
            (
                {
                    "id": {"S": "K3TXQk84Si"},
                    "a": {"BOOL": False},
                    "b": {"NULL": True},
                    "c": {"SS": ["8gfX8dh0xa", "fRjHZJ2Ce9"]},
                    "d": {"NS": ["3", "2"]},
                    "e": {"L": [{"N": "1"}, {"S": "Dsb87qc6Es"}]},
                    "f": {"M": {"h": {"NULL": True}, "i": {"BOOL": True}, "g": {"N": "9"}}},
                    "j": {"B": "aGVsbG8="},
                    "k": {"BS": ["aXMgZmFzdA==", "c2N5bGxhZGI="]},
                },
                2,
            ),
            ({"id": {"S": "foo"}, "bar": {"N": "42"}}, 3),
        ]
        assert [count_items(tree, f) for f in table.files] == [3]


@pytest.mark.parametrize(
    "folder",
    [
        "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground",
        "scylladb__scylla-migrator",
    ],
)
def test_manifest_item_counts_match_the_data(folder: str) -> None:
    with open_source(CORPUS / folder) as tree:
        (table,) = discover(tree).tables
        counts = [count_items(tree, data_file) for data_file in table.files]
    assert counts == [data_file.expected_items for data_file in table.files]
    assert sum(counts) == table.manifest_item_count == 3


def test_dynamodump_page_item_starts_on_line_4(chunk_size: int) -> None:
    with open_source(CORPUS / "bchew__dynamodump") as tree:
        assert all_items(tree) == [
            SourceItem(
                attributes={"lastName": {"S": "Doe"}, "id": {"N": "1"}, "firstName": {"S": "John"}},
                file="testTable/data/0001.json",
                line=4,
            )
        ]


def test_a_missing_data_file_cannot_be_read() -> None:
    with open_source(CORPUS / "sabuat__db-dynamo-aws") as tree:
        (table,) = discover(tree).tables
        with pytest.raises(ReadError) as caught:
            list(iter_items(tree, table.files[0]))
    assert str(caught.value) == (
        "data/enpvklgbwq7gta42yshirxd6ea.json.gz: listed in the manifest but missing from "
        "sabuat__db-dynamo-aws"
    )


# --- C22: empty partitions ------------------------------------------------------------------


def test_c22_empty_gzip_zero_byte_file_and_markers(make_zip: MakeZip) -> None:
    lines = b'{"Item":{"id":{"S":"a"}}}\n{"Item":{"id":{"S":"b"}}}\n'
    path = make_zip(
        {
            "AWSDynamoDB/01700000000000-0a1b2c3d/manifest-summary.json": json.dumps(
                {"tableArn": "arn:aws:dynamodb:x:1:table/users", "itemCount": 2}
            ).encode(),
            "AWSDynamoDB/01700000000000-0a1b2c3d/_started": b"",
            "AWSDynamoDB/01700000000000-0a1b2c3d/manifest-summary.md5": b"abc=",
            "AWSDynamoDB/01700000000000-0a1b2c3d/data/full.json.gz": gzip.compress(lines),
            "AWSDynamoDB/01700000000000-0a1b2c3d/data/empty.json.gz": gzip.compress(b""),
            "AWSDynamoDB/01700000000000-0a1b2c3d/data/zero.json.gz": b"",
        }
    )
    with open_source(path) as tree:
        (table,) = discover(tree).tables
        assert [count_items(tree, data_file) for data_file in table.files] == [0, 2, 0]
        assert [item.attributes for item in all_items(tree)] == [
            {"id": {"S": "a"}},
            {"id": {"S": "b"}},
        ]
    assert table.manifest_item_count == 2


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", gzip.compress(b""), gzip.compress(b"\n")])
def test_empty_content_gives_no_items(tmp_path: Path, content: bytes) -> None:
    assert read_file(tmp_path, "data/x.json.gz", content) == []


# --- C23: formats not supported yet ---------------------------------------------------------


def test_c23_incremental_change_records_are_refused(tmp_path: Path) -> None:
    line = {
        "Metadata": {"WriteTimestampMicros": {"N": "1700000000123456"}},
        "Keys": {"id": {"S": "a"}},
        "NewImage": {"id": {"S": "a"}, "name": {"S": "x"}},
    }
    content = gzip.compress(json.dumps(line).encode() + b"\n")
    assert read_error(tmp_path, "data/chg.json.gz", content) == (
        "data/chg.json.gz, line 1: this is an incremental export (change records with "
        "Keys/NewImage/OldImage), which is not supported yet and must not be imported as items; "
        "use a full export of the table"
    )


def test_c23_incremental_record_after_items_is_refused_too(tmp_path: Path) -> None:
    content = b'{"Item":{"id":{"S":"a"}}}\n{"Keys":{"id":{"S":"a"}},"OldImage":{"id":{"S":"a"}}}\n'
    message = read_error(tmp_path, "x.json", content)
    assert message.startswith("x.json, line 2: this is an incremental export")


ION_MESSAGE = (
    "Amazon Ion data is not supported yet; export the table again with the DYNAMODB_JSON format"
)


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("data/a.ion.gz", gzip.compress(b'$ion_1_0 {Item:{id:"a"}}\n'), "data/a.ion.gz"),
        (
            "data/a.json.gz",
            gzip.compress(b'\n$ion_1_0 {Item:{id:"a"}}\n'),
            "data/a.json.gz, line 2",
        ),
        ("data/a.bin", b"\xe0\x01\x00\xea\x00", "data/a.bin, line 1"),
    ],
)
def test_c23_ion_is_refused(tmp_path: Path, name: str, content: bytes, where: str) -> None:
    assert read_error(tmp_path, name, content) == f"{where}: {ION_MESSAGE}"


# --- shapes -----------------------------------------------------------------------------------


def jsonl(*values: Any) -> bytes:
    return b"".join(json.dumps(value).encode() + b"\n" for value in values)


def test_export_lines_with_blank_lines_crlf_and_no_final_newline(
    tmp_path: Path, chunk_size: int
) -> None:
    content = b'\xef\xbb\xbf{"Item": {"id": {"S": "a"}}}\r\n\r\n   \n{"Item":{"id":{"S":"c"}}}'
    assert read_file(tmp_path, "x.json", content) == [(A, 1), (C, 4)]


def test_gzip_is_sniffed_by_magic_not_by_name(tmp_path: Path) -> None:
    assert read_file(tmp_path, "plain.json.gz", jsonl({"Item": A})) == [(A, 1)]
    assert read_file(tmp_path, "packed.json", gzip.compress(jsonl({"Item": A}))) == [(A, 1)]


def test_concatenated_gzip_members_are_read_through(tmp_path: Path) -> None:
    content = gzip.compress(jsonl({"Item": A})) + gzip.compress(jsonl({"Item": B}))
    assert read_file(tmp_path, "x.json.gz", content) == [(A, 1), (B, 2)]


def test_ndjson_of_bare_items(tmp_path: Path, chunk_size: int) -> None:
    # The second item has an attribute named "Item": once items are bare, it is just an attribute.
    item = {"Item": {"M": {"x": {"S": "1"}}}}
    assert read_file(tmp_path, "x.ndjson", jsonl(A, item, B)) == [(A, 1), (item, 2), (B, 3)]


def test_one_compact_scan_page(tmp_path: Path, chunk_size: int) -> None:
    page = {"Items": [A, B], "Count": 2, "ScannedCount": 2, "ConsumedCapacity": None}
    assert read_file(tmp_path, "scan.json", json.dumps(page).encode()) == [(A, 1), (B, 1)]


def test_pretty_printed_scan_page(tmp_path: Path, chunk_size: int) -> None:
    page = {"Count": 3, "Items": [A, B, C], "ScannedCount": 3, "LastEvaluatedKey": C}
    content = json.dumps(page, indent=2).encode()
    # "Count" on line 2, "Items": [ on 3, then A's "{" on 4, B's on 9 and C's on 17.
    assert read_file(tmp_path, "0001.json", content) == [(A, 4), (B, 9), (C, 17)]


def test_concatenated_pages_on_one_line_and_across_lines(tmp_path: Path, chunk_size: int) -> None:
    page1 = json.dumps({"Items": [A], "Count": 1})
    page2 = json.dumps({"Items": [B], "Count": 1})
    page3 = json.dumps({"Count": 1, "Items": [C]}, indent=1)
    content = f"{page1}{page2}\n\n  {page3}\n".encode()
    assert read_file(tmp_path, "scan.json", content) == [(A, 1), (B, 1), (C, 6)]


def test_one_page_per_line(tmp_path: Path, chunk_size: int) -> None:
    content = jsonl({"Items": [A, B], "Count": 2}, {"Items": [], "Count": 0}, {"Items": [C]})
    assert read_file(tmp_path, "scan.jsonl", content) == [(A, 1), (B, 1), (C, 3)]


def test_array_of_pages(tmp_path: Path, chunk_size: int) -> None:
    content = (
        b'[\n {"Items": [\n  '
        + json.dumps(A).encode()
        + b'\n ]},\n {"Count": 2, "Items": ['
        + json.dumps(B).encode()
        + b", "
        + json.dumps(C).encode()
        + b"]}\n]\n"
    )
    assert read_file(tmp_path, "pages.json", content) == [(A, 3), (B, 5), (C, 5)]


def test_array_of_items(tmp_path: Path, chunk_size: int) -> None:
    content = json.dumps([A, B, C], indent=1).encode()
    assert read_file(tmp_path, "items.json", content) == [(A, 2), (B, 7), (C, 15)]


def test_array_of_item_wrappers(tmp_path: Path, chunk_size: int) -> None:
    content = b"[" + b",\n".join(json.dumps({"Item": x}).encode() for x in (A, B, C)) + b"]"
    assert read_file(tmp_path, "items.json", content) == [(A, 1), (B, 2), (C, 3)]


def test_a_page_bigger_than_the_line_limit_streams_item_by_item(tmp_path: Path) -> None:
    items = [{"id": {"S": f"{index:04d}"}} for index in range(500)]
    content = json.dumps({"Items": items, "Count": 500}).encode()  # one line, ~12 KB
    got = read_file(tmp_path, "scan.json", content, max_line_bytes=100)
    assert [attributes for attributes, _ in got] == items


# --- bad input --------------------------------------------------------------------------------


def test_invalid_json_line_names_file_and_line(tmp_path: Path, chunk_size: int) -> None:
    content = jsonl({"Item": A}, {"Item": B}) + b'{"Item": {"id": {"S": "c"}} "x": 1}\n'
    assert read_error(tmp_path, "data/x.json", content) == (
        "data/x.json, line 3: invalid JSON: Expecting ',' delimiter"
    )


def test_invalid_json_in_a_pretty_printed_page_names_the_line(
    tmp_path: Path, chunk_size: int
) -> None:
    content = b'{\n  "Items": [\n    {"id": {"S": "a"}},\n    {"id": {"S": "b"}\n  ]\n}\n'
    assert read_error(tmp_path, "0001.json", content) == (
        "0001.json, line 5: invalid JSON: Expecting ',' delimiter"
    )


def test_truncated_pretty_printed_page(tmp_path: Path, chunk_size: int) -> None:
    content = b'{\n  "Items": [\n    {"id": {"S": "a"}},\n    {"id": {"S": "b'
    assert read_error(tmp_path, "0001.json", content) == (
        "0001.json, line 4: invalid JSON: the data ends in the middle of a value"
    )


def test_not_utf8_line(tmp_path: Path) -> None:
    content = jsonl({"Item": A}) + b'{"Item": {"id": {"S": "\xff"}}}\n'
    assert read_error(tmp_path, "x.json", content) == (
        "x.json, line 2: invalid JSON: not UTF-8 text (invalid start byte)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            jsonl({"Item": A}, {"Item": [1, 2]}),
            'line 2: "Item" is an array, not an object of attributes',
        ),
        (jsonl({"Items": [A, "b"]}), "line 1: Items[1] is a string, not an object of attributes"),
        (
            jsonl({"Item": A}, B),
            'line 2: expected an {"Item": {...}} object like the first one, '
            "found an object with keys id, n",
        ),
        (
            jsonl({"name": "plain json", "age": 3}),
            'line 1: not a DynamoDB item: expected an {"Item": {...}} line, a scan page '
            '{"Items": [...]} or an item of typed attributes, found an object with keys name, age',
        ),
        (
            jsonl({}),
            'line 1: not a DynamoDB item: expected an {"Item": {...}} line, a scan page '
            '{"Items": [...]} or an item of typed attributes, found an empty object',
        ),
        (
            b"[1, 2]",
            'line 1: not a DynamoDB item: expected an {"Item": {...}} line, a scan page '
            '{"Items": [...]} or an item of typed attributes, found a number',
        ),
        (b"id,name\n1,x\n", "line 1: not DynamoDB JSON: the data starts with 'id,name\\n1,x\\n'"),
    ],
)
def test_json_that_is_not_an_item(tmp_path: Path, content: bytes, message: str) -> None:
    assert read_error(tmp_path, "x.json", content) == f"x.json, {message}"


def test_over_long_line_is_refused(tmp_path: Path, chunk_size: int) -> None:
    content = jsonl({"Item": A}, {"Item": {"id": {"S": "x" * 200}}})
    assert read_error(tmp_path, "x.json", content, max_line_bytes=100) == (
        "x.json, line 2: the line is longer than 100 bytes, the limit for one item"
    )


def test_over_long_item_in_a_value_stream_is_refused(tmp_path: Path, chunk_size: int) -> None:
    content = json.dumps({"Items": [A, {"id": {"S": "x" * 300}}]}, indent=1).encode()
    assert read_error(tmp_path, "x.json", content, max_line_bytes=200) == (
        "x.json, line 8: a JSON value is longer than 200 bytes, the limit for one item"
    )


def test_decompressed_size_over_the_budget_is_refused(tmp_path: Path) -> None:
    content = gzip.compress(jsonl(*[{"Item": A}] * 100))  # 100 lines of 27 bytes
    assert read_error(tmp_path, "x.json.gz", content, max_decompressed_bytes=1000) == (
        "x.json.gz, line 1: the data is over the limit of 1000 bytes (once decompressed)"
    )


def test_corrupt_gzip_names_the_file(tmp_path: Path) -> None:
    good = gzip.compress(jsonl({"Item": A}), mtime=0)
    content = good[:10] + b"\xff" * 8 + good[18:]
    message = read_error(tmp_path, "x.json.gz", content)
    assert message.startswith("x.json.gz, line 1: corrupt gzip data (Error -3 while decompressing")


def test_gzip_with_a_bad_checksum_is_corrupt(tmp_path: Path) -> None:
    good = gzip.compress(jsonl({"Item": A}), mtime=0)
    content = good[:-8] + b"\0\0\0\0" + good[-4:]
    message = read_error(tmp_path, "x.json.gz", content)
    assert message.startswith("x.json.gz, line 1: corrupt gzip data (CRC check failed")


def test_truncated_gzip_names_the_file_and_the_line_reached(tmp_path: Path) -> None:
    lines = jsonl(
        *[{"Item": {"id": {"S": f"{index:06d}-{index * 7919 % 10007}"}}} for index in range(20_000)]
    )
    content = gzip.compress(lines, mtime=0)
    message = read_error(tmp_path, "x.json.gz", content[: len(content) // 2])
    reached = int(message.split(", line ")[1].split(":")[0])
    assert 1 < reached < 20_000
    assert message == (
        f"x.json.gz, line {reached}: the gzip data is truncated (it ends before its end marker)"
    )
