"""Profile every item of a table: per attribute the types seen, presence, samples, uniqueness.

One pass over all items (not a sample), so an attribute present in one item of a million is
listed (CASES.md C24). Memory grows with the attributes, never with the items: the uniqueness
check of key-like attributes keeps one 64-bit hash per value for the first UNIQUE_CHECK_ITEMS
values only; later values are still checked against those (a repeat of an early value is caught)
but not remembered, and the profile says so (`unique_checked`: "unique among the first N").
The load finds every duplicate key exactly (see importer/duplicates.py); this is only a hint.
"""

from __future__ import annotations

import json
import operator
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import chain, compress, islice, repeat
from typing import Any

from .deserialize import TYPE_NAMES, type_tag
from .errors import DeserializeError
from .sources import SourceItem

SAMPLE_COUNT = 3
SAMPLE_CHARS = 80
KEY_TYPES = frozenset({"S", "N", "B"})
# ~64 bytes a hash in a set: a few MB per key-like attribute, whatever the table's size.
UNIQUE_CHECK_ITEMS = 100_000
_TRIED_LIMIT = 64
BATCH_ITEMS = 1000  # items profiled together (column by column)
SAMPLE_SCAN = 256  # values of an attribute looked at per batch while it lacks samples
_TAG_SET = frozenset(TYPE_NAMES)
_ABSENT = object()
_NUMBER_START = "-0123456789"
_NUMBER_FIRST = frozenset(_NUMBER_START)  # one character each; "" is not in it
_FIRST = slice(0, 1)
# What Decimal() may accept after a leading digit or "-"; anything else is not a number.
_NUMBER_CHARACTERS = "0123456789.-+eE_"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeProfile:
    """What one attribute looks like across all items of a table."""

    name: str
    present: int
    types: dict[str, int]  # type tag → items with that type, most frequent first
    samples: tuple[str, ...]  # up to three distinct values, as short JSON text
    unique: bool  # every item that has it has a distinct scalar value (see unique_checked)
    number_min: Decimal | None = None  # over N values (and numeric S values), for epoch hints
    number_max: Decimal | None = None
    # How many values the uniqueness check remembered: below `present`, `unique` means "no
    # value repeats one of the first `unique_checked`", not proven unique over all items.
    unique_checked: int = 0

    @property
    def unique_is_exact(self) -> bool:
        return self.unique_checked >= self.present

    @property
    def dominant_type(self) -> str:
        return next(iter(self.types), "")

    @property
    def type_names(self) -> str:
        return ", ".join(
            f"{TYPE_NAMES.get(tag, tag)} ×{count}" for tag, count in self.types.items()
        )

    @property
    def has_conflict(self) -> bool:
        """More than one type besides NULL: the mapping must say how to convert each."""
        return len([tag for tag in self.types if tag != "NULL"]) > 1

    def presence(self, items: int) -> float:
        return 100.0 * self.present / items if items else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return this profile as JSON-ready data (numbers as exact decimal strings)."""
        return {
            "name": self.name,
            "present": self.present,
            "types": dict(self.types),
            "samples": list(self.samples),
            "unique": self.unique,
            "number_min": None if self.number_min is None else str(self.number_min),
            "number_max": None if self.number_max is None else str(self.number_max),
            "unique_checked": self.unique_checked,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AttributeProfile:
        """Rebuild a profile saved with `to_json`."""
        return cls(
            name=body["name"],
            present=body["present"],
            types=dict(body["types"]),
            samples=tuple(body["samples"]),
            unique=body["unique"],
            number_min=None if body.get("number_min") is None else Decimal(body["number_min"]),
            number_max=None if body.get("number_max") is None else Decimal(body["number_max"]),
            unique_checked=body.get("unique_checked", body["present"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TableProfile:
    """All attributes of one table, in first-seen order, with the key-like ones."""

    table: str
    items: int
    attributes: tuple[AttributeProfile, ...] = ()
    key_candidates: tuple[str, ...] = ()  # present in every item, scalar, unique
    invalid_items: int = 0  # items with a value that is not valid DynamoDB JSON

    def attribute(self, name: str) -> AttributeProfile | None:
        return next((attr for attr in self.attributes if attr.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """Return this profile as JSON-ready data, to keep an analysis without re-reading."""
        return {
            "table": self.table,
            "items": self.items,
            "attributes": [attribute.to_json() for attribute in self.attributes],
            "key_candidates": list(self.key_candidates),
            "invalid_items": self.invalid_items,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TableProfile:
        """Rebuild a profile saved with `to_json`."""
        return cls(
            table=body["table"],
            items=body["items"],
            attributes=tuple(AttributeProfile.from_json(item) for item in body["attributes"]),
            key_candidates=tuple(body["key_candidates"]),
            invalid_items=body.get("invalid_items", 0),
        )


@dataclass(slots=True)
class _AttributeTally:
    present: int = 0
    types: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    hashes: set[int] | None = field(default_factory=set)
    tried: set[tuple[str, Any]] = field(default_factory=set)  # values sampled (bounded)
    number_min: Decimal | None = None
    number_max: Decimal | None = None


class TableProfiler:
    """Accumulate a TableProfile over all items of a table, a batch of items at a time.

    Items are grouped by shape (attribute names and type tags), so presence and type counts
    cost one lookup per item, not one per value; samples, uniqueness and number ranges then
    work column by column, only on the attributes that still need them. An item holding a value
    that is not a one-tag object of a known type takes the value-by-value path (`_add_one`).
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self.items = 0
        self.invalid_items = 0
        self._tallies: dict[str, _AttributeTally] = {}

    def add_all(self, items: Iterable[SourceItem]) -> TableProfiler:
        iterator = iter(items)
        while batch := [item.attributes for item in islice(iterator, BATCH_ITEMS)]:
            self.add_batch(batch)
        return self

    def add_batch(self, batch: list[dict[str, Any]]) -> None:
        """Profile a batch of items (attribute maps still in DynamoDB JSON), in item order."""
        self.items += len(batch)
        tallies = self._tallies
        invalid_rows: set[int] = set()
        for name in dict.fromkeys(chain.from_iterable(batch)):  # first-seen order
            tally = tallies.get(name)
            if tally is None:
                tally = tallies[name] = _AttributeTally()
            column = list(map(dict.get, batch, repeat(name), repeat(_ABSENT)))
            absent = column.count(_ABSENT)
            values = [value for value in column if value is not _ABSENT] if absent else column
            tally.present += len(values)
            tags = _well_formed_tags(values)
            if tags is None:
                invalid_rows.update(self._add_values(tally, column))
                continue
            for tag, count in Counter(tags).items():
                tally.types[tag] = tally.types.get(tag, 0) + count
            self._add_column(tally, tags, list(map(dict.__getitem__, values, tags)))
        self.invalid_items += len(invalid_rows)

    def merge(self, later: TableProfiler) -> None:
        """Add the profile of the items that come after these (another data file's, say).

        Counts add up; samples, first-seen order and number ranges come out as one pass over
        both would give them; uniqueness holds if it held in each and no value is in both.
        """
        self.items += later.items
        self.invalid_items += later.invalid_items
        for name, theirs in later._tallies.items():
            ours = self._tallies.get(name)
            if ours is None:
                self._tallies[name] = theirs
                continue
            ours.present += theirs.present
            for tag, count in theirs.types.items():
                ours.types[tag] = ours.types.get(tag, 0) + count
            for sample in theirs.samples:
                if len(ours.samples) >= SAMPLE_COUNT:
                    break
                if sample not in ours.samples:
                    ours.samples.append(sample)
            if ours.hashes is not None:
                if theirs.hashes is None or not ours.hashes.isdisjoint(theirs.hashes):
                    ours.hashes = None
                else:
                    room = UNIQUE_CHECK_ITEMS - len(ours.hashes)
                    ours.hashes.update(islice(theirs.hashes, max(room, 0)))
            for bound in (theirs.number_min, theirs.number_max):
                if bound is not None:
                    if ours.number_min is None or bound < ours.number_min:
                        ours.number_min = bound
                    if ours.number_max is None or bound > ours.number_max:
                        ours.number_max = bound

    def _add_values(self, tally: _AttributeTally, column: list[Any]) -> list[int]:
        """Profile one attribute value by value; return the rows whose value is invalid."""
        invalid = []
        for row, value in enumerate(column):
            if value is _ABSENT:
                continue
            if type(value) is dict and len(value) == 1:
                ((tag, raw),) = value.items()
            else:
                tag = raw = None
            if tag not in TYPE_NAMES:
                try:
                    tag = type_tag(value)  # an alias ("s", "nullValue") or a malformed value
                except DeserializeError:
                    tag = "invalid"
                    invalid.append(row)
                    raw = value
            tally.types[tag] = tally.types.get(tag, 0) + 1
            if len(tally.samples) < SAMPLE_COUNT:
                self._sample(tally, tag, raw)
            if tally.hashes is not None:
                if tag in KEY_TYPES and isinstance(raw, str):
                    digest = hash((tag, raw))
                    if digest in tally.hashes:
                        tally.hashes = None
                    elif len(tally.hashes) < UNIQUE_CHECK_ITEMS:
                        tally.hashes.add(digest)
                else:
                    tally.hashes = None
            if (
                (tag == "N" or tag == "S")
                and isinstance(raw, str)
                and raw[:1] in _NUMBER_START
                and not raw.strip(_NUMBER_CHARACTERS)  # skips dates and words before Decimal()
            ):
                _track_number(tally, raw)
        return invalid

    def _add_column(self, tally: _AttributeTally, tags: list[str], payloads: list[Any]) -> None:
        """Samples, uniqueness and number range of one attribute's well-formed values."""
        if len(tally.samples) < SAMPLE_COUNT:
            scanned = 0
            for tag, raw in zip(tags, payloads, strict=True):
                self._sample(tally, tag, raw)
                scanned += 1
                if len(tally.samples) >= SAMPLE_COUNT or scanned >= SAMPLE_SCAN:
                    break
        kinds = set(tags)
        all_text = set(map(type, payloads)) == {str}
        if tally.hashes is not None:
            if not all_text or not kinds <= KEY_TYPES:
                tally.hashes = None
            else:
                digests = list(map(hash, zip(tags, payloads, strict=True)))
                fresh = set(digests)
                if len(fresh) < len(digests) or not tally.hashes.isdisjoint(fresh):
                    tally.hashes = None
                else:
                    room = UNIQUE_CHECK_ITEMS - len(tally.hashes)
                    if room > 0:
                        tally.hashes.update(digests[:room])
        if not kinds & {"N", "S"}:
            return
        if kinds <= {"N", "S"} and all_text:
            texts = payloads
        else:
            texts = [
                raw
                for tag, raw in zip(tags, payloads, strict=True)
                if (tag == "N" or tag == "S") and type(raw) is str
            ]
        # What is left once the characters of a number are stripped must be nothing.
        numeric = list(
            compress(texts, map(operator.not_, map(str.strip, texts, repeat(_NUMBER_CHARACTERS))))
        )
        if set(map(operator.getitem, numeric, repeat(_FIRST))) <= _NUMBER_FIRST:
            candidates = numeric
        else:
            candidates = [text for text in numeric if text[:1] in _NUMBER_FIRST]
        if not candidates:
            return
        try:
            numbers = list(map(Decimal, candidates))
        except InvalidOperation:
            for text in candidates:
                _track_number(tally, text)
            return
        low, high = min(numbers), max(numbers)
        if tally.number_min is None or low < tally.number_min:
            tally.number_min = low
        if tally.number_max is None or high > tally.number_max:
            tally.number_max = high

    @staticmethod
    def _sample(tally: _AttributeTally, tag: str, raw: Any) -> None:
        # A value already tried gives the same sample text: skip the JSON of repeated values.
        marker = (tag, raw) if type(raw) is str or type(raw) is bool else None
        if marker is not None:
            if marker in tally.tried:
                return
            if len(tally.tried) < _TRIED_LIMIT:
                tally.tried.add(marker)
        sample = _sample_text(raw)
        if sample not in tally.samples:
            tally.samples.append(sample)

    def build(self) -> TableProfile:
        attributes = tuple(
            AttributeProfile(
                name=name,
                present=tally.present,
                types=dict(sorted(tally.types.items(), key=lambda pair: (-pair[1], pair[0]))),
                samples=tuple(tally.samples),
                unique=tally.hashes is not None and tally.present > 0,
                number_min=tally.number_min,
                number_max=tally.number_max,
                unique_checked=min(tally.present, UNIQUE_CHECK_ITEMS),
            )
            for name, tally in self._tallies.items()
        )
        candidates = tuple(
            attr.name
            for attr in attributes
            if attr.unique and attr.present == self.items and set(attr.types) <= KEY_TYPES
        )
        return TableProfile(
            table=self.table,
            items=self.items,
            attributes=attributes,
            key_candidates=_rank_key_candidates(candidates),
            invalid_items=self.invalid_items,
        )


