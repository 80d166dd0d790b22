"""Turn one DynamoDB item into one row for its target model, or into row problems that say why not.

The coercer is built once per table from its mapping (field lookups, converters), then called per
item. A missing attribute gets the field's default, NULL where the field allows it, "" where a
text field may be blank, and otherwise a row problem; `0`, `False` and `""` are values, never
"missing".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models

from .converters import SLOW, ConversionError, converter_for, shortcut_for
from .deserialize import TYPE_NAMES, deserialize_value, type_tag
from .errors import DeserializeError, MappingError
from .jsonvalue import dumps, to_json_value
from .mapping import TableMapping, key_fields, resolve_model
from .outcomes import RowProblem
from .sources import SourceItem

MISSING = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class CoercedRow:
    """One item as the values of its model's fields (by attname), ready to compare and write."""

    key: tuple[Any, ...]  # values of the key fields, in key order
    item_key: str  # how reports name the item, e.g. "id=STK-000001"
    values: dict[str, Any]  # attname → value, for concrete fields
    many: dict[str, list[Any]] = field(default_factory=dict)  # m2m field name → lookup values
    file: str
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RowFailure:
    item_key: str
    file: str
    line: int
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _FieldPlan:
    attribute: str
    model_field: models.Field
    convert: Callable[[Any], Any]
    label: str
    shortcut: Callable[[Any], Any] | None = None  # raw value → value, or SLOW
    attname: str = ""
    converter: str = ""


