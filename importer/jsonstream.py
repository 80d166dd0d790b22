"""Stream JSON values out of byte chunks: pretty-printed scan pages, `}{`-concatenated pages and
arrays, with flat memory (a huge page streams item by item) and the line each value starts on.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from importer.errors import ReadError
from importer.sources import SourceItem

_WHITESPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


class Broken(Exception):
    """The content stops early: corrupt or truncated gzip, damaged zip member, budget spent.

    Chunk sources raise it; the cursor turns it into a ReadError naming the line it reached.
    """


class Shape(Protocol):
    """What turns decoded values into items (and holds a file to one shape)."""

    kind: str | None

    def items(self, value: Any, line: int) -> Iterator[SourceItem]: ...

    def expect(self, kind: str, line: int, value: Any) -> None: ...

    def item(self, attributes: Any, line: int, where: str) -> SourceItem: ...


class Cursor:
    """The decoded text of the content, read left to right, knowing the line it has reached.

    Only the value being decoded is held in memory, so a huge scan page streams item by item.
    """

    def __init__(self, chunks: Iterator[bytes], path: str, max_value_bytes: int) -> None:
        self._chunks = chunks
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self._cap = max_value_bytes
        self._ended = False
        self.path = path
        self.text = ""
        self.pos = 0
        self.line = 1

    def peek(self) -> str:
        """Skip whitespace; return the next character, or "" at the end of the content."""
        while True:
            self._move(_WHITESPACE.match(self.text, self.pos).end())  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._fill():
                return ""

    def skip(self) -> None:
        """Step over the character `peek` returned."""
        self._move(self.pos + 1)

    def value(self) -> tuple[Any, int]:
        """Decode the JSON value at the read position; return it with the line it starts on."""
        if not self.peek():
            raise self.error("Expecting value")
        line = self.line
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as err:
                if self._ended or not _maybe_cut_short(err, self.text):
                    raise self.error(err.msg, at=err.pos) from err
                self._read_more()
                continue
            if end < len(self.text) or self._ended:  # a number at the very end may go on
                if end - self.pos > self._cap:
                    raise self._too_long()
                self._move(end)
                return value, line
            self._read_more()

    def error(self, reason: str, *, at: int | None = None) -> ReadError:
        """Build an "invalid JSON" error for the read position (or offset `at` in the text)."""
        at = self.pos if at is None else at
        if self._ended and (at >= len(self.text.rstrip()) or reason.startswith("Unterminated")):
            reason = "the data ends in the middle of a value"
        line = self.line + self.text.count("\n", self.pos, at)
        return ReadError(f"invalid JSON: {reason}", file=self.path, line=line)

    def _move(self, end: int) -> None:
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def _fill(self) -> bool:
        """Append the next chunk's text, dropping what was read; False once nothing is left."""
        if self._ended:
            return False
        try:
            chunk = next(self._chunks, None)
            text = self._decode(chunk or b"", final=chunk is None)
        except Broken as err:
            line = self.line + self.text.count("\n", self.pos)
            raise ReadError(str(err), file=self.path, line=line) from err
        except UnicodeDecodeError as err:
            raise ReadError(
                f"not UTF-8 text ({err.reason})", file=self.path, line=self.line
            ) from err
        self._ended = chunk is None
        self.text = self.text[self.pos :] + text
        self.pos = 0
        return bool(text) or not self._ended

    def _too_long(self) -> ReadError:
        message = f"a JSON value is longer than {self._cap} bytes, the limit for one item"
        return ReadError(message, file=self.path, line=self.line)

    def _read_more(self) -> None:
        """Read at least as much again as the value under decoding holds (so retries stay rare)."""
        held = len(self.text) - self.pos
        if held > self._cap:
            raise self._too_long()
        while len(self.text) - self.pos < 2 * held + 1 and self._fill():
            pass


def _maybe_cut_short(err: json.JSONDecodeError, text: str) -> bool:
    # The decoder cannot say "incomplete": an unterminated string, or an error within a token's
    # length of the end of the text, may just be a value split across chunks.
    return err.msg.startswith("Unterminated string") or err.pos >= len(text) - 8


def stream_values(cursor: Cursor, shape: Shape) -> Iterator[SourceItem]:
    """Yield the items of top-level values: pages, items, or arrays of either."""
    while char := cursor.peek():
        if char == "[":
            cursor.skip()
            yield from _array(cursor, lambda index: _element(cursor, shape))
        elif char == "{":
            yield from _element(cursor, shape)
        else:
            raise ReadError(
                f"not DynamoDB JSON: found {char!r} where an object or array should start",
                file=cursor.path,
                line=cursor.line,
            )


def _element(cursor: Cursor, shape: Shape) -> Iterator[SourceItem]:
    """Yield the items of one object (or stray value); stream a scan page's Items."""
    if cursor.peek() != "{" or shape.kind in ("item", "bare"):
        value, line = cursor.value()
        yield from shape.items(value, line)
        return
    line = cursor.line
    cursor.skip()
    members: dict[str, Any] = {}
    is_page = False
    if cursor.peek() == "}":
        cursor.skip()
    else:
        while True:
            if cursor.peek() != '"':
                raise cursor.error("Expecting property name enclosed in double quotes")
            key, _ = cursor.value()
            if cursor.peek() != ":":
                raise cursor.error("Expecting ':' delimiter")
            cursor.skip()
            if key == "Items" and cursor.peek() == "[":
                shape.expect("page", line, {"Items": []})
                is_page = True
                cursor.skip()
                yield from _array(cursor, lambda index: _page_item(cursor, shape, index))
            else:
                members[key], _ = cursor.value()
            char = cursor.peek()
            if char not in ("}", ","):
                raise cursor.error("Expecting ',' delimiter")
            cursor.skip()
            if char == "}":
                break
    if not is_page:
        yield from shape.items(members, line)


def _page_item(cursor: Cursor, shape: Shape, index: int) -> Iterator[SourceItem]:
    value, line = cursor.value()
    yield shape.item(value, line, f"Items[{index}]")


def _array(cursor: Cursor, each: Callable[[int], Iterator[SourceItem]]) -> Iterator[SourceItem]:
    """Walk an array whose "[" was read, yielding what `each` yields for every element."""
    if cursor.peek() == "]":
        cursor.skip()
        return
    index = 0
    while True:
        yield from each(index)
        index += 1
        char = cursor.peek()
        if char == "]":
            cursor.skip()
            return
        if char != ",":
            raise cursor.error("Expecting ',' delimiter")
        cursor.skip()
