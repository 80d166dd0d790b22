"""Stream the items of one data file, one at a time, each with the line its object starts on.

Shapes: export lines {"Item": ...}; lines of bare items; scan pages {"Items": [...]} (one, several
concatenated or one per line, or an array of pages); arrays of items or of {"Item": ...}. Gzip is
sniffed by its magic bytes. Attribute values stay DynamoDB JSON: `deserialize` turns them into
Python values.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import chain, islice
from typing import Any, BinaryIO

import orjson

from importer.archive import SourceTree
from importer.errors import ReadError
from importer.jsonstream import Broken, Cursor, stream_values
from importer.sources import DataFile, SourceItem

# Keep equal to importer.conf.DEFAULTS (this module must not import Django).
MAX_LINE_BYTES = 8 * 1024**2
MAX_FILE_DECOMPRESSED_BYTES = 64 * 1024**3

ION_REFUSED = (
    "Amazon Ion data is not supported yet; export the table again with the DYNAMODB_JSON format"
)
INCREMENTAL_REFUSED = (
    "this is an incremental export (change records with Keys/NewImage/OldImage), which is not "
    "supported yet and must not be imported as items; use a full export of the table"
)

_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ION_TEXT = b"$ion_1_0"
_ION_BINARY = b"\xe0\x01\x00\xea"
_DATA_START = re.compile(rb"[^ \t\r\n]")
_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
_CHANGE_KEYS = frozenset({"Keys", "NewImage", "OldImage"})
_KIND_TEXT = {
    "item": 'an {"Item": {...}} object',
    "page": 'a scan page {"Items": [...]}',
    "bare": "an item of typed attributes",
}


def iter_items(
    tree: SourceTree,
    data_file: DataFile,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_decompressed_bytes: int = MAX_FILE_DECOMPRESSED_BYTES,
) -> Iterator[SourceItem]:
    """Yield the file's items in order; raise ReadError (naming file and line) on bad input."""
    path = data_file.path
    with _open_content(tree, data_file, max_decompressed_bytes) as chunks:
        yield from _items(chunks, path, max_line_bytes)


def iter_line_chunks(
    tree: SourceTree,
    data_file: DataFile,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_decompressed_bytes: int = MAX_FILE_DECOMPRESSED_BYTES,
) -> Iterator[tuple[int, list[bytes]]] | None:
    """The raw lines of a file of export lines ({"Item": ...} per line), in chunks; else None.

    Each chunk is (number of its first line, its lines); blank lines are kept, so the n-th line
    of a chunk is line `first + n`. Items are left for the caller to decode (a fast decoder that
    can hand any line it cannot take to `ItemLines.items`). Files of another shape give None:
    read them with `iter_items`.
    """
    opened = ExitStack()
    with opened:
        chunks = opened.enter_context(_open_content(tree, data_file, max_decompressed_bytes))
        head, ended = _lookahead(chunks, data_file.path, max_line_bytes)
        if _sniff(head, ended, data_file.path) != "item-lines":
            return None
        # The file stays open (read once): the generator owns it from here.
        content = chain([head.removeprefix(codecs.BOM_UTF8)], chunks)
        return _owned(opened.pop_all(), _line_chunks(content, data_file.path, max_line_bytes))


def _owned(
    resources: ExitStack, chunks: Iterator[tuple[int, list[bytes]]]
) -> Iterator[tuple[int, list[bytes]]]:
    with resources:
        yield from chunks


