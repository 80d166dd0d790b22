"""Find items whose import key an earlier item of the same run already used, in bounded memory.

The keys seen so far live in a temporary table of the run's own connection (inside the run's
transaction, so a rollback takes it away), not in a Python dict: a table of 5 million items costs
the process nothing per item. In front of it, a Bloom filter of fixed size (16 MiB) answers "never
seen" for nearly every key without a query; only its "maybe" keys (the real repeats, and a few
false positives: ~0.5% at 5 million keys) are looked up in the table, which has the final word.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connections

_LOOKUP_CHUNK = 500  # parameters per IN (...): far below SQLite's limit
_BLOOM_BITS = 27  # 2**27 bits = 16 MiB; two probes per key
_BLOOM_MASK = (1 << _BLOOM_BITS) - 1
_names = itertools.count(1)


def key_text(key: tuple[Any, ...]) -> str:
    """One text per key, equal exactly when the Python key tuples are equal (1 == 1.0 == "1.0")."""
    return "\x1f".join(_part(value) for value in key)


def _part(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return f"b{int(value)}"
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(value)
        return f"n{number.normalize():f}" if number.is_finite() else f"n{number}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return f"u{value.hex}"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)  # equal instants are equal keys, as in Python
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return f"{type(value).__name__}{value.isoformat()}"
    return f"s{value}"


def _probes(text: str) -> tuple[int, int]:
    # str hashes are cached on the object and random per process: fine for a filter that lives
    # and dies within one run. Two bit positions from the two halves of one 64-bit hash.
    digest = hash(text) & 0xFFFF_FFFF_FFFF_FFFF
    return digest & _BLOOM_MASK, (digest >> 32) & _BLOOM_MASK


class SeenKeys:
    """The import keys of one table's rows so far in this run, each with where it was first seen."""

    def __init__(self, *, using: str) -> None:
        self.using = using
        self._bloom = bytearray(1 << (_BLOOM_BITS - 3))
        self.table = f"importer_seen_keys_{next(_names)}"
        connection = connections[using]
        self._quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._quote(self.table)}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._quote(self.table)} "
                "(key_text TEXT PRIMARY KEY, origin TEXT NOT NULL)"
            )

    def seen(self, keys: Sequence[str]) -> dict[str, str]:
        """Return {key text: where it was first seen} for those of `keys` seen before."""
        found: dict[str, str] = {}
        bloom = self._bloom
        wanted = []
        for text in set(keys):
            first, second = _probes(text)
            if bloom[first >> 3] & (1 << (first & 7)) and bloom[second >> 3] & (1 << (second & 7)):
                wanted.append(text)
        wanted.sort()
        if not wanted:
            return found
        connection = connections[self.using]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"SELECT key_text, origin FROM {self._quote(self.table)} "
                    "WHERE key_text = ANY(%s)",
                    [wanted],
                )
                return dict(cursor.fetchall())
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT key_text, origin FROM {self._quote(self.table)} "
                    f"WHERE key_text IN ({marks})",
                    chunk,
                )
                found.update(cursor.fetchall())
        return found

    def add(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Remember (key text, origin) pairs (none of them seen before)."""
        if not pairs:
            return
        bloom = self._bloom
        for text, _ in pairs:
            first, second = _probes(text)
            bloom[first >> 3] |= 1 << (first & 7)
            bloom[second >> 3] |= 1 << (second & 7)
        connection = connections[self.using]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                columns = f"{self._quote(self.table)} (key_text, origin)"
                with cursor.cursor.copy(f"COPY {columns} FROM STDIN") as copy:
                    for pair in pairs:
                        copy.write_row(pair)
                return
            cursor.executemany(
                f"INSERT INTO {self._quote(self.table)} (key_text, origin) VALUES (%s, %s)",
                pairs,
            )

    def drop(self) -> None:
        with connections[self.using].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self._quote(self.table)}")
