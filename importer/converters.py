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
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant Python has
        raise ConversionError(f"{_short(value)} is out of range for a date and time") from None


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


# --- shortcuts: straight from the raw DynamoDB JSON, for the common cases -------------------

SLOW = object()  # a shortcut's answer when the value needs the full path (deserialize → convert)
_SHORT_INTEGER = re.compile(r"-?[0-9]{1,18}").fullmatch  # fits any integer column's range check
_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
# Exact classes the shortcuts (and importer/encode.py's fast lane) know the rules of.
INTEGER_FIELDS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
AUTO_FIELDS = (models.AutoField, models.BigAutoField, models.SmallAutoField)
TEXT_FIELDS = (models.CharField, models.TextField, models.SlugField, models.EmailField)


def shortcut_for(
    model_field: models.Field,
    *,
    converter: str = "",
    naive_timezone: str = "UTC",
    using: str = "default",
) -> ConvertFn | None:
    """Return a function from a raw attribute value ({"N": "12"}) to the field's value, or None.

    The function gives exactly what deserialize + `converter_for` give, skipping the Decimal and
    the dispatch (numbers stay text until the field needs them), or SLOW for anything else (other
    tags, NULL, a value in error): the full path then decides, and words any error. Exact
    classes only, so a subclass's own rules are never skipped.
    """
    shortcut = _shortcut(
        model_field, converter=converter, naive_timezone=naive_timezone, using=using
    )
    if shortcut is None or not model_field.null:
        return shortcut
    plain = shortcut

    def or_null(raw: Any) -> Any:
        # {"NULL": true} into a nullable field is NULL (whatever the payload, as deserialize).
        if type(raw) is dict and len(raw) == 1 and "NULL" in raw:
            return None
        return plain(raw)

    return or_null


def _shortcut(
    model_field: models.Field, *, converter: str, naive_timezone: str, using: str
) -> ConvertFn | None:
    kind = type(model_field)
    own_validators = [*model_field.default_validators, *model_field._validators]
    if kind in INTEGER_FIELDS or kind in AUTO_FIELDS:
        low, high = connections[using].ops.integer_field_range(model_field.get_internal_type())
        return _integer_shortcut(low, high, _validated(own_validators))
    if kind is models.DecimalField and not own_validators:
        return _decimal_shortcut(
            model_field.max_digits,
            model_field.decimal_places,
            converter_for(model_field, using=using),
        )
    if kind is models.FloatField and not own_validators:
        return _float_shortcut
    if kind is models.DecimalField or kind is models.FloatField:
        full = converter_for(model_field, using=using)
        return _number_shortcut(full)
    if kind is models.BooleanField:
        return _boolean_shortcut
    if kind in TEXT_FIELDS and not model_field.choices and converter != Converter.TRUNCATE:
        max_length = model_field.max_length
        others = [
            validator
            for validator in model_field.validators
            if not (
                (type(validator).__name__ == "MaxLengthValidator")
                and validator.limit_value == max_length
            )
        ]
        return _text_shortcut(max_length, _validated(others), blank=model_field.blank)
    if kind in (models.DateTimeField, models.DateField, models.TimeField):
        full = converter_for(model_field, converter=converter, naive_timezone=naive_timezone)
        return _string_shortcut(full)
    return None


def _validated(validators: list[Callable[[Any], None]]) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        try:
            for validator in validators:
                validator(value)
        except ValidationError:
            return False
        return True

    return valid


def _integer_shortcut(low: int | None, high: int | None, valid: Callable[[Any], bool]) -> ConvertFn:
    def run(raw: Any) -> Any:
        if type(raw) is dict and len(raw) == 1:
            text = raw.get("N")
            if type(text) is str and _SHORT_INTEGER(text):
                number = int(text)
                if (low is None or number >= low) and (high is None or number <= high):
                    if valid(number):
                        return number
        return SLOW

    return run


def _number_shortcut(full: ConvertFn) -> ConvertFn:
    from .deserialize import number_or_none

    def run(raw: Any) -> Any:
        if type(raw) is dict and len(raw) == 1:
            number = number_or_none(raw.get("N"))
            if number is not None:
                try:
                    return full(number)
                except ConversionError:
                    pass
        return SLOW

    return run


def _decimal_shortcut(max_digits: int, decimal_places: int, full: ConvertFn) -> ConvertFn:
    from .deserialize import number_or_none

    whole_limit = max_digits - decimal_places

    def run(raw: Any) -> Any:
        if type(raw) is dict and len(raw) == 1:
            number = number_or_none(raw.get("N"))
            if number is not None:
                # DecimalValidator's digit counts, inline (it costs ~2 µs a call); any value it
                # might refuse takes the full path, which words the refusal.
                digits, exponent = number.as_tuple()[1:]
                if type(exponent) is int and 0 > exponent >= -len(digits):
                    if -exponent <= decimal_places and len(digits) + exponent <= whole_limit:
                        return number
                elif type(exponent) is int and exponent == 0 and len(digits) <= whole_limit:
                    return number
                try:
                    return full(number)
                except ConversionError:
                    pass
        return SLOW

    return run


def _float_shortcut(raw: Any) -> Any:
    if type(raw) is dict and len(raw) == 1:
        text = raw.get("N")
        # Up to 38 characters and no exponent: a valid DynamoDB number, well inside its range.
        if type(text) is str and len(text) <= 38 and _PLAIN_NUMBER(text):
            number = float(text)  # as float(Decimal(text)): both round the exact value once
            if number not in (float("inf"), float("-inf")):
                return number
    return SLOW


def _boolean_shortcut(raw: Any) -> Any:
    if type(raw) is dict and len(raw) == 1:
        value = raw.get("BOOL")
        if value is True or value is False:
            return value
    return SLOW


def _text_shortcut(
    max_length: int | None, valid: Callable[[Any], bool], *, blank: bool
) -> ConvertFn:
    def run(raw: Any) -> Any:
        if type(raw) is dict and len(raw) == 1:
            text = raw.get("S")
            if type(text) is str:
                if not text:
                    return text if blank else SLOW  # validators never see "" (Django's rule)
                if (max_length is None or len(text) <= max_length) and valid(text):
                    return text
        return SLOW

    return run


def _string_shortcut(full: ConvertFn) -> ConvertFn:
    def run(raw: Any) -> Any:
        if type(raw) is dict and len(raw) == 1:
            text = raw.get("S")
            if type(text) is str:
                try:
                    return full(text)
                except ConversionError:
                    pass
        return SLOW

    return run
