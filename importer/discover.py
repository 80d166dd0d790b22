"""Find the DynamoDB tables in a source tree: S3 exports, dynamodump backups and loose data files.

Layouts are recognised wherever they sit (any prefix depth, or zipped from inside the export
folder). Manifests are cross-checked here (listed files, MD5, item counts); items are not read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from importer.archive import SourceTree
from importer.errors import SourceError
from importer.sources import DataFile, Discovery, TableSource

SUMMARY = "manifest-summary.json"
FILE_LIST = "manifest-files.json"
SCHEMA = "schema.json"

_JUNK_NAMES = frozenset({".DS_Store", "_started"})
_JUNK_SUFFIXES = (".md5", ".checksum")
_DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".ion")
_DATA_SUFFIXES_GZ = tuple(suffix + ".gz" for suffix in _DATA_SUFFIXES)
_MAX_SUMMARY_BYTES = 1024**2  # a real summary is under 1 KB; more means it is not one
_MAX_FILE_LIST_LINE = 64 * 1024
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


def is_junk(name: str) -> bool:
    """Say whether a path is OS or export litter that is ignored silently."""
    parts = name.split("/")
    base = parts[-1]
    return (
        "__MACOSX" in parts
        or base.startswith("._")
        or base in _JUNK_NAMES
        or base.endswith(_JUNK_SUFFIXES)
    )


def is_data_name(name: str) -> bool:
    """Say whether a path is named like a data file (.json, .jsonl, .ndjson, .ion, or .gz of one)."""
    return name.endswith(_DATA_SUFFIXES) or name.endswith(_DATA_SUFFIXES_GZ)


def may_hold_export(names: Iterable[str]) -> bool:
    """Say from the names alone whether a tree can hold a table: some data or manifest file."""
    return any(is_data_name(name) for name in names if not is_junk(name))


def no_export_message(label: str) -> str:
    """What a source without any table is told."""
    return (
        f"no DynamoDB export found in {label}: expected "
        "AWSDynamoDB/<ExportId>/manifest-summary.json, a dynamodump <table>/schema.json, "
        "or data files"
    )


def discover(tree: SourceTree) -> Discovery:
    """Return every table found in the tree, sorted by table name (any case) then export id."""
    names = [name for name in tree.names() if not is_junk(name)]
    scan = _Scan(tree=tree, names=names, known=frozenset(names))
    export_roots = [_parent(name) for name in names if _base(name) == SUMMARY]
    dump_roots = _dump_roots(scan, export_roots)
    roots = frozenset(export_roots) | frozenset(dump_roots)
    scan.owners = {name: _owner(name, roots) for name in names}
    tables = [_s3_export(scan, root) for root in export_roots]
    tables += [_dump(scan, root, schema) for root, schema in dump_roots.items()]
    tables += _loose_tables(scan, export_roots)
    if not tables:
        raise SourceError(no_export_message(tree.label))
    _refuse_repeated_tables(tables, tree.label)
    ignored = [name for name in names if name not in scan.used]
    if ignored:
        shown = ", ".join(ignored[:5]) + (", ..." if len(ignored) > 5 else "")
        scan.warnings.append(f"ignored {len(ignored)} file(s) that are not DynamoDB data: {shown}")
    tables.sort(
        key=lambda table: (table.name.casefold(), table.name, table.export_id or "", table.root)
    )
    return Discovery(tables=tuple(tables), warnings=tuple(scan.warnings))


def _refuse_repeated_tables(tables: list[TableSource], label: str) -> None:
    # Two exports of one table (two snapshots, or a dump beside an export) would be merged into
    # one import with every item twice; which snapshot wins is the user's call, not ours.
    places: dict[str, list[str]] = {}
    for table in tables:
        places.setdefault(table.name, []).append(table.export_id or table.root or "(top)")
    repeated = {name: where for name, where in places.items() if len(where) > 1}
    if repeated:
        detail = "; ".join(
            f"{name} in {', '.join(where)}" for name, where in sorted(repeated.items())
        )
        raise SourceError(
            f"{label} holds more than one export of the same table ({detail}): "
            "keep one export per table and try again"
        )


@dataclass(kw_only=True)
class _Scan:
    """The walk's shared state: the tree, its useful names, roots, and what has been claimed."""

    tree: SourceTree
    names: list[str]
    known: frozenset[str]
    owners: dict[str, str | None] = field(default_factory=dict)  # name → deepest root holding it
    used: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def owned(self, root: str) -> list[str]:
        """Return the names whose deepest enclosing export or dump root is `root`."""
        return [name for name in self.names if self.owners[name] == root]


