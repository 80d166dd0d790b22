"""Results of one benchmark run: the machine, the measurements, the targets, as markdown.

`render_run` gives the section one run prints; `update_docs` puts it into docs/benchmarks.md,
replacing the section of an earlier run with the same item count and keeping the others.
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import django

RSS_TARGET_MB = 250


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One timed import (or COPY) in its own process: items, wall seconds, peak RSS."""

    name: str
    database: str
    items: int
    seconds: float
    peak_rss_mb: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodeResult:
    """Decode-only throughput of boto3's TypeDeserializer and of deserialize_item."""

    items: int
    boto3_seconds: float
    ours_seconds: float
    boto3_line_seconds: float
    ours_line_seconds: float
    agree: bool
    peak_rss_mb: float

    @property
    def speedup(self) -> float:
        return self.boto3_seconds / self.ours_seconds if self.ours_seconds else 0.0

    @property
    def line_speedup(self) -> float:
        return self.boto3_line_seconds / self.ours_line_seconds if self.ours_line_seconds else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadResult:
    """A big zip streamed to a real web server: the server process's memory around it."""

    mib: float
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """Everything one `bench/run.py` run measured."""

    items: int
    files: int
    gzip_bytes: int
    command: str
    machine: tuple[tuple[str, str], ...]
    measurements: tuple[Measurement, ...]
    decode: DecodeResult | None
    upload: UploadResult | None = None

    def find(self, name: str, database: str) -> Measurement | None:
        return next(
            (m for m in self.measurements if m.name == name and m.database == database), None
        )


def describe_machine(*, postgres_version: str | None) -> tuple[tuple[str, str], ...]:
    """Return the machine's CPU, cores, RAM, OS and the software versions, as label/value pairs."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    mem_kb = _proc_field("/proc/meminfo", "MemTotal").split()[0] or "0"
    return (
        ("Date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("CPU", cpu),
        ("Cores", str(os.cpu_count())),
        ("RAM", f"{int(mem_kb) / 1024**2:.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Django", django.get_version()),
        ("PostgreSQL server", postgres_version or "not measured"),
        ("SQLite", sqlite3.sqlite_version),
    )


def render_run(result: RunResult) -> str:
    """Render one run as markdown: command, machine, results, ratios, decode, targets."""
    lines = [
        f"### {result.items:,} items",
        "",
        f"`{result.command}` — {result.files} data files, "
        f"{result.gzip_bytes / 1024**2:.1f} MiB of gzip.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in result.machine),
        "",
        "| measurement | database | items | wall s | items/s | peak RSS MB | note |",
        "|---|---|--:|--:|--:|--:|---|",
        *(
            f"| {m.name} | {m.database} | {m.items:,} | {m.seconds:.2f} | {m.rate:,.0f} | "
            f"{m.peak_rss_mb:.0f} | {m.note} |"
            for m in result.measurements
        ),
        "",
        *_ratios(result),
        *_decode(result.decode),
        *_upload(result.upload),
        *_targets(result),
    ]
    return "\n".join(lines) + "\n"


def update_docs(path: Path, *, header: str, result: RunResult) -> None:
    """Write `header` and every run's section to `path`, this run replacing one of equal size."""
    sections: dict[int, str] = {}
    if path.exists():
        pattern = r"<!-- bench:items=(\d+) -->\n(.*?)<!-- /bench -->"
        for match in re.finditer(pattern, path.read_text(encoding="utf-8"), re.S):
            sections[int(match.group(1))] = match.group(2)
    sections[result.items] = render_run(result)
    body = "".join(
        f"<!-- bench:items={items} -->\n{sections[items]}<!-- /bench -->\n\n"
        for items in sorted(sections)
    )
    path.write_text(header.rstrip() + "\n\n" + body.rstrip() + "\n", encoding="utf-8")


def _ratios(result: RunResult) -> list[str]:
    rows = []
    for database in ("PostgreSQL", "SQLite"):
        importer = result.find("importer", database)
        seed = result.find("seed guide", database)
        if importer and seed and seed.rate:
            rows.append(
                f"| importer / seed guide ({database}) | {importer.rate / seed.rate:.1f}× faster |"
            )
    importer = result.find("importer", "PostgreSQL")
    floor = result.find("COPY floor", "PostgreSQL")
    if importer and floor and importer.rate:
        rows.append(
            f"| COPY floor / importer (PostgreSQL) | importer is {floor.rate / importer.rate:.1f}× "
            "slower than the floor |"
        )
    if not rows:
        return []
    return ["| ratio | value |", "|---|---|", *rows, ""]