class RowCoercer:
    """Coerce items of one table into rows of its target model (a model or importer.RawItem)."""

    def __init__(
        self,
        mapping: TableMapping,
        *,
        key_types: dict[str, str] | None = None,
        naive_timezone: str = "UTC",
        using: str = "default",
        shortcuts: bool = True,
    ) -> None:
        """`shortcuts=False` always takes the full path (tests compare the two)."""
        self.mapping = mapping
        self.model = resolve_model(mapping.target)
        self.key_types = key_types or {}
        if mapping.is_raw:
            self.key_fields: tuple[str, ...] = ("source_table", "item_key")
            self._plans: list[_FieldPlan] = []
            self._catch_all = None
            self._catch_all_convert = None
            self._lane = None
            return
        self.key_fields = key_fields(mapping)
        self._key_attnames = [self.model._meta.get_field(name).attname for name in self.key_fields]
        self._catch_all = (
            self.model._meta.get_field(mapping.catch_all) if mapping.catch_all else None
        )
        self._catch_all_convert = converter_for(self._catch_all) if self._catch_all else None
        self._plans = []
        for item in mapping.fields:
            if not item.field or item.field == mapping.catch_all:
                continue
            try:
                model_field = self.model._meta.get_field(item.field)
            except Exception:
                raise MappingError(
                    f"table {mapping.table!r}: {self.model._meta.label} has no field {item.field!r}"
                ) from None
            try:
                convert = converter_for(
                    model_field,
                    converter=item.converter,
                    naive_timezone=naive_timezone,
                    using=using,
                )
            except ConversionError as error:
                raise MappingError(f"table {mapping.table!r}: {error}") from None
            shortcut = (
                shortcut_for(
                    model_field,
                    converter=item.converter,
                    naive_timezone=naive_timezone,
                    using=using,
                )
                if shortcuts
                else None
            )
            self._plans.append(
                _FieldPlan(
                    attribute=item.attribute,
                    model_field=model_field,
                    convert=convert,
                    label=model_field.name,
                    shortcut=shortcut,
                    attname=model_field.attname,
                    converter=item.converter,
                )
            )
        self._mapped = {
            item.attribute for item in mapping.fields if item.field != mapping.catch_all
        }
        self._to_catch_all = {
            item.attribute
            for item in mapping.fields
            if mapping.catch_all and item.field == mapping.catch_all
        }
        self._ignored = {item.attribute for item in mapping.fields if item.field is None}
        # Every field has a shortcut and nothing goes to a catch-all: a tight loop that gives up
        # (to the full path) at the first missing, null or unusual value.
        self._lane = (
            [(plan.attribute, plan.attname, plan.shortcut) for plan in self._plans]
            if self._catch_all is None and all(plan.shortcut for plan in self._plans)
            else None
        )

    @property
    def field_plans(self) -> tuple[_FieldPlan, ...]:
        """Each mapped attribute with its model field and converter (catch-all excluded)."""
        return tuple(self._plans)

    @property
    def many_fields(self) -> list[models.ManyToManyField]:
        return [plan.model_field for plan in self._plans if plan.model_field.many_to_many]

    @property
    def written_fields(self) -> list[str]:
        """Attnames this mapping writes (the fields an update may change)."""
        if self.mapping.is_raw:
            return ["source_table", "item_key", "attributes"]
        names = [
            plan.model_field.attname for plan in self._plans if not plan.model_field.many_to_many
        ]
        if self._catch_all is not None:
            names.append(self._catch_all.attname)
        return names

    def coerce(self, item: SourceItem) -> CoercedRow | RowFailure:
        """Return the item's row, or every problem found in it (not just the first)."""
        item_key, key_problems = self._item_key(item)
        if key_problems:
            return RowFailure(
                item_key=item_key, file=item.file, line=item.line, problems=key_problems
            )
        if self.mapping.is_raw:
            return self._coerce_raw(item, item_key)
        if self._lane is not None:
            attributes = item.attributes
            values: dict[str, Any] = {}
            for attribute, attname, shortcut in self._lane:
                raw = attributes.get(attribute)
                if raw is None:
                    break
                value = shortcut(raw)
                if value is SLOW:
                    break
                values[attname] = value
            else:
                return CoercedRow(
                    key=tuple(values.get(attname) for attname in self._key_attnames),
                    item_key=item_key,
                    values=values,
                    many={},
                    file=item.file,
                    line=item.line,
                )
        problems: list[RowProblem] = []
        values = {}
        many: dict[str, list[Any]] = {}
        attributes = item.attributes
        for plan in self._plans:
            raw = attributes.get(plan.attribute, MISSING)
            shortcut = plan.shortcut
            if shortcut is not None and raw is not MISSING:
                value = shortcut(raw)
                if value is not SLOW:
                    values[plan.attname] = value
                    continue
            if raw is MISSING:
                value = self._missing_value(plan, item, item_key, problems)
                if value is MISSING:
                    continue
            else:
                try:
                    python_value = deserialize_value(raw, path=plan.attribute)
                except DeserializeError as error:
                    problems.append(
                        self._problem(item, item_key, plan, raw, error.reason, error.path)
                    )
                    continue
                if python_value is None:
                    if plan.model_field.null or plan.model_field.many_to_many:
                        value = None if not plan.model_field.many_to_many else []
                    else:
                        problems.append(
                            self._problem(
                                item,
                                item_key,
                                plan,
                                raw,
                                f"is null, but {plan.label} does not allow null",
                            )
                        )
                        continue
                else:
                    try:
                        value = plan.convert(python_value)
                    except ConversionError as error:
                        problems.append(self._problem(item, item_key, plan, raw, str(error)))
                        continue
            if plan.model_field.many_to_many:
                many[plan.model_field.name] = value
            else:
                values[plan.model_field.attname] = value
        if self._catch_all is not None:
            extra = {}
            for name, raw in attributes.items():
                if name in self._to_catch_all or (
                    name not in self._mapped and name not in self._ignored
                ):
                    try:
                        extra[name] = to_json_value(deserialize_value(raw, path=name))
                    except DeserializeError as error:
                        problems.append(
                            RowProblem(
                                table=self.mapping.table,
                                message=error.reason,
                                file=item.file,
                                line=item.line,
                                item_key=item_key,
                                attribute=error.path or name,
                                field=self._catch_all.name,
                                raw_value=_raw_text(raw),
                            )
                        )
            values[self._catch_all.attname] = self._catch_all_convert(extra)
        if problems:
            return RowFailure(
                item_key=item_key, file=item.file, line=item.line, problems=tuple(problems)
            )
        key = tuple(values.get(attname) for attname in self._key_attnames)
        return CoercedRow(
            key=key, item_key=item_key, values=values, many=many, file=item.file, line=item.line
        )

    def _coerce_raw(self, item: SourceItem, item_key: str) -> CoercedRow | RowFailure:
        try:
            attributes = {
                name: to_json_value(deserialize_value(raw, path=name))
                for name, raw in item.attributes.items()
            }
        except DeserializeError as error:
            problem = RowProblem(
                table=self.mapping.table,
                message=error.reason,
                file=item.file,
                line=item.line,
                item_key=item_key,
                attribute=error.path,
                field="attributes",
                raw_value=_raw_text(item.attributes.get(error.path.split(".")[0].split("[")[0])),
            )
            return RowFailure(
                item_key=item_key, file=item.file, line=item.line, problems=(problem,)
            )
        raw_key = (
            dumps({name: attributes[name] for name in self.mapping.key})
            if self.mapping.key
            else dumps(attributes)
        )
        values = {"source_table": self.mapping.table, "item_key": raw_key, "attributes": attributes}
        return CoercedRow(
            key=(self.mapping.table, raw_key),
            item_key=item_key,
            values=values,
            file=item.file,
            line=item.line,
        )

    def _item_key(self, item: SourceItem) -> tuple[str, tuple[RowProblem, ...]]:
        # The common case first: every key attribute a well-formed scalar of the expected type.
        attributes = item.attributes
        quick: list[str] = []
        for name in self.mapping.key:
            raw = attributes.get(name)
            if type(raw) is not dict or len(raw) != 1:
                break
            ((tag, payload),) = raw.items()
            expected = self.key_types.get(name)
            if tag not in TYPE_NAMES or type(payload) is not str or (expected and tag != expected):
                break
            quick.append(f"{name}={payload}")
        else:
            return ", ".join(quick), ()
        parts: list[str] = []
        problems: list[RowProblem] = []

        def report(name: str, message: str, raw: Any = MISSING) -> None:
            problems.append(
                RowProblem(
                    table=self.mapping.table,
                    message=message,
                    file=item.file,
                    line=item.line,
                    attribute=name,
                    raw_value="" if raw is MISSING else _raw_text(raw),
                )
            )

        for name in self.mapping.key:
            raw = item.attributes.get(name, MISSING)
            if raw is MISSING:
                report(name, f"missing key attribute {name}")
                continue
            try:
                tag = type_tag(raw)
            except DeserializeError as error:
                report(name, f"key attribute {name}: {error.reason}", raw)
                continue
            expected = self.key_types.get(name)
            if expected and tag != expected:
                report(name, f"{name} has type {tag}, expected {expected}", raw)
            parts.append(f"{name}={_raw_text(raw)}")
        item_key = ", ".join(parts)
        return item_key, tuple(replace(problem, item_key=item_key) for problem in problems)

    def _missing_value(
        self, plan: _FieldPlan, item: SourceItem, item_key: str, problems: list[RowProblem]
    ) -> Any:
        model_field = plan.model_field
        if model_field.many_to_many:
            return []
        if model_field.has_default():
            return model_field.get_default()
        if model_field.null:
            return None
        if model_field.blank and model_field.empty_strings_allowed:
            return ""
        problems.append(
            self._problem(
                item,
                item_key,
                plan,
                MISSING,
                f"missing attribute {plan.attribute} ({plan.label} is required)",
            )
        )
        return MISSING

    def _problem(
        self,
        item: SourceItem,
        item_key: str,
        plan: _FieldPlan,
        raw: Any,
        message: str,
        path: str = "",
    ) -> RowProblem:
        return RowProblem(
            table=self.mapping.table,
            message=message,
            file=item.file,
            line=item.line,
            item_key=item_key,
            attribute=path or plan.attribute,
            field=plan.label,
            raw_value="" if raw is MISSING else _raw_text(raw),
        )


def _raw_text(raw: Any) -> str:
    """The raw value as the user wrote it: the bare text for scalars, JSON for the rest."""
    if raw is None or raw is MISSING:
        return ""
    if isinstance(raw, dict) and len(raw) == 1:
        ((tag, inner),) = raw.items()
        if tag in TYPE_NAMES and isinstance(inner, str):
            return inner
        raw = inner
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
