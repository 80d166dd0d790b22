"""Compare coerced rows with the rows already in the database: new / updated / unchanged / skipped.

The dry run and the import share this code: the import writes what the plan found, the dry run
runs the very same steps inside a transaction that is rolled back, so the preview is exactly what
the import will do (foreign keys to rows created earlier in the same run included).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.db import models

from .coerce import CoercedRow
from .mapping import Mode
from .outcomes import Outcome


@dataclass(slots=True, kw_only=True)
class PlannedRow:
    """A coerced row with its outcome, the existing instance it matched, and the changed fields."""

    row: CoercedRow
    outcome: Outcome
    instance: models.Model | None = None
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    many_diff: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict)


def fetch_existing(
    model: type[models.Model],
    key_fields: Sequence[str],
    rows: Sequence[CoercedRow],
    *,
    using: str = "default",
) -> dict[tuple[Any, ...], models.Model]:
    """Load the existing rows whose key matches one of `rows`, keyed by that key."""
    if not rows:
        return {}
    attnames = [model._meta.get_field(name).attname for name in key_fields]
    manager = model._base_manager.using(using)
    if len(attnames) == 1:
        found = manager.filter(**{f"{attnames[0]}__in": {row.key[0] for row in rows}})
    else:
        condition = reduce(
            operator.or_, (models.Q(**dict(zip(attnames, row.key, strict=True))) for row in rows)
        )
        found = manager.filter(condition)
    return index_by_key(model, key_fields, found)


def index_by_key(
    model: type[models.Model], key_fields: Sequence[str], instances: Iterable[models.Model]
) -> dict[tuple[Any, ...], models.Model]:
    """Key existing instances by their import key, in the form `classify` looks them up."""
    fields = [model._meta.get_field(name) for name in key_fields]
    return {
        tuple(_normalize(item, getattr(instance, item.attname)) for item in fields): instance
        for instance in instances
    }


def classify(
    rows: Sequence[CoercedRow],
    existing: dict[tuple[Any, ...], models.Model],
    *,
    model: type[models.Model],
    key_fields: Sequence[str],
    mode: str,
    current_many: dict[tuple[Any, ...], dict[str, list[Any]]] | None = None,
) -> list[PlannedRow]:
    """Give each row its outcome against `existing` (matched by key) under `mode`."""
    key_model_fields = [model._meta.get_field(name) for name in key_fields]
    planned = []
    for row in rows:
        key = tuple(
            _normalize(item, value) for item, value in zip(key_model_fields, row.key, strict=True)
        )
        instance = existing.get(key)
        if instance is None or mode == Mode.REPLACE:
            planned.append(PlannedRow(row=row, outcome=Outcome.NEW))
            continue
        if mode == Mode.INSERT:
            planned.append(PlannedRow(row=row, outcome=Outcome.SKIPPED, instance=instance))
            continue
        diff = {}
        for attname, new in row.values.items():
            model_field = model._meta.get_field(attname)
            old = _normalize(model_field, getattr(instance, attname))
            if not _equal(old, _normalize(model_field, new)):
                diff[model_field.name] = (old, new)
        many_diff = {}
        for name, new_values in row.many.items():
            old_values = (current_many or {}).get(key, {}).get(name, [])
            if sorted(map(str, old_values)) != sorted(map(str, new_values)):
                many_diff[name] = (sorted(old_values, key=str), sorted(new_values, key=str))
        outcome = Outcome.UPDATED if diff or many_diff else Outcome.UNCHANGED
        planned.append(
            PlannedRow(row=row, outcome=outcome, instance=instance, diff=diff, many_diff=many_diff)
        )
    return planned


def _equal(old: Any, new: Any) -> bool:
    # Decimal("12.5") == Decimal("12.50") and 3 == Decimal("3"): equal values read back through
    # another type are unchanged; but True is not 1.
    return old == new and isinstance(old, bool) == isinstance(new, bool)


def _normalize(model_field: models.Field, value: Any) -> Any:
    """Bring a database value and a coerced value to one comparable form."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, bytearray):
        return bytes(value)
    return value
