"""Tests for backend.samples.export and its `make_sample_export` command (no database needed)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.utils.dateparse import parse_datetime

from backend.samples.export import MIN_ITEMS, SampleSummary, plan_counts, write_sample_export
from importer.jsonvalue import dumps as exact_json_dumps
from importer.jsonvalue import to_json_value

TABLES = (
    "users",
    "Groups",
    "stock",
    "stock_remarks",
    "production",
    "push_to_production",
    "stock_transactions",
    "undo_actions",
)
MEMBER = re.compile(
    r"AWSDynamoDB/(?P<export_id>\d{14}-[0-9a-f]{8})/"
    r"(?P<rest>_started|manifest-(?:summary|files)\.(?:json|md5)|data/[a-z2-7]{26}\.json\.gz)"
)
SUMMARY_KEYS = [
    "version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportTime",
    "s3Bucket", "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId", "manifestFilesS3Key",
    "billedSizeBytes", "itemCount", "outputFormat",
]  # fmt: skip
# The empty partition AWS writes (FORMATS.md 1.1), and its md5Checksum in the pfeilbr sample.
AWS_EMPTY_GZIP = bytes.fromhex("1f8b080000000000000003000000000000000000")
AWS_EMPTY_MD5 = "OXDoJgXH0Qm7NI/JTp7swA=="
TAGS = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}
ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ISO_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
NAIVE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass(frozen=True, slots=True, kw_only=True)
class TableView:
    export_id: str
    summary_raw: bytes
    summary: dict[str, Any]
    entries: list[dict[str, Any]]
    members: dict[str, bytes]  # every member of the export folder, by name inside the folder
    items: list[dict[str, Any]]


def read_export(blob: bytes) -> dict[str, TableView]:
    """Open a generated zip and return each table's files, manifests and parsed items."""
    folders: dict[str, dict[str, bytes]] = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        for name in archive.namelist():
            match = MEMBER.fullmatch(name)
            assert match, name
            folders.setdefault(match["export_id"], {})[match["rest"]] = archive.read(name)
    tables = {}
    for export_id, members in folders.items():
        summary = json.loads(members["manifest-summary.json"])
        entries = [json.loads(line) for line in members["manifest-files.json"].splitlines()]
        items = []
        for name in sorted(members):
            if name.startswith("data/"):
                text = gzip.decompress(members[name]).decode()
                items += [json.loads(line) for line in text.splitlines()]
        tables[summary["tableArn"].rpartition(":table/")[2]] = TableView(
            export_id=export_id,
            summary_raw=members["manifest-summary.json"],
            summary=summary,
            entries=entries,
            members=members,
            items=[line["Item"] for line in items],
        )
    return tables


def export_bytes(*, items: int, seed: int = 1) -> tuple[SampleSummary, bytes]:
    buffer = io.BytesIO()
    summary = write_sample_export(buffer, items=items, seed=seed)
    return summary, buffer.getvalue()


@pytest.fixture(scope="module")
def small() -> tuple[SampleSummary, bytes]:
    return export_bytes(items=200)


@pytest.fixture(scope="module")
def medium() -> tuple[SampleSummary, bytes]:
    # Large enough for the 1% attributes, several data files per table and 11 invalid pushes.
    return export_bytes(items=20_000)


@pytest.fixture(scope="module")
def medium_tables(medium: tuple[SampleSummary, bytes]) -> dict[str, TableView]:
    return read_export(medium[1])


def test_plan_counts_for_10000() -> None:
    assert plan_counts(10_000) == {
        "users": 1000,
        "Groups": 100,
        "stock": 2000,
        "stock_remarks": 1500,
        "production": 1000,
        "push_to_production": 1400,
        "stock_transactions": 2000,
        "undo_actions": 1000,
    }


def test_plan_counts_at_the_minimum_and_below() -> None:
    assert MIN_ITEMS == 11
    assert plan_counts(11) == dict.fromkeys(TABLES, 1) | {"Groups": 3, "stock_transactions": 2}
    assert plan_counts(200)["stock"] == 39  # 20% plus what the Groups minimum and floors leave
    with pytest.raises(ValueError, match="at least 11 so that every table gets an item, got 10"):
        plan_counts(10)


def test_plan_counts_always_add_up() -> None:
    for items in range(MIN_ITEMS, 3000):
        counts = plan_counts(items)
        assert list(counts) == list(TABLES)
        assert sum(counts.values()) == items
        assert min(counts.values()) >= 1 and counts["Groups"] >= 3