def profile_table(table: str, items: Iterable[SourceItem]) -> TableProfile:
    """Profile all items of one table."""
    return TableProfiler(table).add_all(items).build()


def _well_formed_tags(values: list[Any]) -> list[str] | None:
    """The type tag of each value, or None unless every value is a one-tag object of a known type."""
    if not values:
        return []
    first = values[0]
    if type(first) is not dict or len(first) != 1 or set(map(type, values)) != {dict}:
        return None
    (tag,) = first
    count = len(values)
    if all(map(operator.contains, values, repeat(tag))) and sum(map(len, values)) == count:
        return [tag] * count if tag in TYPE_NAMES else None  # every value holds just `tag`
    if set(map(len, values)) != {1}:
        return None
    tags = list(map(next, map(iter, values)))
    return tags if _TAG_SET.issuperset(tags) else None


def _sample_text(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def _track_number(tally: _AttributeTally, raw: str) -> None:
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return
    if not number.is_finite():
        return
    if tally.number_min is None or number < tally.number_min:
        tally.number_min = number
    if tally.number_max is None or number > tally.number_max:
        tally.number_max = number


def _rank_key_candidates(names: tuple[str, ...]) -> tuple[str, ...]:
    # Names that say "key" first (id, pk, *Id), then in first-seen order.
    def rank(name: str) -> int:
        lowered = name.lower()
        if lowered in ("id", "pk", "uuid"):
            return 0
        if lowered.endswith("id") or lowered in ("key", "hash", "sk"):
            return 1
        return 2

    return tuple(sorted(names, key=rank))
