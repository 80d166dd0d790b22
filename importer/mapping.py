"""Where each table and attribute goes: the Mapping value objects, their JSON, and suggestions.

A mapping is plain JSON (saved on a job, downloaded from the wizard, passed to
`import_dynamodb --mapping`)::

    {"version": 1, "tables": {"stock": {
        "target": "stock.Stock", "key": ["id"], "mode": "upsert", "on_error": "skip",
        "catch_all": "extra",
        "fields": {"id": {"field": "id"}, "createdAt": {"field": "created_at"},
                   "lastSeen": {"field": "last_seen_at", "converter": "epoch_ms"},
                   "promoCode": {"field": "extra"}, "legacy": {"field": null}}}}}

`target` is "app_label.Model", "raw" (importer.RawItem) or "skip". `key` lists the attributes
that identify an item (for "raw", its DynamoDB key). A field of null ignores the attribute; the
catch-all field (a JSONField) collects every attribute mapped to it, and every attribute the
mapping does not list, as {attribute: value}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from django.apps import apps
from django.db import models

from .errors import MappingError
from .profile import TableProfile

RAW = "raw"
SKIP = "skip"
MAPPING_VERSION = 1
CATCH_ALL_NAMES = ("extra", "extra_attributes", "extras")


class Mode(models.TextChoices):
    INSERT = "insert", "Insert new rows only"
    UPSERT = "upsert", "Insert new, update changed"
    REPLACE = "replace", "Clear the table first, then insert"


class ErrorPolicy(models.TextChoices):
    SKIP = "skip", "Skip bad rows and report them"
    ABORT = "abort", "Abort the whole import on the first bad row"


class Converter(models.TextChoices):
    """How to read a value where more than one reading makes sense."""

    EPOCH_SECONDS = "epoch_s", "Epoch seconds"
    EPOCH_MILLISECONDS = "epoch_ms", "Epoch milliseconds"
    TRUNCATE = "truncate", "Truncate over-long text"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldMapping:
    """One attribute → one model field (None: ignore it)."""

    attribute: str
    field: str | None
    converter: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TableMapping:
    """One table → one target, with its import key, mode, error policy and attribute mappings."""

    table: str
    target: str
    key: tuple[str, ...] = ()
    mode: str = Mode.UPSERT
    on_error: str = ErrorPolicy.SKIP
    fields: tuple[FieldMapping, ...] = ()
    catch_all: str | None = None

    @property
    def is_raw(self) -> bool:
        return self.target == RAW

    @property
    def is_skipped(self) -> bool:
        return self.target == SKIP

    def field_for(self, attribute: str) -> FieldMapping | None:
        return next((item for item in self.fields if item.attribute == attribute), None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "target": self.target,
            "key": list(self.key),
            "mode": str(self.mode),
            "on_error": str(self.on_error),
        }
        if self.catch_all:
            body["catch_all"] = self.catch_all
        if not self.is_raw and not self.is_skipped:
            body["fields"] = {
                item.attribute: (
                    {"field": item.field, "converter": item.converter}
                    if item.converter
                    else {"field": item.field}
                )
                for item in self.fields
            }
        return body

    @classmethod
    def from_json(cls, table: str, body: Any) -> TableMapping:
        where = f"mapping for table {table!r}"
        if not isinstance(body, dict):
            raise MappingError(f"{where}: expected an object")
        target = body.get("target")
        if not isinstance(target, str) or not target:
            raise MappingError(f'{where}: "target" must be "app_label.Model", "raw" or "skip"')
        key = body.get("key", [])
        if isinstance(key, str):
            key = [key]
        if not isinstance(key, list) or not all(isinstance(name, str) for name in key):
            raise MappingError(f'{where}: "key" must be a list of attribute names')
        mode = body.get("mode", Mode.UPSERT)
        if mode not in Mode.values:
            raise MappingError(f'{where}: "mode" must be one of {", ".join(Mode.values)}')
        on_error = body.get("on_error", ErrorPolicy.SKIP)
        if on_error not in ErrorPolicy.values:
            raise MappingError(
                f'{where}: "on_error" must be one of {", ".join(ErrorPolicy.values)}'
            )
        fields_body = body.get("fields", {})
        if not isinstance(fields_body, dict):
            raise MappingError(
                f'{where}: "fields" must be an object of attribute → {{"field": ...}}'
            )
        fields = []
        for attribute, spec in fields_body.items():
            if isinstance(spec, str) or spec is None:
                spec = {"field": spec}
            if not isinstance(spec, dict) or not isinstance(spec.get("field"), (str, type(None))):
                raise MappingError(
                    f'{where}: attribute {attribute!r} needs {{"field": name or null}}'
                )
            converter = spec.get("converter") or ""
            if not isinstance(converter, str):
                raise MappingError(
                    f'{where}: attribute {attribute!r}: "converter" must be a string'
                )
            if converter and converter not in Converter.values:
                raise MappingError(
                    f"{where}: attribute {attribute!r} has unknown converter {converter!r} "
                    f"(known: {', '.join(Converter.values)})"
                )
            fields.append(
                FieldMapping(attribute=attribute, field=spec["field"], converter=converter)
            )
        catch_all = body.get("catch_all") or None
        if catch_all is not None and not isinstance(catch_all, str):
            raise MappingError(f'{where}: "catch_all" must be the name of a JSONField, or absent')
        return cls(
            table=table,
            target=target,
            key=tuple(key),
            mode=mode,
            on_error=on_error,
            fields=tuple(fields),
            catch_all=catch_all,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingSet:
    """The mappings of every table of one import, keyed by table name."""

    tables: dict[str, TableMapping] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MAPPING_VERSION,
            "tables": {name: mapping.to_json() for name, mapping in self.tables.items()},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str | bytes, *, source: str = "mapping file") -> MappingSet:
        try:
            body = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise MappingError(f"{source} is not valid JSON: {error}") from None
        return cls.from_json(body, source=source)

    @classmethod
    def from_json(cls, body: Any, *, source: str = "mapping") -> MappingSet:
        """Build a MappingSet from parsed mapping JSON (as to_json returns it)."""
        if not isinstance(body, dict) or not isinstance(body.get("tables"), dict):
            raise MappingError(f'{source}: expected {{"version": 1, "tables": {{...}}}}')
        if body.get("version", MAPPING_VERSION) != MAPPING_VERSION:
            raise MappingError(f"{source}: unsupported version {body.get('version')!r}")
        return cls(
            tables={
                table: TableMapping.from_json(table, spec) for table, spec in body["tables"].items()
            }
        )


def resolve_model(target: str) -> type[models.Model]:
    """Return the model named "app_label.Model", or raise MappingError saying what exists."""
    if target == RAW:
        return apps.get_model("importer", "RawItem")
    try:
        return apps.get_model(target)
    except (LookupError, ValueError):
        raise MappingError(
            f"unknown model {target!r}: expected app_label.Model, e.g. stock.Stock, or raw/skip"
        ) from None


def normalize_name(name: str) -> str:
    """Fold a name for matching: createdAt ≈ created_at ≈ Created-At ≈ created at."""
    return re.sub(r"[\s_\-]", "", name).lower()


def importable_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields an attribute can go into: concrete fields and many-to-many fields."""
    concrete = [item for item in model._meta.concrete_fields if not _is_parent_link(item)]
    return [*concrete, *model._meta.many_to_many]


