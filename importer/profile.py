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
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
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
    """Accumulate a TableProfile one item at a time (so profiling can share a read pass)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items = 0
        self.invalid_items = 0
        self._tallies: dict[str, _AttributeTally] = {}

    def add(self, item: SourceItem) -> None:
        self.items += 1
        invalid = False
        tallies = self._tallies
        for name, value in item.attributes.items():
            tally = tallies.get(name)
            if tally is None:
                tally = tallies[name] = _AttributeTally()
            tally.present += 1
            if type(value) is dict and len(value) == 1:
                ((tag, raw),) = value.items()
            else:
                tag = raw = None
            if tag not in TYPE_NAMES:  # the common case skips type_tag's checks
                try:
                    tag = type_tag(value)
                except DeserializeError:
                    tag = "invalid"
                    invalid = True
                raw = value.get(tag) if tag != "invalid" else value
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
                and raw[:1] in "-0123456789"
                and not raw.strip(_NUMBER_CHARACTERS)  # skips dates and words before Decimal()
            ):
                _track_number(tally, raw)
        if invalid:
            self.invalid_items += 1

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

    def add_all(self, items: Iterable[SourceItem]) -> TableProfiler:
        for item in items:
            self.add(item)
        return self

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