def _decode(decode: DecodeResult | None) -> list[str]:
    if decode is None:
        return []
    return [
        "Decode: DynamoDB JSON to exact Python values (Decimal, set, bytes). *Decode only*: the "
        "items already parsed with `json.loads`, parsing timed in neither. *From the line*: "
        "`json.loads` + boto3 against `orjson.loads` + ours, from the export line's bytes.",
        "",
        "| decoder | items | decode only s | items/s | from the line s | items/s |",
        "|---|--:|--:|--:|--:|--:|",
        f"| boto3 `TypeDeserializer` | {decode.items:,} | {decode.boto3_seconds:.2f} | "
        f"{decode.items / decode.boto3_seconds:,.0f} | {decode.boto3_line_seconds:.2f} | "
        f"{decode.items / decode.boto3_line_seconds:,.0f} |",
        f"| `importer.deserialize.deserialize_item` | {decode.items:,} | "
        f"{decode.ours_seconds:.2f} | {decode.items / decode.ours_seconds:,.0f} | "
        f"{decode.ours_line_seconds:.2f} | {decode.items / decode.ours_line_seconds:,.0f} |",
        "",
        f"deserialize_item is {decode.speedup:.2f}× boto3 (decode only), "
        f"{decode.line_speedup:.2f}× from the line"
        + ("" if decode.agree else " (WARNING: the two decoders' results differ)")
        + ".",
        "",
    ]


def _upload(upload: UploadResult | None) -> list[str]:
    if upload is None:
        return []
    return [
        f"Upload: a {upload.mib:,.0f} MiB zip streamed to `manage.py runserver` as the upload "
        f"form's POST (bench/upload.py), {upload.seconds:.1f} s. The web process's resident "
        f"memory: {upload.rss_before_mb:.1f} MB before, {upload.rss_peak_mb:.1f} MB at its peak "
        f"during the upload, {upload.rss_after_mb:.1f} MB after "
        f"(+{upload.growth_mb:.1f} MB).",
        "",
    ]


def _targets(result: RunResult) -> list[str]:
    pg = result.find("importer", "PostgreSQL")
    seed = result.find("seed guide", "PostgreSQL")
    floor = result.find("COPY floor", "PostgreSQL")
    decode = result.decode
    rows: list[tuple[str, str, bool | None]] = []
    if pg:
        rows.append(
            ("PostgreSQL end to end ≥ 50,000 items/s", f"{pg.rate:,.0f}/s", pg.rate >= 50_000)
        )
        if floor:
            times = floor.rate / pg.rate
            rows.append(("within 3× of the COPY floor", f"{times:.1f}×", times <= 3))
        if seed:
            times = pg.rate / seed.rate
            rows.append(("≥ 20× the seed guide's approach", f"{times:.1f}×", times >= 20))
        rows.append(
            (
                f"peak RSS ≤ {RSS_TARGET_MB} MB (importer, PostgreSQL)",
                f"{pg.peak_rss_mb:.0f} MB",
                pg.peak_rss_mb <= RSS_TARGET_MB,
            )
        )
    if decode:
        rows.append(
            (
                "decode ≥ 3× boto3's TypeDeserializer",
                f"{decode.speedup:.2f}× (from the line {decode.line_speedup:.2f}×)",
                decode.speedup >= 3,
            )
        )
    rows.append(("same RSS for 5M items (flat)", "see the 5,000,000-item section", None))
    if result.upload is not None:
        grows = result.upload.growth_mb
        rows.append(
            (
                f"uploading a {result.upload.mib / 1024:.0f} GB zip does not grow the web process",
                f"+{grows:.1f} MB",
                grows < 10,
            )
        )
    scale = "" if result.items == 1_000_000 else " (the targets are set for 1,000,000 items)"
    verdict = {True: "met", False: "**not met**", None: "—"}
    return [
        f"Targets from issue 4{scale}:",
        "",
        "| target | measured | met? |",
        "|---|--:|---|",
        *(f"| {target} | {value} | {verdict[met]} |" for target, value, met in rows),
        "",
    ]


def _proc_field(path: str, name: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return ""