# --- S3 exports -----------------------------------------------------------------------------


def _s3_export(scan: _Scan, root: str) -> TableSource:
    summary_path = _join(root, SUMMARY)
    summary = _read_summary(scan.tree, summary_path)
    scan.used.add(summary_path)
    warnings: list[str] = []
    item_count = summary.get("itemCount")
    if item_count is not None and not _is_int(item_count):
        warnings.append(f"{summary_path}: itemCount {item_count!r} is not a number; ignored")
        item_count = None
    owned = scan.owned(root)
    in_data = [
        name for name in owned if name.startswith(_join(root, "data/")) and is_data_name(name)
    ]
    list_path = _join(root, FILE_LIST)
    entries = None
    if list_path in scan.known:
        scan.used.add(list_path)
        entries = _read_file_list(scan.tree, list_path, warnings)
    if entries is None:
        files = [DataFile(path=name) for name in in_data]
    else:
        files = _resolve_entries(scan, root, list_path, entries, owned, warnings)
        listed = {data_file.path for data_file in files}
        for name in in_data:
            if name not in listed:
                warnings.append(f"{name} is not listed in {list_path}; it is read anyway")
                files.append(DataFile(path=name))
        counts: list[int] = [e["itemCount"] for e in entries if _is_int(e.get("itemCount"))]
        if item_count is not None and len(counts) == len(entries) and sum(counts) != item_count:
            warnings.append(
                f"{summary_path} counts {item_count} items but {list_path} lists {sum(counts)}"
            )
    if not files:
        warnings.append(f"no data files found for the export in {root or scan.tree.label}")
    scan.used.update(data_file.path for data_file in files)
    is_ion = any(data_file.path.endswith((".ion", ".ion.gz")) for data_file in files)
    return TableSource(
        name=_name_from_arn(summary.get("tableArn"))
        or _name_from_arn(summary.get("exportArn"))
        or _folder_name(root, scan.tree.label),
        root=root,
        layout="s3-export",
        export_id=_export_id(summary.get("exportArn"), root),
        files=tuple(sorted(files, key=lambda data_file: data_file.path)),
        manifest_item_count=item_count,
        output_format=str(summary.get("outputFormat") or ("ION" if is_ion else "DYNAMODB_JSON")),
        export_type=str(summary.get("exportType") or "FULL_EXPORT"),
        warnings=tuple(warnings),
    )


def _read_summary(tree: SourceTree, path: str) -> dict[str, Any]:
    """Parse manifest-summary.json; raise SourceError when it cannot describe an export."""
    try:
        with tree.open(path) as stream:
            raw = stream.read(_MAX_SUMMARY_BYTES + 1)
    except _READ_ERRORS as err:
        raise SourceError(f"{path} in {tree.label} cannot be read ({err})") from err
    if len(raw) > _MAX_SUMMARY_BYTES:
        raise SourceError(f"{path} in {tree.label} is too large to be an export summary")
    try:
        summary = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SourceError(
            f"{path} in {tree.label} is not valid JSON ({err.msg}, line {err.lineno})"
        ) from err
    except UnicodeDecodeError as err:
        raise SourceError(f"{path} in {tree.label} is not UTF-8 text ({err.reason})") from err
    if not isinstance(summary, dict):
        raise SourceError(f"{path} in {tree.label} is not a JSON object")
    return summary


