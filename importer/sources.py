"""Value objects the source side of the pipeline (archive → discover → read) hands on.

Everything after `read` sees only these shapes, never a zip, a path or a manifest (Zulip's rule:
convert the foreign format into one neutral shape first, then load).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Layout = Literal["s3-export", "dynamodump", "loose"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataFile:
    """One data file of a table, as named inside the source (zip member or relative path)."""

    path: str
    expected_items: int | None = None  # manifest-files.json itemCount
    md5_base64: str | None = None  # manifest-files.json md5Checksum (of the compressed bytes)
    missing: bool = False  # listed in the manifest but not present in the source


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSource:
    """One table found in the source, with its data files and what its manifests promise."""

    name: str
    root: str  # export root inside the source ("" for the top)
    layout: Layout
    export_id: str | None = None
    files: tuple[DataFile, ...] = ()
    manifest_item_count: int | None = None  # manifest-summary.json itemCount / schema ItemCount
    key_attributes: tuple[str, ...] = ()  # from a dynamodump schema.json KeySchema, HASH first
    output_format: str = "DYNAMODB_JSON"
    export_type: str = "FULL_EXPORT"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    """All tables found in one source, plus source-level warnings (ignored junk is not one)."""

    tables: tuple[TableSource, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceItem:
    """One item still in DynamoDB JSON (name → {"TAG": value}), with where it came from."""

    attributes: dict[str, Any] = field(hash=False)
    file: str
    line: int  # 1-based line of the item's start in the (decompressed) file


@dataclass(frozen=True, slots=True, kw_only=True)
class LineChunk:
    """Export lines of one file ({"Item": ...} each), not decoded yet, with their line numbers."""

    file: str
    first: int  # the number of lines[0]
    lines: list[bytes] = field(hash=False)
    numbers: list[int] | None = field(default=None, hash=False)  # when not first, first + 1, ...
