"""Convert one deserialized DynamoDB value into one model field's Python value, by the field's rules.

Each converter returns the value or raises ConversionError with a message in the user's terms
("not an integer", "is 41 characters; stock.Stock.name allows 40"). Dates are parsed only for date
and time fields, never guessed from strings elsewhere (CASES.md C09).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Callable, Set
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, models

from .jsonvalue import ExactJSONEncoder, to_json_value
from .mapping import Converter

INTEGER_TEXT = re.compile(r"-?\d+")
NUMBER_TEXT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
TRUE_TEXT = frozenset({"true", "1", "yes", "y", "t"})
FALSE_TEXT = frozenset({"false", "0", "no", "n", "f"})


class ConversionError(Exception):
    """The value cannot go into the field; the message says why, in the user's terms."""


ConvertFn = Callable[[Any], Any]


def describe(value: Any) -> str:
    """Name a value's DynamoDB kind for messages: "text", "a number", "a map"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Decimal):
        return "a number"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, Set):
        return "a set"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def converter_for(
    model_field: models.Field,
    *,
    converter: str = "",
    naive_timezone: str = "UTC",
    using: str = "default",
) -> ConvertFn:
    """Return the function that turns a DynamoDB value into `model_field`'s value (NULL excluded)."""
    label = f"{model_field.model._meta.label}.{model_field.name}"
    if isinstance(model_field, models.ForeignKey):
        return converter_for(
            model_field.target_field,
            converter=converter,
            naive_timezone=naive_timezone,
            using=using,
        )
    if isinstance(model_field, models.ManyToManyField):
        lookup = m2m_lookup_field(model_field)
        element = converter_for(lookup, naive_timezone=naive_timezone, using=using)
        return lambda value: _convert_many(value, element)
    if isinstance(model_field, models.BooleanField):
        return _to_bool
    if isinstance(model_field, models.DecimalField):
        return _checked(model_field, _to_decimal)
    if isinstance(model_field, (models.IntegerField, models.AutoField)):
        low, high = connections[using].ops.integer_field_range(model_field.get_internal_type())
        return _checked(model_field, lambda value: _to_int(value, low, high, label))
    if isinstance(model_field, models.FloatField):
        return _checked(model_field, _to_float)
    if isinstance(model_field, models.DateTimeField):
        return lambda value: _to_datetime(value, converter, naive_timezone)
    if isinstance(model_field, models.DateField):
        return lambda value: _to_date(value, converter, naive_timezone)
    if isinstance(model_field, models.TimeField):
        return _to_time
    if isinstance(model_field, models.UUIDField):
        return _to_uuid
    if isinstance(model_field, models.JSONField):
        exact = isinstance(model_field.encoder, type) and issubclass(
            model_field.encoder, ExactJSONEncoder
        )
        return lambda value: _to_json(value, exact=exact)
    if isinstance(model_field, models.BinaryField):
        return _checked(model_field, _to_bytes)
    base_field = getattr(model_field, "base_field", None)
    if base_field is not None:  # django.contrib.postgres ArrayField
        element = converter_for(base_field, naive_timezone=naive_timezone, using=using)
        return _checked(model_field, lambda value: _convert_many(value, element))
    if isinstance(model_field, (models.CharField, models.TextField)):
        return _text_converter(model_field, label, truncate=converter == Converter.TRUNCATE)
    raise ConversionError(
        f"{label} is a {type(model_field).__name__}, which the importer cannot fill"
    )


def m2m_lookup_field(model_field: models.ManyToManyField) -> models.Field:
    """The related model's field that DynamoDB values name: its first unique text field, else pk."""
    related = model_field.related_model
    for candidate in related._meta.concrete_fields:
        if (
            candidate.unique
            and not candidate.primary_key
            and isinstance(candidate, models.CharField)
        ):
            return candidate
    return related._meta.pk


def _checked(model_field: models.Field, convert: ConvertFn) -> ConvertFn:
    """Run the field's own validators (max digits, min value, ...) after converting."""

    def run(value: Any) -> Any:
        result = convert(value)
        try:
            model_field.run_validators(result)
        except ValidationError as error:
            raise ConversionError(" ".join(error.messages)) from None
        return result

    return run