def _read_file_list(
    tree: SourceTree, path: str, warnings: list[str]
) -> list[dict[str, Any]] | None:
    """Parse manifest-files.json (JSON lines); warn about bad lines, None if it is unreadable."""
    entries = []
    try:
        with tree.open(path) as stream:
            number = 0
            while raw := stream.readline(_MAX_FILE_LIST_LINE + 1):
                number += 1
                if len(raw) > _MAX_FILE_LIST_LINE:
                    warnings.append(f"{path}, line {number}: line too long; the rest is ignored")
                    break
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except ValueError as err:
                    reason = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
                    warnings.append(f"{path}, line {number}: invalid JSON ({reason}); line ignored")
                    continue
                if not isinstance(entry, dict) or not isinstance(entry.get("dataFileS3Key"), str):
                    warnings.append(f"{path}, line {number}: no dataFileS3Key; line ignored")
                    continue
                entries.append(entry)
    except _READ_ERRORS as err:
        warnings.append(f"{path} cannot be read ({err}); reading every file in data/ instead")
        return None
    return entries


def _resolve_entries(
    scan: _Scan,
    root: str,
    list_path: str,
    entries: list[dict[str, Any]],
    owned: list[str],
    warnings: list[str],
) -> list[DataFile]:
    """Match manifest entries to files in the tree by their trailing data/<name>, else basename."""
    files: dict[str, DataFile] = {}
    by_base: dict[str, str] = {}
    for name in owned:
        by_base.setdefault(_base(name), name)
    for entry in entries:
        key_parts = entry["dataFileS3Key"].split("/")
        base = key_parts[-1]
        tail = "/".join(key_parts[-2:]) if key_parts[-2:-1] == ["data"] else f"data/{base}"
        # Incremental exports write data to a folder shared by all exports, beside the root.
        candidates = [_join(root, tail)] + ([_join(_parent(root), tail)] if root else [])
        found = next((name for name in candidates if name in scan.known), None)
        if found is None:
            found = by_base.get(base)
        path = found or _join(root, tail)
        if path in files:
            warnings.append(f"{path} is listed more than once in {list_path}")
            continue
        expected = entry.get("itemCount") if _is_int(entry.get("itemCount")) else None
        md5 = entry.get("md5Checksum") if isinstance(entry.get("md5Checksum"), str) else None
        if found is None:
            counted = f" ({expected} items)" if expected is not None else ""
            warnings.append(
                f"{path} is listed in {list_path} but missing from {scan.tree.label}{counted}"
            )
            files[path] = DataFile(path=path, expected_items=expected, md5_base64=md5, missing=True)
            continue
        if md5 is not None:
            warning = _md5_mismatch(scan.tree, path, md5, list_path)
            if warning:
                warnings.append(warning)
        files[path] = DataFile(path=path, expected_items=expected, md5_base64=md5)
    return list(files.values())


