"""Generate the benchmark's export: N deterministic items in the DynamoDB S3 export layout.

Items are produced one at a time from a seeded generator and streamed into gzip'd JSON-lines data
files (AWSDynamoDB/<ExportId>/data/*.json.gz plus both manifests), so memory stays flat whatever N.
The same pass can write the rows as CSV for the PostgreSQL COPY floor.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

TABLE = "bench"
EXPORT_ID = "01751270400000-b3e4c5d6"
ITEMS_PER_FILE = 25_000
COLUMNS = (
    "key",
    "quantity",
    "size_bytes",
    "price",
    "active",
    "created_at",
    "attributes",
    "tags",
    "description",
    "external_id",
)
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()
_COLOURS = ("red", "green", "blue", "black", "white", "orange")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchRow:
    """One item as Python values: the source of both its DynamoDB JSON and its CSV row."""

    key: str
    quantity: int
    size_bytes: int
    price: Decimal
    active: bool
    created_at: datetime
    attributes: dict[str, Any]
    tags: tuple[str, ...]
    description: str
    external_id: uuid.UUID

    def to_dynamodb(self) -> dict[str, Any]:
        """Return the item as a DynamoDB JSON attribute map, as an S3 export writes it."""
        return {
            "key": {"S": self.key},
            "quantity": {"N": str(self.quantity)},
            "size_bytes": {"N": str(self.size_bytes)},
            "price": {"N": str(self.price)},
            "active": {"BOOL": self.active},
            "created_at": {"S": self.created_at.isoformat().replace("+00:00", "Z")},
            "attributes": _dynamodb_value(self.attributes),
            "tags": {"SS": list(self.tags)},
            "description": {"S": self.description},
            "external_id": {"S": str(self.external_id)},
        }

    def to_csv(self) -> list[str]:
        """Return the row as CSV fields in COLUMNS order, already in the database's text forms."""
        return [
            self.key,
            str(self.quantity),
            str(self.size_bytes),
            str(self.price),
            "t" if self.active else "f",
            self.created_at.isoformat(),
            _encode(self.attributes),
            _encode(sorted(self.tags)),
            self.description,
            str(self.external_id),
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportSummary:
    """Where the export was written and how big it is."""

    root: Path
    items: int
    files: int
    gzip_bytes: int
    csv_path: Path | None


def generate_rows(count: int, *, seed: int = 20250630) -> Iterator[BenchRow]:
    """Yield `count` rows, the same ones for the same seed."""
    rng = random.Random(seed)
    for index in range(count):
        words = rng.sample(_WORDS, rng.randint(6, 24))
        yield BenchRow(
            key=f"item-{index:010d}",
            quantity=rng.randrange(0, 1_000_000),
            size_bytes=rng.randrange(2**32, 2**50),
            price=Decimal(rng.randrange(0, 10_000_000)).scaleb(-2),
            active=rng.random() < 0.7,
            created_at=_EPOCH + timedelta(seconds=rng.randrange(0, 5 * 365 * 86_400)),
            attributes={
                "colour": rng.choice(_COLOURS),
                "weight": rng.randrange(1, 5000),
                "dimensions": {"width": rng.randrange(1, 300), "height": rng.randrange(1, 300)},
                "fragile": rng.random() < 0.1,
            },
            tags=tuple(sorted(rng.sample(_WORDS, rng.randint(1, 4)))),
            description=" ".join(words).capitalize() + ".",
            external_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        )


def write_export(root: Path, *, items: int, csv_path: Path | None = None) -> ExportSummary:
    """Write `items` rows as a full DYNAMODB_JSON export under root; optionally also as CSV."""
    export = root / "AWSDynamoDB" / EXPORT_ID
    (export / "data").mkdir(parents=True, exist_ok=True)
    (export / "_started").write_bytes(b"")
    rows = generate_rows(items)
    file_count = max(1, -(-items // ITEMS_PER_FILE))
    manifest_lines = []
    gzip_bytes = 0
    csv_file: TextIO | None = csv_path.open("w", newline="", encoding="utf-8") if csv_path else None
    try:
        csv_writer = csv.writer(csv_file) if csv_file else None
        for index in range(file_count):
            name = f"data/{index:05d}-{EXPORT_ID[-8:]}.json.gz"
            written = 0
            # mtime=0: the same items give the same bytes (and md5) on every run.
            with gzip.GzipFile(export / name, "wb", compresslevel=6, mtime=0) as stream:
                for row in _take(rows, ITEMS_PER_FILE):
                    stream.write((_encode({"Item": row.to_dynamodb()}) + "\n").encode())
                    if csv_writer:
                        csv_writer.writerow(row.to_csv())
                    written += 1
            raw_md5, size = _md5_and_size(export / name)
            gzip_bytes += size
            manifest_lines.append(
                _encode(
                    {
                        "itemCount": written,
                        "md5Checksum": base64.b64encode(raw_md5).decode(),
                        "etag": raw_md5.hex() + "-1",
                        "dataFileS3Key": f"AWSDynamoDB/{EXPORT_ID}/{name}",
                    }
                )
            )
    finally:
        if csv_file:
            csv_file.close()
    (export / "manifest-files.json").write_text("\n".join(manifest_lines) + "\n")
    (export / "manifest-summary.json").write_text(_encode(_summary(items)))
    return ExportSummary(
        root=root, items=items, files=file_count, gzip_bytes=gzip_bytes, csv_path=csv_path
    )


def iter_export_items(root: Path, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the DynamoDB JSON attribute maps of the export under root, parsed with json."""
    for path in sorted(root.glob("AWSDynamoDB/*/data/*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if limit is not None and limit <= 0:
                    return
                yield json.loads(line)["Item"]
                if limit is not None:
                    limit -= 1


def iter_export_lines(root: Path) -> Iterator[bytes]:
    """Yield the raw JSON lines of the export under root (parsing left to the caller)."""
    for path in sorted(root.glob("AWSDynamoDB/*/data/*.json.gz")):
        with gzip.open(path, "rb") as lines:
            yield from lines


def _dynamodb_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {name: _dynamodb_value(item) for name, item in value.items()}}
    return {"S": str(value)}


def _take(rows: Iterator[BenchRow], count: int) -> Iterator[BenchRow]:
    for _ in range(count):
        row = next(rows, None)
        if row is None:
            return
        yield row


def _md5_and_size(path: Path) -> tuple[bytes, int]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.digest(), size


def _summary(items: int) -> dict[str, Any]:
    table_arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE}"
    return {
        "version": "2020-06-30",
        "exportArn": f"{table_arn}/export/{EXPORT_ID}",
        "startTime": "2025-06-30T09:00:00.000Z",
        "endTime": "2025-06-30T09:05:00.000Z",
        "tableArn": table_arn,
        "tableId": "00000000-0000-4000-8000-000000000b3e",
        "exportTime": "2025-06-30T09:00:00.000Z",
        "s3Bucket": "bench-exports",
        "s3Prefix": None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"AWSDynamoDB/{EXPORT_ID}/manifest-files.json",
        "billedSizeBytes": 0,
        "itemCount": items,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
