"""Write small real DynamoDB exports (S3 export layout) for tests, from DynamoDB JSON items."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

EXPORT_ID = "01700000000000-0a1b2c3d"


def write_export(
    root: Path,
    table: str,
    items: list[dict[str, Any]],
    *,
    export_id: str = EXPORT_ID,
    files: int = 1,
) -> Path:
    """Write `items` as a full DYNAMODB_JSON export of `table` under root/AWSDynamoDB/<id>/."""
    export = root / "AWSDynamoDB" / export_id
    (export / "data").mkdir(parents=True, exist_ok=True)
    (export / "_started").write_bytes(b"")
    manifest_lines = []
    for index in range(files):
        chunk = items[index::files]
        body = "".join(json.dumps({"Item": item}, separators=(",", ":")) + "\n" for item in chunk)
        name = f"data/file{index:02d}{export_id[-4:]}.json.gz"
        raw = gzip.compress(body.encode(), mtime=0)
        (export / name).write_bytes(raw)
        manifest_lines.append(
            json.dumps(
                {
                    "itemCount": len(chunk),
                    "md5Checksum": base64.b64encode(hashlib.md5(raw).digest()).decode(),
                    "etag": hashlib.md5(raw).hexdigest() + "-1",
                    "dataFileS3Key": f"AWSDynamoDB/{export_id}/{name}",
                },
                separators=(",", ":"),
            )
        )
    (export / "manifest-files.json").write_text("\n".join(manifest_lines) + "\n")
    summary = {
        "version": "2020-06-30",
        "exportArn": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}/export/{export_id}",
        "startTime": "2023-11-14T22:13:20.000Z",
        "endTime": "2023-11-14T22:20:00.000Z",
        "tableArn": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}",
        "tableId": "00000000-0000-4000-8000-000000000000",
        "exportTime": "2023-11-14T22:13:20.000Z",
        "s3Bucket": "bucket",
        "s3Prefix": None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": 0,
        "itemCount": len(items),
        "outputFormat": "DYNAMODB_JSON",
    }
    (export / "manifest-summary.json").write_text(json.dumps(summary, separators=(",", ":")))
    return export


def promise_items(export: Path, count: int) -> None:
    """Make both manifests of a one-file export promise `count` items, as a cut-off file leaves them.

    The data file and its MD5 stay as they are, so only the item count disagrees with the data.
    """
    summary_path = export / "manifest-summary.json"
    summary = json.loads(summary_path.read_text())
    summary["itemCount"] = count
    summary_path.write_text(json.dumps(summary, separators=(",", ":")))
    files_path = export / "manifest-files.json"
    (entry,) = [json.loads(line) for line in files_path.read_text().splitlines()]
    entry["itemCount"] = count
    files_path.write_text(json.dumps(entry, separators=(",", ":")) + "\n")
