"""Check a mapping before any import runs: everything that would make it fail for every row.

Unknown models and fields, an attribute mapped twice onto one field, an import key that is not
mapped or not unique, required fields left unmapped, numbers sent to date fields without an epoch
converter (CASES.md C11), a catch-all that is not a JSONField.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .errors import MappingError
from .mapping import Converter, TableMapping, resolve_model
from .permissions import is_target
from .profile import TableProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingProblem:
    """One reason a table's mapping cannot work, attached to an attribute or field where it can be.

    `setting` names the table setting it is about ("mode", "key", ...), when it is about one.
    """

    table: str
    message: str
    attribute: str = ""
    field: str = ""
    setting: str = ""


def validate_mapping(
    mapping: TableMapping, profile: TableProfile | None = None
) -> list[MappingProblem]:
    """Return every problem of one table's mapping (empty when it can run)."""
    if mapping.is_skipped:
        return []
    problems: list[MappingProblem] = []

    def problem(message: str, *, attribute: str = "", field: str = "") -> None:
        problems.append(
            MappingProblem(table=mapping.table, message=message, attribute=attribute, field=field)
        )

    try:
        model = resolve_model(mapping.target)
    except MappingError as error:
        problem(str(error))
        return problems
    if not is_target(model):
        problem(
            f"{model._meta.label} cannot be an import target: only the project's own models can "
            "(not Django's, an installed package's or the importer's bookkeeping)"
        )
        return problems
    if mapping.is_raw:
        if profile is not None:
            for name in mapping.key:
                attribute = profile.attribute(name)
                if attribute is None:
                    problem(f"key attribute {name} does not occur in the export", attribute=name)
                elif not attribute.unique or attribute.present < profile.items:
                    if len(mapping.key) == 1:
                        problem(
                            f"key attribute {name} is not present and unique in every item",
                            attribute=name,
                        )
        return problems

    label = model._meta.label
    catch_all = None
    if mapping.catch_all:
        catch_all = _field(model, mapping.catch_all)
        if not isinstance(catch_all, models.JSONField):
            problem(
                f"catch-all {mapping.catch_all!r} must be a JSONField of {label}",
                field=mapping.catch_all,
            )
    seen: dict[str, str] = {}
    for item in mapping.fields:
        if not item.field or item.field == mapping.catch_all:
            continue
        model_field = _field(model, item.field)
        if model_field is None:
            problem(
                f"{label} has no field {item.field!r}", attribute=item.attribute, field=item.field
            )
            continue
        if item.field in seen:
            problem(
                f"{item.field} is mapped from both {seen[item.field]} and {item.attribute}",
                attribute=item.attribute,
                field=item.field,
            )
        seen[item.field] = item.attribute
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            problem(
                f"{item.field} is set by Django on every save (auto_now/auto_now_add): "
                f"the imported {item.attribute} would be replaced by the time of the import",
                attribute=item.attribute,
                field=item.field,
            )
        attribute = profile.attribute(item.attribute) if profile is not None else None
        if (
            attribute is not None
            and "N" in attribute.types
            and isinstance(model_field, (models.DateTimeField, models.DateField))
            and item.converter not in (Converter.EPOCH_SECONDS, Converter.EPOCH_MILLISECONDS)
        ):
            problem(
                f"{item.attribute} holds numbers; choose epoch seconds or epoch milliseconds "
                f"for {item.field}",
                attribute=item.attribute,
                field=item.field,
            )
    if not mapping.key:
        problem("choose an import key: the attribute(s) that identify an existing row")
    key_fields = []
    for name in mapping.key:
        item = mapping.field_for(name)
        if item is None or not item.field or item.field == mapping.catch_all:
            problem(f"key attribute {name} must be mapped to a field", attribute=name)
        else:
            key_fields.append(item.field)
    if key_fields and len(key_fields) == len(mapping.key) and not _is_unique(model, key_fields):
        problem(
            f"the import key ({', '.join(key_fields)}) is not unique in {label}: "
            "choose a primary key or a unique field",
        )
    for model_field in model._meta.concrete_fields:
        if model_field.name in seen or model_field.name == mapping.catch_all:
            continue
        if _is_required(model_field):
            problem(
                f"{model_field.name} is required but no attribute is mapped to it",
                field=model_field.name,
            )
    return problems


def validate_mappings(
    mappings: dict[str, TableMapping], profiles: dict[str, TableProfile]
) -> list[MappingProblem]:
    """Validate every table's mapping."""
    return [
        problem
        for name, mapping in mappings.items()
        for problem in validate_mapping(mapping, profiles.get(name))
    ]


def _field(model: type[models.Model], name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name)  # type: ignore[return-value]
    except FieldDoesNotExist:
        return None


def _is_required(model_field: models.Field) -> bool:
    """A field no row can do without: the same rule coerce applies to a missing attribute."""
    if model_field.primary_key and isinstance(
        model_field, (models.AutoField, models.BigAutoField, models.SmallAutoField)
    ):
        return False
    if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
        return False
    return not (
        model_field.has_default()
        or model_field.null
        or (model_field.blank and model_field.empty_strings_allowed)
    )


def _is_unique(model: type[models.Model], fields: list[str]) -> bool:
    if len(fields) == 1:
        model_field = _field(model, fields[0])
        if model_field is not None and (model_field.unique or model_field.primary_key):
            return True
    wanted = set(fields)
    for constraint in model._meta.total_unique_constraints:
        if set(constraint.fields) == wanted:
            return True
    return any(set(together) == wanted for together in model._meta.unique_together)