def test_command_writes_the_same_zip_as_the_function(
    tmp_path: Path, medium: tuple[SampleSummary, bytes]
) -> None:
    out = tmp_path / "demo.zip"
    printed = io.StringIO()
    call_command("make_sample_export", "--out", str(out), "--items", "20000", stdout=printed)
    assert printed.getvalue() == f"Wrote {out}: 8 tables, 20000 items (11 invalid on purpose)\n"
    assert out.read_bytes() == medium[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--items", "10"],
            "--items must be at least 11 so that every table gets an item, got 10.",
        ),
        (["--items", "50", "--out", "/nonexistent/dir/demo.zip"], "Cannot write"),
    ],
)
def test_command_rejects_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("make_sample_export", "--out", str(tmp_path / "x.zip"), *args)
    assert not (tmp_path / "x.zip").exists()


def test_same_seed_same_bytes_other_seed_other_bytes(
    tmp_path: Path, small: tuple[SampleSummary, bytes]
) -> None:
    write_sample_export(tmp_path / "again.zip", items=200, seed=1)
    assert (tmp_path / "again.zip").read_bytes() == small[1]
    assert export_bytes(items=200, seed=2)[1] != small[1]


def test_member_names_order_and_zip_metadata(small: tuple[SampleSummary, bytes]) -> None:
    summary, blob = small
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {info.date_time for info in infos} == {(2025, 6, 30, 12, 0, 0)}
    folders: dict[str, list[str]] = {}
    for name in names:
        match = MEMBER.fullmatch(name)
        assert match, name
        folders.setdefault(match["export_id"], []).append(match["rest"])
    assert sorted(folders) == sorted(summary.export_ids.values())
    for rest in folders.values():
        data = [name for name in rest if name.startswith("data/")]
        assert len(data) == 2  # max(2, 1 + count // 2000) for these small tables
        assert [name for name in rest if not name.startswith("data/")] == [
            "_started",
            "manifest-files.json",
            "manifest-files.md5",
            "manifest-summary.json",
            "manifest-summary.md5",
        ]


def test_checksums_match(medium_tables: dict[str, TableView]) -> None:
    for view in medium_tables.values():
        for stem in ("manifest-summary", "manifest-files"):
            digest = hashlib.md5(view.members[f"{stem}.json"]).digest()
            assert view.members[f"{stem}.md5"] == base64.b64encode(digest)
            assert len(view.members[f"{stem}.md5"]) == 24
        for entry in view.entries:
            member = view.members[entry["dataFileS3Key"].split(f"{view.export_id}/")[1]]
            digest = hashlib.md5(member).digest()
            assert entry["md5Checksum"] == base64.b64encode(digest).decode()
            assert entry["etag"] == f"{digest.hex()}-1"
        assert view.members["_started"] == b""