def _is_parent_link(model_field: models.Field) -> bool:
    return bool(getattr(model_field, "remote_field", None) and model_field.remote_field.parent_link)


def suggest_mapping(
    profile: TableProfile,
    *,
    target: str,
    key_attributes: tuple[str, ...] = (),
) -> TableMapping:
    """Propose a mapping of a profiled table onto `target` (model, raw or skip) by names and types."""
    if target == SKIP:
        return TableMapping(table=profile.table, target=SKIP)
    if target == RAW:
        key = key_attributes or profile.key_candidates[:1]
        return TableMapping(table=profile.table, target=RAW, key=tuple(key))
    model = resolve_model(target)
    by_name: dict[str, models.Field] = {}
    for model_field in importable_fields(model):
        by_name.setdefault(normalize_name(model_field.name), model_field)
        by_name.setdefault(normalize_name(model_field.attname), model_field)
    catch_all = next(
        (name for name in CATCH_ALL_NAMES if isinstance(_get_field(model, name), models.JSONField)),
        None,
    )
    taken: set[str] = set()
    fields: list[FieldMapping] = []
    for attribute in profile.attributes:
        model_field = by_name.get(normalize_name(attribute.name))
        if (
            model_field is not None
            and model_field.name not in taken
            and model_field.name != catch_all
        ):
            taken.add(model_field.name)
            fields.append(
                FieldMapping(
                    attribute=attribute.name,
                    field=model_field.name,
                    converter=_suggest_converter(model_field, attribute),
                )
            )
        else:
            fields.append(FieldMapping(attribute=attribute.name, field=catch_all))
    mapping = TableMapping(
        table=profile.table, target=target, fields=tuple(fields), catch_all=catch_all
    )
    return replace(mapping, key=_suggest_key(model, mapping, profile, key_attributes))


def _get_field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except Exception:  # FieldDoesNotExist
        return None


def _suggest_converter(model_field: models.Field, attribute: Any) -> str:
    if isinstance(model_field, (models.DateTimeField, models.DateField)) and "N" in attribute.types:
        # Epoch milliseconds pass 1e11 from 1973 on; seconds stay below it until year 5138.
        biggest = attribute.number_max
        return (
            Converter.EPOCH_MILLISECONDS
            if biggest is not None and biggest > 10**11
            else (Converter.EPOCH_SECONDS)
        )
    return ""


def _suggest_key(
    model: type[models.Model],
    mapping: TableMapping,
    profile: TableProfile,
    key_attributes: tuple[str, ...],
) -> tuple[str, ...]:
    field_to_attribute = {item.field: item.attribute for item in mapping.fields if item.field}
    if key_attributes and all(mapping.field_for(name) for name in key_attributes):
        return key_attributes
    pk = model._meta.pk
    if pk is not None and pk.name in field_to_attribute:
        return (field_to_attribute[pk.name],)
    for model_field in model._meta.concrete_fields:
        if model_field.unique and model_field.name in field_to_attribute:
            attribute = field_to_attribute[model_field.name]
            if attribute in profile.key_candidates:
                return (attribute,)
    return ()


def key_fields(mapping: TableMapping) -> tuple[str, ...]:
    """The model fields the import key attributes go into (the lookup for existing rows)."""
    fields = []
    for attribute in mapping.key:
        field_mapping = mapping.field_for(attribute)
        if field_mapping is None or not field_mapping.field:
            raise MappingError(
                f"table {mapping.table!r}: key attribute {attribute!r} is not mapped to a field"
            )
        fields.append(field_mapping.field)
    return tuple(fields)