def _md5_mismatch(tree: SourceTree, path: str, expected: str, list_path: str) -> str | None:
    """Hash a file's raw bytes in chunks; describe a mismatch with the manifest, else None."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with tree.open(path) as stream:
            while chunk := stream.read(1024**2):
                digest.update(chunk)
    except _READ_ERRORS as err:
        return f"{path} cannot be read to check its MD5 checksum ({err})"
    actual = base64.b64encode(digest.digest()).decode("ascii")
    if actual == expected:
        return None
    return (
        f"{path}: MD5 checksum {actual} does not match {expected} in {list_path}; "
        "the file may be damaged or not the one exported"
    )


# --- dynamodump backups ---------------------------------------------------------------------


def _dump_roots(scan: _Scan, export_roots: list[str]) -> dict[str, dict[str, Any] | None]:
    """Find `<table>/schema.json` folders; map each root to its parsed schema (None if unusable)."""
    roots: dict[str, dict[str, Any] | None] = {}
    data_folders = {_parent(name) for name in scan.names if is_data_name(name)}
    exports = frozenset(export_roots)
    for name in scan.names:
        if _base(name) != SCHEMA or _owner(name, exports) is not None:
            continue
        root = _parent(name)
        schema = _read_schema(scan.tree, name)
        if schema is not None or _join(root, "data") in data_folders:
            roots[root] = schema
        else:
            scan.warnings.append(f"ignored {name}: not a dynamodump schema and no data/ beside it")
            scan.used.add(name)
    return roots


def _read_schema(tree: SourceTree, path: str) -> dict[str, Any] | None:
    try:
        with tree.open(path) as stream:
            raw = stream.read(_MAX_SUMMARY_BYTES + 1)
        schema = json.loads(raw) if len(raw) <= _MAX_SUMMARY_BYTES else None
    except (*_READ_ERRORS, ValueError):
        return None
    table = schema.get("Table") if isinstance(schema, dict) else None
    return table if isinstance(table, dict) else None


def _dump(scan: _Scan, root: str, table: dict[str, Any] | None) -> TableSource:
    schema_path = _join(root, SCHEMA)
    scan.used.add(schema_path)
    warnings = []
    if table is None:
        warnings.append(f"{schema_path} is not a readable dynamodump schema; key unknown")
        table = {}
    files = [
        DataFile(path=name)
        for name in scan.owned(root)
        if name.startswith(_join(root, "data/")) and is_data_name(name)
    ]
    if not files:
        warnings.append(f"no data files found in {_join(root, 'data/')}")
    scan.used.update(data_file.path for data_file in files)
    key_schema = table.get("KeySchema")
    keys = (
        [key for key in key_schema if isinstance(key, dict)] if isinstance(key_schema, list) else []
    )
    keys.sort(key=lambda key: key.get("KeyType") != "HASH")
    name = table.get("TableName")
    if not isinstance(name, str) or not name:
        name = _name_from_arn(table.get("TableArn")) or _folder_name(root, scan.tree.label)
    return TableSource(
        name=name,
        root=root,
        layout="dynamodump",
        files=tuple(files),
        manifest_item_count=table["ItemCount"] if _is_int(table.get("ItemCount")) else None,
        key_attributes=tuple(str(key.get("AttributeName")) for key in keys),
        warnings=tuple(warnings),
    )


# --- loose data files -----------------------------------------------------------------------


def _loose_tables(scan: _Scan, export_roots: list[str]) -> list[TableSource]:
    """Group data files outside any export or dump by folder (top-level files by stem)."""
    # Files in an incremental export's shared data/ folder that no manifest lists are not ours.
    shared = {_join(_parent(root), "data") for root in export_roots if root}
    groups: dict[tuple[str, str], list[str]] = {}
    for name in scan.names:
        if (
            name in scan.used
            or not is_data_name(name)
            or _base(name) in (SUMMARY, FILE_LIST, SCHEMA)
            or scan.owners[name] is not None
            or _parent(name) in shared
        ):
            continue
        folder = _parent(name)
        table = _base(folder) if folder else _stem(name)
        groups.setdefault((folder, table), []).append(name)
    tables = []
    for (folder, table), files in groups.items():
        scan.used.update(files)
        is_ion = any(name.endswith((".ion", ".ion.gz")) for name in files)
        tables.append(
            TableSource(
                name=table,
                root=folder,
                layout="loose",
                files=tuple(DataFile(path=name) for name in files),
                output_format="ION" if is_ion else "DYNAMODB_JSON",
            )
        )
    return tables


# --- paths and names ------------------------------------------------------------------------


def _join(root: str, rest: str) -> str:
    return f"{root}/{rest}" if root else rest


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _base(name: str) -> str:
    return name.rpartition("/")[2]


def _stem(name: str) -> str:
    base = _base(name).removesuffix(".gz")
    return base.rpartition(".")[0] or base


def _owner(name: str, roots: frozenset[str]) -> str | None:
    """Return the deepest root that holds `name`, or None."""
    parts = name.split("/")[:-1]
    for depth in range(len(parts), -1, -1):
        prefix = "/".join(parts[:depth])
        if prefix in roots:
            return prefix
    return None


def _folder_name(root: str, label: str) -> str:
    return _base(root) if root else label.removesuffix(".zip")


def _name_from_arn(arn: Any) -> str | None:
    """Return the table name in a table or export ARN (the text after ':table/')."""
    if not isinstance(arn, str) or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0] or None


def _export_id(export_arn: Any, root: str) -> str | None:
    if isinstance(export_arn, str) and "/export/" in export_arn:
        return export_arn.rsplit("/export/", 1)[1] or None
    return _base(root) or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
