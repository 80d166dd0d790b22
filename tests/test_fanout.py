"""Profiling a table's data files in worker processes gives exactly the one-pass profile.

The fan-out forks only a single-threaded process (importer/fanout.py), and the test session is
not one once a live server has started; so each check runs in a fresh Python process of its own.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from backend.samples.export import write_sample_export
from tests.conftest import REPO
from tests.exports import write_export

PROFILE = """
import json, sys
from importer import fanout
from importer.archive import open_source
from importer.discover import discover
from importer.errors import ReadError

fanout.MIN_PARALLEL_BYTES = 0
assert fanout._may_fork()  # the pool is really used
limits = fanout.Limits(max_line_bytes=8 * 1024**2, max_decompressed_bytes=64 * 1024**3,
                       max_members=100_000, max_uncompressed_bytes=64 * 1024**3,
                       max_compression_ratio=250)
path, processes = sys.argv[1], int(sys.argv[2])
try:
    with open_source(path) as tree:
        result = {
            table.name: fanout.profile_files(
                tree, table.name, table.files, limits=limits, processes=processes
            ).build().to_json()
            for table in discover(tree).tables
        }
except ReadError as error:
    result = {"error": [error.file, error.line, error.reason]}
print(json.dumps(result))
"""


def profiles(path: Path, processes: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", PROFILE, str(path), str(processes)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def test_worker_profiles_merge_into_the_one_pass_profile(tmp_path):
    sample = tmp_path / "sample.zip"
    write_sample_export(sample, items=20000, seed=5)
    one_pass = profiles(sample, processes=1)
    assert one_pass["stock"]["items"] == 4000
    assert profiles(sample, processes=2) == one_pass
    assert profiles(sample, processes=3) == one_pass


def test_a_repeated_key_across_files_is_not_unique(tmp_path):
    items = [{"id": {"S": f"i{n}"}, "n": {"N": str(n)}} for n in range(30)]
    items[29]["id"] = {"S": "i0"}  # lands in the last file; "i0" is in the first
    write_export(tmp_path, "things", items, files=3)
    identifier, number = profiles(tmp_path, processes=3)["things"]["attributes"]
    assert (identifier["name"], identifier["unique"], identifier["present"]) == ("id", False, 30)
    assert (number["unique"], number["number_min"], number["number_max"]) == (True, "0", "29")


def test_a_damaged_file_in_a_worker_is_a_read_error_naming_file_and_line(tmp_path):
    export = write_export(tmp_path, "things", [{"id": {"S": f"i{n}"}} for n in range(10)], files=2)
    second = sorted((export / "data").iterdir())[1]
    lines = gzip.decompress(second.read_bytes()).split(b"\n")
    lines[2] = b'{"Item": {"id": {"S": "broken"'
    second.write_bytes(gzip.compress(b"\n".join(lines)))
    file, line, reason = profiles(tmp_path, processes=2)["error"]
    assert (file, line) == (f"AWSDynamoDB/01700000000000-0a1b2c3d/data/{second.name}", 3)
    assert reason == "invalid JSON: Expecting ',' delimiter"


ENCODE = """
import json, sys
import django
django.setup()
from importer import fanout
from importer.archive import open_source
from importer.coerce import RowCoercer
from importer.conf import get_settings
from importer.encode import LineEncoder
from importer.run import _limits, analyse
from tests.test_fastpath import reading_mapping

fanout.MIN_PARALLEL_BYTES = 0
assert fanout._may_fork()  # the pool is really used
with open_source(sys.argv[1]) as tree:
    (table,) = analyse(tree).tables
    coercer = RowCoercer(reading_mapping(), key_types=table.key_types)
    columns = [plan.model_field for plan in coercer.field_plans]
    encoder = LineEncoder.build(coercer, columns=columns, naive_timezone="UTC", using="default")
    limits = _limits(get_settings())
    pooled = list(fanout.encode_files(
        tree, table.source.files, encoder=encoder, limits=limits, processes=2
    ))
    fanout._set_encoder(encoder)
    alone = [fanout._encode_file(str(tree.path), f, limits) for f in table.source.files]
print(json.dumps({
    "same": pooled == alone,
    "files": len(pooled),
    "lines": sum(len(part.numbers) for part in pooled),
    "handed_back": sum(text is None for part in pooled for text in part.texts),
}))
"""


def test_worker_processes_encode_exactly_what_the_lane_encodes_alone(tmp_path):
    from tests.test_fastpath import BAD_READINGS, READINGS

    write_export(tmp_path, "readings", READINGS + BAD_READINGS, files=4)
    completed = subprocess.run(
        [sys.executable, "-c", ENCODE, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert json.loads(completed.stdout) == {
        "same": True,
        "files": 4,
        "lines": 1214,
        "handed_back": 13,
    }
