"""One measurement, run in a child process: `python -m bench.measure KIND ... --result FILE`.

Each kind times only its import (or decode) phase and writes {"items": n, "seconds": s, ...} as
JSON to FILE; bench/run.py reads the child's peak RSS from os.wait4. Kinds:

- seed: the seed guide's approach, one Model.objects.create per item in one transaction;
- importer: `manage.py import_dynamodb --data-dir ... --map bench=benchapp.Row` (call_command);
- copy: PostgreSQL COPY of the rows already converted to CSV (the floor);
- decode: boto3's TypeDeserializer against importer.deserialize.deserialize_item.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import resource
import time
from pathlib import Path
from typing import Any

from bench.export import COLUMNS, TABLE, iter_export_items, iter_export_lines

# Small chunks: holding 10,000 parsed items (plus their results) alive makes the cyclic GC's
# passes cost both decoders about half their speed, an artefact of the harness, not of decoding.
DECODE_CHUNK = 1_000


def naive_value(value: dict[str, Any]) -> Any:
    """Convert one DynamoDB JSON value as the seed guide describes: S→str, N→int/float, ..."""
    ((tag, payload),) = value.items()
    if tag == "N":
        return float(payload) if any(c in payload for c in ".eE") else int(payload)
    if tag == "M":
        return {name: naive_value(item) for name, item in payload.items()}
    if tag == "L":
        return [naive_value(item) for item in payload]
    if tag == "NS":
        return [naive_value({"N": item}) for item in payload]
    if tag == "NULL":
        return None
    return payload  # S, BOOL, SS (as a list), B (left as base64 text)


def measure_seed(data_dir: Path, *, limit: int) -> dict[str, Any]:
    """Create one row per item with Model.objects.create inside one transaction.atomic()."""
    import django

    django.setup()
    from django.db import transaction

    from bench.benchapp.models import Row

    count = 0
    started = time.perf_counter()
    with transaction.atomic():
        for item in iter_export_items(data_dir, limit=limit):
            Row.objects.create(**{name: naive_value(value) for name, value in item.items()})
            count += 1
    seconds = time.perf_counter() - started
    return {"items": count, "seconds": seconds, "rows": Row.objects.count()}


def measure_importer(data_dir: Path) -> dict[str, Any]:
    """Run the import_dynamodb management command into the bench model and time it."""
    import django

    django.setup()
    from django.core.management import call_command

    from bench.benchapp.models import Row

    output = io.StringIO()
    started = time.perf_counter()
    call_command(
        "import_dynamodb",
        "--data-dir",
        str(data_dir),
        "--map",
        f"{TABLE}=benchapp.Row",
        "--no-progress",
        stdout=output,
        stderr=output,
    )
    seconds = time.perf_counter() - started
    rows = Row.objects.count()
    text = output.getvalue()
    # "Done in 23.4s: ..." times the load; the rest of the command is discovery and analysis.
    load = re.search(r"^Done in ([0-9.]+)s:", text, re.MULTILINE)
    return {
        "items": rows,
        "seconds": seconds,
        "rows": rows,
        "load_seconds": float(load.group(1)) if load else None,
        # The analysis's worker processes (importer/fanout.py): the largest one's peak.
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "output": text[-2000:],
    }


def measure_copy(csv_path: Path, *, dsn: str) -> dict[str, Any]:
    """COPY the prepared CSV into benchapp_row in one transaction; time the COPY and commit."""
    import psycopg

    statement = f"COPY benchapp_row ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv)"
    with psycopg.connect(dsn) as connection:
        started = time.perf_counter()
        with connection.cursor() as cursor, csv_path.open("rb") as source:
            with cursor.copy(statement) as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
        connection.commit()
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM benchapp_row")
            (rows,) = cursor.fetchone() or (0,)
    return {"items": rows, "seconds": seconds, "rows": rows}


def measure_decode(data_dir: Path) -> dict[str, Any]:
    """Time both decoders over every item: from the export line, and on items parsed beforehand."""
    import orjson
    from boto3.dynamodb.types import TypeDeserializer

    from importer.deserialize import deserialize_item

    boto3_value = TypeDeserializer().deserialize
    boto3_seconds = ours_seconds = 0.0
    boto3_line_seconds = ours_line_seconds = 0.0
    count = 0
    agree = True
    lines = iter_export_lines(data_dir)
    while raw := _take(lines, DECODE_CHUNK):
        # From the export line: what a script with boto3 does, and what our generic path does.
        started = time.perf_counter()
        for line in raw:
            {k: boto3_value(v) for k, v in json.loads(line)["Item"].items()}  # (no B values)
        boto3_line_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for line in raw:
            deserialize_item(orjson.loads(line)["Item"])
        ours_line_seconds += time.perf_counter() - started
        chunk = [json.loads(line)["Item"] for line in raw]
        # boto3 expects B values as bytes (botocore decodes base64 first); give it them so.
        boto3_chunk = [_bytes_for_boto3(item) for item in chunk]
        started = time.perf_counter()
        boto3_items = [{k: boto3_value(v) for k, v in item.items()} for item in boto3_chunk]
        boto3_seconds += time.perf_counter() - started
        started = time.perf_counter()
        our_items = [deserialize_item(item) for item in chunk]
        ours_seconds += time.perf_counter() - started
        if count == 0:
            agree = boto3_items[:100] == our_items[:100]
        count += len(chunk)
    return {
        "items": count,
        "boto3_seconds": boto3_seconds,
        "ours_seconds": ours_seconds,
        "boto3_line_seconds": boto3_line_seconds,
        "ours_line_seconds": ours_line_seconds,
        "agree": agree,
    }


def _bytes_for_boto3(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _decode_binary(value) for name, value in item.items()}


def _decode_binary(value: dict[str, Any]) -> dict[str, Any]:
    ((tag, payload),) = value.items()
    if tag == "B":
        return {"B": base64.b64decode(payload)}
    if tag == "BS":
        return {"BS": [base64.b64decode(item) for item in payload]}
    if tag == "M":
        return {"M": _bytes_for_boto3(payload)}
    if tag == "L":
        return {"L": [_decode_binary(item) for item in payload]}
    return value


def _take(lines: Any, count: int) -> list[bytes]:
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == count:
            break
    return chunk


def main() -> None:
    """Parse the child's arguments, run one measurement, write its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("seed", "importer", "copy", "decode"))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--dsn", default="")
    args = parser.parse_args()
    if args.kind == "seed":
        result = measure_seed(args.data_dir, limit=args.limit)
    elif args.kind == "importer":
        result = measure_importer(args.data_dir)
    elif args.kind == "copy":
        result = measure_copy(args.csv, dsn=args.dsn)
    else:
        result = measure_decode(args.data_dir)
    args.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
