"""Write a deterministic demo DynamoDB S3 export of the eight demo tables into one zip.

The zip has the layout of real `DYNAMODB_JSON` exports (shared/FORMATS.md 1.1-1.4): per table an
`AWSDynamoDB/<ExportId>/` folder with `_started`, both manifests, their `.md5` files and gzip'd
JSON-lines data files, one of them an empty partition. Items are generated one at a time and
streamed into the zip, so memory stays flat whatever the size.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import struct
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, BinaryIO

from backend.samples.items import FACTORIES, INVALID_PUSH_EVERY

# Percent of all items per table; stock also takes whatever rounding leaves over.
SHARES: dict[str, int] = {
    "users": 10,
    "Groups": 1,
    "stock": 20,
    "stock_remarks": 15,
    "production": 10,
    "push_to_production": 14,
    "stock_transactions": 20,
    "undo_actions": 10,
}
MIN_PER_TABLE: dict[str, int] = {"Groups": 3}  # every other table gets at least 1
# The smallest total that leaves stock at least 1 item after the other tables' floors; at 10,
# stock_transactions' 20% already takes 2 next to the 3 groups and 1 each elsewhere.
MIN_ITEMS = 11
ITEMS_PER_FILE = 2000

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "demo-dynamodb-exports"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXPORT_START = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
_ZIP_DATE_TIME = (2025, 6, 30, 12, 0, 0)
# What AWS writes: no file name, mtime 0, XFL 0 and OS 0 (FAT), which Python's gzip would not.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00"
_LINES_PER_CHUNK = 512
_encode_item = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleSummary:
    """What `write_sample_export` wrote: items and deliberately invalid items per table."""

    counts: dict[str, int]
    invalid_items: dict[str, int]
    export_ids: dict[str, str]

    @property
    def total_items(self) -> int:
        return sum(self.counts.values())

    @property
    def total_invalid(self) -> int:
        return sum(self.invalid_items.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class _TableExport:
    table: str
    export_id: str
    start_ms: int
    end_ms: int
    export_ms: int
    table_id: str
    data_files: tuple[str, ...]  # sorted base32 names, without `.json.gz`
    file_counts: tuple[int, ...]  # items per data file, 0 for the empty partition


def plan_counts(items: int) -> dict[str, int]:
    """Split `items` over the eight demo tables by `SHARES`, each at least its minimum.

    Raise ValueError when `items` is below `MIN_ITEMS`.
    """
    if items < MIN_ITEMS:
        raise ValueError(
            f"items must be at least {MIN_ITEMS} so that every table gets an item, got {items}"
        )
    others = {
        table: max(MIN_PER_TABLE.get(table, 1), items * share // 100)
        for table, share in SHARES.items()
        if table != "stock"
    }
    stock = items - sum(others.values())
    return {table: stock if table == "stock" else others[table] for table in SHARES}


def write_sample_export(out: Path | BinaryIO, *, items: int, seed: int = 1) -> SampleSummary:
    """Write a demo export of `items` items in all to `out`, the same bytes for the same seed.

    A partly written file is removed if writing fails.
    """
    counts = plan_counts(items)
    if not isinstance(out, (str, os.PathLike)):
        return _write_zip(out, counts=counts, seed=seed)
    path = Path(out)
    stream = path.open("wb")
    try:
        with stream:
            return _write_zip(stream, counts=counts, seed=seed)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write_zip(stream: BinaryIO, *, counts: dict[str, int], seed: int) -> SampleSummary:
    # One Random for everything, drawn in a fixed order: the seed alone decides every byte.
    rng = random.Random(seed)
    exports = [
        _plan_table(rng, table=table, count=count, position=position)
        for position, (table, count) in enumerate(counts.items())
    ]
    with zipfile.ZipFile(stream, "w") as archive:
        # Sorted by ExportId, and within a folder the members are written in name order too.
        for export in sorted(exports, key=lambda export: export.export_id):
            _write_table(archive, rng, export=export, counts=counts)
    return SampleSummary(
        counts=dict(counts),
        invalid_items={
            table: count // INVALID_PUSH_EVERY if table == "push_to_production" else 0
            for table, count in counts.items()
        },
        export_ids={export.table: export.export_id for export in exports},
    )


def _plan_table(rng: random.Random, *, table: str, count: int, position: int) -> _TableExport:
    # Tables are exported a few minutes apart, as a script looping over them would.
    start_ms = _to_ms(_EXPORT_START + timedelta(minutes=7 * position)) + rng.randrange(60_000)
    file_total = max(2, 1 + count // ITEMS_PER_FILE)
    names = sorted("".join(rng.choices(_BASE32, k=26)) for _ in range(file_total))
    empty = rng.randrange(file_total)
    share, rest = divmod(count, file_total - 1)
    file_counts = []
    for index in range(file_total):
        filled = index - (index > empty)  # position among the non-empty files
        file_counts.append(0 if index == empty else share + (filled < rest))
    return _TableExport(
        table=table,
        export_id=f"{start_ms:014d}-{rng.getrandbits(32):08x}",
        start_ms=start_ms,
        end_ms=start_ms + 240_000 + rng.randrange(180_000) + count // 10,
        export_ms=(start_ms - 1000 - rng.randrange(4000)) // 1000 * 1000,
        table_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        data_files=tuple(names),
        file_counts=tuple(file_counts),
    )


def _write_table(
    archive: zipfile.ZipFile,
    rng: random.Random,
    *,
    export: _TableExport,
    counts: dict[str, int],
) -> None:
    prefix = f"AWSDynamoDB/{export.export_id}/"
    archive.writestr(_member(prefix + "_started"), b"")
    factory = FACTORIES[export.table]
    numbers = iter(range(1, counts[export.table] + 1))
    entries: list[str] = []
    billed = 0
    for name, file_count in zip(export.data_files, export.file_counts, strict=True):
        key = f"{prefix}data/{name}.json.gz"
        # Already compressed: stored, not deflated again.
        with archive.open(_member(key, zipfile.ZIP_STORED), "w") as member:
            gzip_member = _GzipMember(member)
            batch: list[str] = []
            for number in islice(numbers, file_count):
                batch.append(f'{{"Item":{_encode_item(factory(rng, number, counts))}}}\n')
                if len(batch) == _LINES_PER_CHUNK:
                    billed += gzip_member.write("".join(batch).encode())
                    batch.clear()
            billed += gzip_member.write("".join(batch).encode())
            digest = gzip_member.close()
        entry = {
            "itemCount": file_count,
            "md5Checksum": base64.b64encode(digest).decode("ascii"),
            "etag": f"{digest.hex()}-1",
            "dataFileS3Key": key,
        }
        entries.append(json.dumps(entry, separators=(",", ":")) + "\n")
    _write_manifest(archive, prefix + "manifest-files", "".join(entries).encode())
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{export.table}"
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{table_arn}/export/{export.export_id}",
        "startTime": _iso(export.start_ms),
        "endTime": _iso(export.end_ms),
        "tableArn": table_arn,
        "tableId": export.table_id,
        "exportTime": _iso(export.export_ms),
        "s3Bucket": BUCKET,
        "s3Prefix": None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": prefix + "manifest-files.json",
        "billedSizeBytes": billed,
        "itemCount": counts[export.table],
        "outputFormat": "DYNAMODB_JSON",
    }
    # Real summaries are one line with no trailing newline.
    summary_json = json.dumps(summary, separators=(",", ":"))
    _write_manifest(archive, prefix + "manifest-summary", summary_json.encode())


def _write_manifest(archive: zipfile.ZipFile, stem: str, content: bytes) -> None:
    archive.writestr(_member(stem + ".json"), content)
    digest = hashlib.md5(content, usedforsecurity=False).digest()
    archive.writestr(_member(stem + ".md5"), base64.b64encode(digest))


def _member(name: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
    info.compress_type = compress_type
    # Fixed Unix attributes: ZipInfo would otherwise record the writing platform.
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    return info


class _GzipMember:
    """Gzip bytes straight into an open zip member, keeping the MD5 of the compressed output."""

    def __init__(self, member: IO[bytes]) -> None:
        self._member = member
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._emit(_GZIP_HEADER)

    def write(self, content: bytes) -> int:
        """Compress `content` into the member; return its uncompressed size."""
        self._crc = zlib.crc32(content, self._crc)
        self._size += len(content)
        self._emit(self._compressor.compress(content))
        return len(content)

    def close(self) -> bytes:
        """Finish the gzip stream; return the binary MD5 of everything written."""
        self._emit(self._compressor.flush())
        self._emit(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        return self._md5.digest()

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._md5.update(chunk)
            self._member.write(chunk)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _iso(ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