def _text_converter(model_field: models.Field, label: str, *, truncate: bool) -> ConvertFn:
    max_length = model_field.max_length
    choices = {str(key) for key, _ in model_field.flatchoices} if model_field.choices else None

    def run(value: Any) -> Any:
        if isinstance(value, str):
            text = value
        elif isinstance(value, Decimal):
            text = str(value)
        else:
            raise ConversionError(f"expected text, got {describe(value)}")
        if max_length is not None and len(text) > max_length:
            if not truncate:
                raise ConversionError(f"is {len(text)} characters; {label} allows {max_length}")
            text = text[:max_length]
        if choices is not None and text not in choices and not (text == "" and model_field.blank):
            raise ConversionError(f"{text!r} is not one of: {', '.join(sorted(choices))}")
        if text == "" and not model_field.blank:
            raise ConversionError(f"is empty, but {label} may not be blank")
        if text:
            try:
                model_field.run_validators(text)
            except ValidationError as error:
                raise ConversionError(" ".join(error.messages)) from None
        return text

    return run


def _number_text(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value):
        return Decimal(value)
    raise ConversionError(f"expected a number, got {describe(value)}")


def _to_int(value: Any, low: int | None, high: int | None, label: str) -> int:
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value):
        number = int(value)
    else:
        decimal = _number_text(value)
        if decimal != decimal.to_integral_value():
            raise ConversionError("not an integer")
        number = int(decimal)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConversionError(f"{number} is out of range for {label} ({low} to {high})")
    return number


def _to_decimal(value: Any) -> Decimal:
    return _number_text(value)


def _to_float(value: Any) -> float:
    number = float(_number_text(value))
    if number in (float("inf"), float("-inf")):
        raise ConversionError("is too large for a floating-point field")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in TRUE_TEXT | FALSE_TEXT:
        return value.lower() in TRUE_TEXT
    raise ConversionError(f"expected a boolean, got {describe(value)} {_short(value)}")


def _epoch(value: Any, converter: str) -> dt.datetime:
    number = _number_text(value)
    scale = 1000 if converter == Converter.EPOCH_MILLISECONDS else 1_000_000
    try:
        # Whole microseconds from the exact decimal, so 1700000000123 ms is .123000, not .122999.
        microseconds = int((number * scale).to_integral_value())
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=microseconds)
    except (OverflowError, ValueError, ArithmeticError):
        raise ConversionError(f"{number} is out of range for a timestamp") from None


@cache
def _zone(name: str) -> dt.tzinfo:
    return dt.UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


def _to_datetime(value: Any, converter: str, naive_timezone: str) -> dt.datetime:
    if converter in (Converter.EPOCH_SECONDS, Converter.EPOCH_MILLISECONDS):
        if isinstance(value, Decimal) or (isinstance(value, str) and NUMBER_TEXT.fullmatch(value)):
            return _epoch(value, converter)
    if isinstance(value, Decimal):
        raise ConversionError(
            "is a number; choose the epoch seconds or epoch milliseconds converter for this field"
        )
    if not isinstance(value, str):
        raise ConversionError(f"expected a date and time, got {describe(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConversionError(
            f"{_short(value)} is not a date and time (expected ISO 8601, e.g. 2024-03-20T19:26:08Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(naive_timezone))
    return parsed.astimezone(dt.UTC)


def _to_date(value: Any, converter: str, naive_timezone: str) -> dt.date:
    if isinstance(value, Decimal) or converter:
        return _to_datetime(value, converter, naive_timezone).date()
    if not isinstance(value, str):
        raise ConversionError(f"expected a date, got {describe(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        raise ConversionError(f"{_short(value)} is not a date (expected YYYY-MM-DD)") from None


def _to_time(value: Any) -> dt.time:
    if not isinstance(value, str):
        raise ConversionError(f"expected a time, got {describe(value)}")
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ConversionError(f"{_short(value)} is not a time (expected HH:MM[:SS])") from None


def _to_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return uuid.UUID(bytes=bytes(value))
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ConversionError(f"{_short(value)} is not a UUID")


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise ConversionError(f"expected binary, got {describe(value)}")


def _to_json(value: Any, *, exact: bool) -> Any:
    data = to_json_value(value)
    return data if exact else _plain_numbers(data)


def _plain_numbers(data: Any) -> Any:
    # A JSONField with the standard encoder cannot take Decimal. Non-integers become floats when
    # the float prints as the same digits (9.99 → 9.99), otherwise the exact digits as text.
    if isinstance(data, Decimal):
        as_float = float(data)
        return as_float if Decimal(repr(as_float)) == data else str(data)
    if isinstance(data, dict):
        return {key: _plain_numbers(item) for key, item in data.items()}
    if isinstance(data, list):
        return [_plain_numbers(item) for item in data]
    return data


def _convert_many(value: Any, element: ConvertFn) -> list[Any]:
    if isinstance(value, Set):
        items = sorted(value)
    elif isinstance(value, list):
        items = value
    else:
        raise ConversionError(f"expected a set or a list, got {describe(value)}")
    return [element(item) for item in items]


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"