def iter_attribute_batches(
    tree: SourceTree,
    data_file: DataFile,
    *,
    batch_size: int,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_decompressed_bytes: int = MAX_FILE_DECOMPRESSED_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the file's items' attribute maps in lists of up to `batch_size` (for profiling).

    The same items as `iter_items`, and the same ReadErrors, without an origin on each.
    """
    lines = iter_line_chunks(
        tree,
        data_file,
        max_line_bytes=max_line_bytes,
        max_decompressed_bytes=max_decompressed_bytes,
    )
    batch: list[dict[str, Any]] = []
    if lines is None:
        items = iter_items(
            tree,
            data_file,
            max_line_bytes=max_line_bytes,
            max_decompressed_bytes=max_decompressed_bytes,
        )
        while batch := [item.attributes for item in islice(items, batch_size)]:
            yield batch
        return
    parser = ItemLines(data_file.path)
    loads = orjson.loads
    for first, chunk in lines:
        for number, line in enumerate(chunk, first):
            try:
                value = loads(line)
                attributes = value["Item"]
                if type(attributes) is not dict:
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError):
                batch.extend(item.attributes for item in parser.items(number, line))
            else:
                batch.append(attributes)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class ItemLines:
    """The one-line-at-a-time reading of a file of export lines, with the file's shape rules."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._shape = _Shape(path)
        self._shape.kind = "item"

    def items(self, number: int, line: bytes) -> Iterator[SourceItem]:
        """The items of one line (none for a blank line); ReadError for a line that is wrong."""
        if not line.strip():
            return iter(())
        try:
            value = _parse_json(line)
        except _InvalidJSON as err:
            raise ReadError(f"invalid JSON: {err}", file=self.path, line=number) from err
        return self._shape.items(value, number)


@contextmanager
def _open_content(
    tree: SourceTree, data_file: DataFile, max_decompressed_bytes: int
) -> Iterator[Iterator[bytes]]:
    """Open a data file (gunzipped if it is gzip) as chunks of its content, within the budget."""
    path = data_file.path
    if data_file.missing:
        raise ReadError(f"listed in the manifest but missing from {tree.label}", file=path)
    if path.endswith((".ion", ".ion.gz")):
        raise ReadError(ION_REFUSED, file=path)
    try:
        with tree.open(path) as probe:
            is_gzip = probe.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        stream = tree.open(path)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise ReadError(f"cannot be read ({err})", file=path) from err
    with stream:
        source = gzip.GzipFile(fileobj=stream, mode="rb") if is_gzip else stream
        yield _content(source, max_decompressed_bytes)


def count_items(
    tree: SourceTree,
    data_file: DataFile,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_decompressed_bytes: int = MAX_FILE_DECOMPRESSED_BYTES,
) -> int:
    """Count the file's items by reading it through (to check a manifest's itemCount)."""
    items = iter_items(
        tree,
        data_file,
        max_line_bytes=max_line_bytes,
        max_decompressed_bytes=max_decompressed_bytes,
    )
    return sum(1 for _ in items)


class _InvalidJSON(ValueError):
    """A document is not JSON; the message is the parser's reason."""


def _parse_json(raw: bytes) -> Any:
    """Parse one JSON document: orjson first, the standard library for what orjson refuses.

    orjson (measured ~1.9x json, ~1.2x msgspec on export lines) refuses some documents json
    accepts (integers past 64 bits, NaN, lone surrogates) and words errors differently; json
    decides those, so results and messages stay the standard library's. DynamoDB numbers are
    JSON strings, so no parser ever turns one into a float.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw.decode("utf-8"))  # lines are UTF-8; skips json's encoding sniffing
    except json.JSONDecodeError as err:
        raise _InvalidJSON(err.msg) from err
    except UnicodeDecodeError as err:
        raise _InvalidJSON(f"not UTF-8 text ({err.reason})") from err


# --- bytes: gunzip within a budget ----------------------------------------------------------


def _content(source: BinaryIO | gzip.GzipFile, budget: int) -> Iterator[bytes]:
    """Yield the (decompressed) content in chunks; stop with Broken past the byte budget."""
    total = 0
    while True:
        try:
            chunk = source.read(_CHUNK)
        except EOFError as err:
            raise Broken("the gzip data is truncated (it ends before its end marker)") from err
        except (gzip.BadGzipFile, zlib.error) as err:
            raise Broken(f"corrupt gzip data ({err})") from err
        except zipfile.BadZipFile as err:
            raise Broken(f"damaged inside the zip ({err})") from err
        except OSError as err:
            raise Broken(f"cannot be read ({err})") from err
        if not chunk:
            return
        total += len(chunk)
        if total > budget:
            raise Broken(f"the data is over the limit of {budget} bytes (once decompressed)")
        yield chunk


# --- shape: decided by the first value ------------------------------------------------------


def _items(chunks: Iterator[bytes], path: str, max_line_bytes: int) -> Iterator[SourceItem]:
    """Sniff the shape from the first line holding data, then read lines or a value stream."""
    head, ended = _lookahead(chunks, path, max_line_bytes)
    kind = _sniff(head, ended, path)
    if kind == "empty":
        return  # empty, or only whitespace: an empty partition
    content = chain([head.removeprefix(codecs.BOM_UTF8)], chunks)
    shape = _Shape(path)
    if kind in ("item-lines", "lines"):
        yield from _lines_values(_line_chunks(content, path, max_line_bytes), path, shape)
    else:
        yield from stream_values(Cursor(content, path, max_line_bytes), shape)


def _sniff(head: bytes, ended: bool, path: str) -> str:
    """Say how to read a file from its first line holding data.

    "empty"; "item-lines" (JSON lines, the first an {"Item": ...} export line); "lines" (JSON
    lines of another kind); "stream" (pretty-printed, `}{`-concatenated, an array, one long
    line). Anything else is a ReadError.
    """
    head = head.removeprefix(codecs.BOM_UTF8)
    found = _DATA_START.search(head)
    if found is None:
        return "empty"
    start = found.start()
    line = head.count(b"\n", 0, start) + 1
    if head.startswith(_ION_TEXT, start) or head.startswith(_ION_BINARY):
        raise ReadError(ION_REFUSED, file=path, line=line)
    first = head[start : start + 1]
    if first == b"[":
        return "stream"
    if first == b"{":
        end = head.find(b"\n", start)
        if end < 0 and not ended:
            return "stream"  # longer than the look-ahead: only a value stream can hold it
        try:
            value = _parse_json(head[start:end] if end >= 0 else head[start:])
        except _InvalidJSON:
            return "stream"  # pretty-printed, or `}{`-concatenated on one line
        return "item-lines" if _kind(value) == "item" else "lines"
    snippet = head[start : start + 20].decode("utf-8", "replace")
    raise ReadError(f"not DynamoDB JSON: the data starts with {snippet!r}", file=path, line=line)


def _lookahead(chunks: Iterator[bytes], path: str, max_line_bytes: int) -> tuple[bytes, bool]:
    """Read until the first line holding data is complete or too long; say if the data ended."""
    head = bytearray()
    start = -1
    try:
        for chunk in chunks:
            scanned = len(head)
            head += chunk
            if start < 0 and (found := _DATA_START.search(head, scanned)):
                start = found.start()
            if start >= 0 and (head.find(b"\n", start) >= 0 or len(head) - start > max_line_bytes):
                return bytes(head), False
    except Broken as err:
        raise ReadError(str(err), file=path, line=head.count(b"\n") + 1) from err
    return bytes(head), True


class _Shape:
    """Hold every value of a file to the shape its first value set; turn values into items."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.kind: str | None = None

    def items(self, value: Any, line: int) -> Iterator[SourceItem]:
        """Yield the items one decoded value holds (one, or a page's worth)."""
        kind = self.kind
        if kind != "item" or type(value) is not dict or "Item" not in value:  # fast path first
            kind = self.settle(value, line)
        if kind == "page":
            for index, element in enumerate(value["Items"]):
                yield self.item(element, line, f"Items[{index}]")
        elif kind == "item":
            yield self.item(value["Item"], line, '"Item"')
        else:
            yield self.item(value, line, "the item")

    def settle(self, value: Any, line: int) -> str:
        """Return the value's kind; the first value fixes it, later ones must match."""
        if self.kind == "bare" and isinstance(value, dict) and value and not _is_change(value):
            return "bare"  # once items are bare, an attribute named "Item" is just an attribute
        kind = _kind(value)
        if kind is None and _is_change(value):
            raise ReadError(INCREMENTAL_REFUSED, file=self.path, line=line)
        if kind is None:
            raise ReadError(
                'not a DynamoDB item: expected an {"Item": {...}} line, a scan page '
                f'{{"Items": [...]}} or an item of typed attributes, found {_describe(value)}',
                file=self.path,
                line=line,
            )
        self.expect(kind, line, value)
        return kind

    def expect(self, kind: str, line: int, value: Any) -> None:
        """Fix the file's shape on the first value; refuse a later value of another shape."""
        if self.kind not in (None, kind):
            message = (
                f"expected {_KIND_TEXT[self.kind]} like the first one, found {_describe(value)}"
            )
            raise ReadError(message, file=self.path, line=line)
        self.kind = kind

    def item(self, attributes: Any, line: int, where: str) -> SourceItem:
        if not isinstance(attributes, dict):
            message = f"{where} is {_describe(attributes)}, not an object of attributes"
            raise ReadError(message, file=self.path, line=line)
        return SourceItem(attributes=attributes, file=self.path, line=line)


def _kind(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return None
    if "Item" in value:
        return "item"
    if isinstance(value.get("Items"), list):
        return "page"
    if all(_is_attribute_value(attribute) for attribute in value.values()):
        return "bare"
    return None


def _is_attribute_value(value: Any) -> bool:
    # Case-insensitive: Data Pipeline exports wrote lower-case tags ({"s": ...}).
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).upper() in _TAGS


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and bool(_CHANGE_KEYS & value.keys()) and _kind(value) is None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        keys = ", ".join(list(value)[:5]) + (", ..." if len(value) > 5 else "")
        return f"an object with keys {keys}"
    names = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


# --- JSON lines -----------------------------------------------------------------------------


def _line_chunks(
    chunks: Iterator[bytes], path: str, max_line_bytes: int
) -> Iterator[tuple[int, list[bytes]]]:
    """Split the content into chunks of whole lines: (number of the first line, lines)."""
    number = 1
    pending: list[bytes] = []  # the start of a line that goes on in the next chunk
    pending_size = 0
    too_long = f"the line is longer than {max_line_bytes} bytes, the limit for one item"
    try:
        for chunk in chunks:
            if b"\n" not in chunk:
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size > max_line_bytes:
                    raise ReadError(too_long, file=path, line=number)
                continue
            if pending:
                chunk = b"".join([*pending, chunk])
                pending, pending_size = [], 0
            lines = chunk.split(b"\n")
            rest = lines.pop()
            if max(map(len, lines)) > max_line_bytes:
                over = next(n for n, line in enumerate(lines) if len(line) > max_line_bytes)
                raise ReadError(too_long, file=path, line=number + over)
            yield number, lines
            number += len(lines)
            if rest:
                pending.append(rest)
                pending_size = len(rest)
                if pending_size > max_line_bytes:
                    raise ReadError(too_long, file=path, line=number)
    except Broken as err:
        raise ReadError(str(err), file=path, line=number) from err
    if pending:
        yield number, [b"".join(pending)]


def _lines_values(
    chunks: Iterator[tuple[int, list[bytes]]], path: str, shape: _Shape
) -> Iterator[SourceItem]:
    for first, lines in chunks:
        for number, line in enumerate(lines, first):
            if not line.strip():
                continue
            try:
                value = _parse_json(line)
            except _InvalidJSON as err:
                raise ReadError(f"invalid JSON: {err}", file=path, line=number) from err
            yield from shape.items(value, number)