def test_counts_agree_everywhere(
    medium: tuple[SampleSummary, bytes], medium_tables: dict[str, TableView]
) -> None:
    summary, tables = medium[0], medium_tables
    assert summary.counts == plan_counts(20_000)
    assert list(tables) == list(TABLES)
    for table, view in tables.items():
        assert view.summary["itemCount"] == summary.counts[table]
        assert sum(entry["itemCount"] for entry in view.entries) == summary.counts[table]
        assert len(view.items) == summary.counts[table]
        assert len(view.entries) == max(2, 1 + summary.counts[table] // 2000)
        for entry in view.entries:
            member = view.members[entry["dataFileS3Key"].split(f"{view.export_id}/")[1]]
            assert gzip.decompress(member).count(b"\n") == entry["itemCount"]


def test_every_table_has_an_aws_style_empty_partition(medium_tables: dict[str, TableView]) -> None:
    for view in medium_tables.values():
        empty = [entry for entry in view.entries if entry["itemCount"] == 0]
        assert len(empty) == 1
        assert empty[0]["md5Checksum"] == AWS_EMPTY_MD5
        assert view.members[empty[0]["dataFileS3Key"].split(f"{view.export_id}/")[1]] == (
            AWS_EMPTY_GZIP
        )


def test_manifests_have_the_real_shape(small: tuple[SampleSummary, bytes]) -> None:
    summary, blob = small
    for table, view in read_export(blob).items():
        assert list(view.summary) == SUMMARY_KEYS
        assert view.summary_raw == json.dumps(view.summary, separators=(",", ":")).encode()
        arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}"
        start = datetime.strptime(view.summary["startTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
        assert int(view.export_id[:14]) == round(start.timestamp() * 1000)
        assert view.export_id == summary.export_ids[table]
        assert view.summary["startTime"] < view.summary["endTime"]
        assert view.summary["exportTime"] <= view.summary["startTime"]
        assert view.summary["exportTime"].endswith(".000Z")
        assert view.summary | {"startTime": 0, "endTime": 0, "exportTime": 0, "tableId": 0} == {
            "version": "2020-06-30",
            "exportArn": f"{arn}/export/{view.export_id}",
            "startTime": 0,
            "endTime": 0,
            "tableArn": arn,
            "tableId": 0,
            "exportTime": 0,
            "s3Bucket": "demo-dynamodb-exports",
            "s3Prefix": None,
            "s3SseAlgorithm": "AES256",
            "s3SseKmsKeyId": None,
            "manifestFilesS3Key": f"AWSDynamoDB/{view.export_id}/manifest-files.json",
            "billedSizeBytes": sum(
                len(gzip.decompress(data))
                for name, data in view.members.items()
                if name.startswith("data/")
            ),
            "itemCount": summary.counts[table],
            "outputFormat": "DYNAMODB_JSON",
        }
        raw_lines = view.members["manifest-files.json"].split(b"\n")
        assert raw_lines[-1] == b"" and len(raw_lines) == len(view.entries) + 1
        for entry in view.entries:
            assert list(entry) == ["itemCount", "md5Checksum", "etag", "dataFileS3Key"]
            assert entry["dataFileS3Key"].startswith(f"AWSDynamoDB/{view.export_id}/data/")


def assert_attribute_value(value: Any) -> None:
    assert isinstance(value, dict) and len(value) == 1, value
    ((tag, raw),) = value.items()
    assert tag in TAGS
    if tag in {"S", "N", "B"}:
        assert isinstance(raw, str)
    elif tag in {"SS", "NS", "BS"}:
        assert raw and len(set(raw)) == len(raw) and all(isinstance(v, str) for v in raw)
    elif tag == "M":
        for element in raw.values():
            assert_attribute_value(element)
    elif tag == "L":
        for element in raw:
            assert_attribute_value(element)
    else:
        assert raw is True if tag == "NULL" else isinstance(raw, bool)
    if tag == "N":
        Decimal(raw)
    if tag in {"B", "BS"}:
        for encoded in [raw] if tag == "B" else raw:
            base64.b64decode(encoded, validate=True)


def test_data_lines_are_compact_items_of_single_tag_values(
    small: tuple[SampleSummary, bytes],
) -> None:
    for view in read_export(small[1]).values():
        for name, member in view.members.items():
            if not name.startswith("data/"):
                continue
            text = gzip.decompress(member).decode()
            assert text == "" or text.endswith("\n")
            for line in text.splitlines():
                parsed = json.loads(line)
                assert list(parsed) == ["Item"]
                assert line == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
                for value in parsed["Item"].values():
                    assert_attribute_value(value)


def values(view: TableView, name: str) -> list[dict[str, Any]]:
    return [item[name] for item in view.items if name in item]


def share(view: TableView, name: str) -> float:
    return len(values(view, name)) / len(view.items)


def test_the_mess_is_there(medium_tables: dict[str, TableView]) -> None:
    tables = medium_tables
    for table, attribute in [("stock", "createdAt"), ("users", "dateJoined")]:
        formats = Counter(
            tuple(bool(pattern.fullmatch(value["S"])) for pattern in (ISO_MS_Z, ISO_OFFSET, NAIVE))
            for value in values(tables[table], attribute)
        )
        # Every value in exactly one of the three formats, and each format in use.
        assert set(formats) == {(True, False, False), (False, True, False), (False, False, True)}
    member_counts = values(tables["Groups"], "memberCount")
    assert {"S", "N"} == {tag for value in member_counts for tag in value}
    assert all(value["S"].isdigit() for value in member_counts if "S" in value)
    assert any("S" in value for value in values(tables["stock"], "quantity"))
    # Frequencies are drawn, so they are checked as ranges around the intended share.
    assert 0.005 <= share(tables["stock"], "promoCode") <= 0.02
    assert 0.25 <= share(tables["stock"], "barcode") <= 0.35
    assert 0.55 <= share(tables["users"], "lastSeenAt") <= 0.65
    assert 0.75 <= share(tables["production"], "stockId") <= 0.85
    assert 0.85 <= share(tables["undo_actions"], "transactionId") <= 0.95
    assert any("snapshots" in value["M"] for value in values(tables["undo_actions"], "payload"))
    assert any(value["S"] == "" for value in values(tables["users"], "email"))
    key_orders = Counter(tuple(item) for item in tables["stock_remarks"].items)
    assert len(key_orders) > 1  # attribute order varies
    users = next(
        data for name, data in tables["users"].members.items() if name.startswith("data/") and data
    )
    assert "é".encode() in gzip.decompress(users)  # UTF-8 as is, not \u escapes


def test_references_resolve(medium_tables: dict[str, TableView]) -> None:
    def ids(table: str) -> set[str]:
        return {item["id"]["S"] for item in medium_tables[table].items}

    for table, attribute, target in [
        ("stock_remarks", "stockId", "stock"),
        ("production", "stockId", "stock"),
        ("stock_transactions", "stockId", "stock"),
        ("push_to_production", "productId", "production"),
        ("undo_actions", "transactionId", "stock_transactions"),
    ]:
        referenced = {value["S"] for value in values(medium_tables[table], attribute)}
        assert referenced and referenced <= ids(target)
    usernames = {value["S"] for value in values(medium_tables["users"], "username")}
    assert {value["S"] for value in values(medium_tables["push_to_production"], "pushedBy")} <= (
        usernames
    )


def python_value(value: dict[str, Any]) -> Any:
    ((tag, raw),) = value.items()
    if tag == "M":
        return {key: python_value(element) for key, element in raw.items()}
    if tag == "L":
        return [python_value(element) for element in raw]
    if tag == "NULL":
        return None
    if tag in {"N", "NS"}:
        return Decimal(raw) if tag == "N" else {Decimal(v) for v in raw}
    if tag in {"B", "BS"}:
        return base64.b64decode(raw) if tag == "B" else {base64.b64decode(v) for v in raw}
    return set(raw) if tag == "SS" else raw


def field_problem(field: models.Field[Any, Any], raw: dict[str, Any]) -> str | None:
    """Return why `raw` cannot go into `field` the way a name-matching importer would put it."""
    value = python_value(raw)
    if isinstance(field, models.JSONField):
        exact_json_dumps(to_json_value(value))
        return None
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.IntegerField):  # N, or a numeric string
        number = Decimal(value) if isinstance(value, str) else value
        if number != number.to_integral_value():
            return f"{value} is not an integer"
        value = int(number)
    elif isinstance(field, models.DateTimeField):
        if isinstance(value, Decimal):  # epoch milliseconds
            value = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        else:
            value = parse_datetime(value)
            assert value is not None, raw
        assert 2020 <= value.year <= 2025, raw
    try:
        field.clean(value, None)
    except ValidationError as exc:
        return str(exc.messages)
    return None


def normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def test_values_fit_the_demo_models_except_the_deliberately_invalid(
    medium: tuple[SampleSummary, bytes], medium_tables: dict[str, TableView]
) -> None:
    summary, tables = medium[0], medium_tables
    unmatched: dict[str, set[str]] = {}
    failing: dict[str, set[str]] = {}
    for table, view in tables.items():
        model = apps.get_model(settings.DYNAMODB_IMPORTER["TABLE_MODEL_MAP"][table])
        fields: dict[str, models.Field[Any, Any]] = {}
        for field in model._meta.concrete_fields:
            fields[normalise(field.name)] = fields[normalise(field.attname)] = field
        required = {
            field
            for field in model._meta.concrete_fields
            if not (field.null or field.has_default() or field.auto_created)
        }
        for unique in [field for field in model._meta.concrete_fields if field.unique]:
            seen = [
                item[name]
                for item in view.items
                for name in item
                if fields.get(normalise(name)) is unique
            ]
            assert len(seen) == len({json.dumps(v) for v in seen}) == len(view.items), unique
        for item in view.items:
            matched = {fields[normalise(name)] for name in item if normalise(name) in fields}
            assert required <= matched, (table, required - matched)
            unmatched.setdefault(table, set()).update(
                name for name in item if normalise(name) not in fields
            )
            for name, raw in item.items():
                if normalise(name) in fields and field_problem(fields[normalise(name)], raw):
                    failing.setdefault(table, set()).add(json.dumps(item["id"]))
    assert {table: names for table, names in unmatched.items() if names} == {"stock": {"promoCode"}}
    invalid_pushes = {
        json.dumps(item["id"])
        for item in tables["push_to_production"].items
        if item["quantity"] == {"N": "12.5"}
    }
    assert failing == {"push_to_production": invalid_pushes}
    assert len(invalid_pushes) == 11 == 2800 // 250
    assert summary.invalid_items == dict.fromkeys(TABLES, 0) | {"push_to_production": 11}
    assert summary.total_invalid == 11 and summary.total_items == 20_000
