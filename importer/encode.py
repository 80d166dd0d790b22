"""Export lines straight to PostgreSQL COPY text: the fast lane of the staged write path.

A LineEncoder is built once per table from its RowCoercer. It decodes an export line with msgspec
against a schema of the mapped attributes only (each expecting the DynamoDB type its field takes;
other attributes are skipped unparsed) and writes each value as COPY text, by the rules of
importer/converters.py. Any line it is not sure of (another type, a value outside the common
cases, a missing value without a constant default, a backslash anywhere in the line) it hands
back: the caller takes that line down the generic path (deserialize → coerce), which decides and
words every error. The lane only changes speed; tests/test_fastpath.py holds it to that.

Why a backslash sends the line away: in JSON a string can only hold a tab, a newline, a carriage
return, a backslash or a NUL through an escape, and these are exactly what COPY text would have to
escape. A line without a backslash gives values that are COPY text as they are.
"""

from __future__ import annotations

import binascii
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any

import msgspec
import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models

from .coerce import RowCoercer
from .converters import AUTO_FIELDS, INTEGER_FIELDS, TEXT_FIELDS, _validated, _zone
from .deserialize import MAX_DEPTH
from .mapping import Converter

NULL = "\\N"  # COPY text for NULL
_UNSET = msgspec.UNSET
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Slow(Exception):
    """The value is not one the lane is sure of: the generic path must take the line."""


def _tagged(tag: str, payload: Any) -> type[msgspec.Struct]:
    # {"S": "text"} or {"NULL": true}; nothing else (forbid_unknown_fields). UNSET, not None,
    # for an absent tag: {"S": null} or {"S": "x", "NULL": null} are errors, not values.
    return msgspec.defstruct(
        f"Tagged{tag}",
        [(tag, payload | msgspec.UnsetType, _UNSET), ("NULL", bool | msgspec.UnsetType, _UNSET)],
        forbid_unknown_fields=True,
    )


_STRUCTS = {
    "S": _tagged("S", str),
    "N": _tagged("N", str),
    "B": _tagged("B", str),
    "BOOL": _tagged("BOOL", bool),
    "SS": _tagged("SS", list[str]),
    "NS": _tagged("NS", list[str]),
    "M": _tagged("M", dict[str, Any]),
    "L": _tagged("L", list[Any]),
}
_HEX = frozenset("0123456789abcdefABCDEF")
_PLAIN_JSON_ENCODERS = (None, DjangoJSONEncoder)  # give plain JSON data the same text
_SECONDS_TEXT = 19  # YYYY-MM-DDTHH:MM:SS


class LineEncoder:
    """Turn export lines of one table into COPY text rows for its staging table's columns."""

    def __init__(
        self,
        *,
        decode: Callable[[bytes], Any],
        fields: list[tuple[str, Callable[[Any], str]]],
        key: list[tuple[str, str, str]],
    ) -> None:
        self._decode = decode
        self._values = attrgetter(*[name for name, _ in fields]) if fields else None
        self._encoders = [encode for _, encode in fields]
        self._single = len(fields) == 1
        self._key = key

    @classmethod
    def build(
        cls,
        coercer: RowCoercer,
        *,
        columns: list[models.Field],
        naive_timezone: str,
        using: str,
    ) -> LineEncoder | None:
        """The encoder for `columns` (the staged fields, in order), or None if one has no lane."""
        mapping = coercer.mapping
        if mapping.is_raw or mapping.catch_all or coercer.many_fields:
            return None
        by_field = {plan.model_field.attname: plan for plan in coercer.field_plans}
        key_attributes = set(mapping.key)
        struct_fields: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        encoders: list[tuple[str, Callable[[Any], str]]] = []
        key: list[tuple[str, str, str]] = []
        for index, model_field in enumerate(columns):
            plan = by_field.get(model_field.attname)
            if plan is None:
                return None
            is_key = plan.attribute in key_attributes
            lane = _field_lane(
                model_field,
                converter=plan.converter,
                naive_timezone=naive_timezone,
                using=using,
                is_key=is_key,
                seen_type=coercer.key_types.get(plan.attribute, ""),
            )
            if lane is None:
                return None
            tag, struct_type, encode = lane
            name = f"f{index}"
            rename[name] = plan.attribute
            if is_key:
                # A key attribute must be there, with the type the profile found (as the
                # coercer checks it); its absence fails the decode, so the generic path says so.
                if tag != coercer.key_types.get(plan.attribute) or tag not in ("S", "N"):
                    return None
                struct_fields.append((name, struct_type))
                key.append((plan.attribute, name, tag))
            else:
                struct_fields.append((name, struct_type | msgspec.UnsetType, _UNSET))
            encoders.append((name, encode))
        if len(key) != len(mapping.key):
            return None
        key.sort(key=lambda entry: mapping.key.index(entry[0]))
        item = msgspec.defstruct("Item", struct_fields, rename=rename, kw_only=True)
        line = msgspec.defstruct("Line", [("Item", item)])
        return cls(decode=msgspec.json.Decoder(line).decode, fields=encoders, key=key)

    def encode(self, line: bytes) -> tuple[Any, list[str]] | None:
        """(the decoded item, its COPY text values), or None: the generic path takes the line."""
        if b"\\" in line:
            return None
        try:
            item = self._decode(line).Item
            if self._values is None:
                return item, []
            values = self._values(item)
            if self._single:
                return item, [self._encoders[0](values)]
            return item, [
                encode(value) for encode, value in zip(self._encoders, values, strict=True)
            ]
        except Exception:
            # Slow, msgspec's ValidationError or DecodeError, or anything unforeseen: the lane
            # never decides an error, the generic path decides and words it.
            return None

    def item_key(self, item: Any) -> str:
        """How reports name the item ("id=STK-1"), as RowCoercer words it."""
        return ", ".join(
            f"{attribute}={getattr(getattr(item, name), tag)}" for attribute, name, tag in self._key
        )


def _field_lane(
    model_field: models.Field,
    *,
    converter: str,
    naive_timezone: str,
    using: str,
    is_key: bool = False,
    seen_type: str = "",
) -> tuple[str, Any, Callable[[Any], str]] | None:
    """(tag, msgspec type of the attribute, value → COPY text) for one field, or None.

    `seen_type` is the type the profile found most in the attribute: a JSON field takes any
    type, and its lane takes the one it will see most.
    """
    value_field = model_field
    if isinstance(model_field, models.ForeignKey):
        value_field = model_field.target_field  # the value is the related row's key
        if isinstance(value_field, models.ForeignKey):
            return None
    lane = _value_lane(
        value_field,
        converter=converter,
        naive_timezone=naive_timezone,
        using=using,
        seen_type=seen_type,
    )
    if lane is None or (is_key and lane[0] not in ("S", "N")):
        return None
    tag, encode_payload = lane
    nullable = model_field.null and not is_key
    missing = None if is_key else _missing_text(model_field)
    get_payload = attrgetter(tag)

    def encode(value: Any) -> str:
        if value is _UNSET:
            if missing is None:
                raise Slow
            return missing
        payload = get_payload(value)
        if value.NULL is _UNSET:
            if payload is _UNSET:
                raise Slow
            return encode_payload(payload)
        if payload is _UNSET and nullable:
            return NULL  # {"NULL": true} (or false: DynamoDB's NULL ignores its payload)
        raise Slow

    return tag, _STRUCTS[tag], encode


def _missing_text(model_field: models.Field) -> str | None:
    """COPY text for an absent attribute (the coercer's rule), or None when only it can say."""
    if model_field.has_default():
        default = model_field.default
        if isinstance(model_field, models.JSONField):
            if default is dict or default is list:  # JSONField(default=dict): a new empty one
                return "{}" if default is dict else "[]"
            return None  # any other JSON default: the coercer writes it
        if isinstance(model_field, models.BinaryField) or callable(default):
            return None
        if default is None:
            return NULL
        if isinstance(default, bool):
            return "t" if default else "f"
        if isinstance(default, (int, Decimal)):
            return str(default)
        if isinstance(default, str) and not any(c in default for c in "\\\t\n\r"):
            return default
        return None
    if model_field.null:
        return NULL
    if model_field.blank and model_field.empty_strings_allowed:
        return ""
    return None


def _own_validators(model_field: models.Field) -> list[Callable[[Any], None]]:
    return [*model_field.default_validators, *model_field._validators]


def _value_lane(
    model_field: models.Field,
    *,
    converter: str,
    naive_timezone: str,
    using: str,
    seen_type: str = "",
) -> tuple[str, Callable[[Any], str]] | None:
    """(the DynamoDB tag the lane takes, payload → COPY text) by the field's own rules."""
    kind = type(model_field)
    if kind in INTEGER_FIELDS or kind in AUTO_FIELDS:
        low, high = connections[using].ops.integer_field_range(model_field.get_internal_type())
        return "N", _integer_text(low, high, _own_validators(model_field))
    if kind is models.DecimalField and not _own_validators(model_field):
        return "N", _decimal_text(model_field.max_digits, model_field.decimal_places)
    if kind is models.FloatField and not _own_validators(model_field):
        return "N", _float_text
    if kind is models.BooleanField:
        return "BOOL", _boolean_text
    if kind in TEXT_FIELDS and converter != Converter.TRUNCATE:
        max_length = model_field.max_length
        others = [
            validator
            for validator in model_field.validators
            if not (
                type(validator).__name__ == "MaxLengthValidator"
                and validator.limit_value == max_length
            )
        ]
        choices = (
            frozenset(str(key) for key, _ in model_field.flatchoices)
            if model_field.choices
            else None
        )
        return "S", _text(max_length, others, choices, blank=model_field.blank)
    if kind is models.DateTimeField:
        if converter in (Converter.EPOCH_SECONDS, Converter.EPOCH_MILLISECONDS):
            return "N", _epoch_text(milliseconds=converter == Converter.EPOCH_MILLISECONDS)
        if converter:
            return None
        return "S", _datetime_text(_zone(naive_timezone))
    if kind is models.DateField and not converter:
        return "S", _date_text
    if kind is models.UUIDField:
        return "S", _uuid_text
    if kind is models.BinaryField:
        others = [
            validator
            for validator in model_field.validators
            if not (
                type(validator).__name__ == "MaxLengthValidator"
                and validator.limit_value == model_field.max_length
            )
        ]
        return "B", _binary_text(model_field.max_length, others)
    if kind is models.JSONField and model_field.encoder in _PLAIN_JSON_ENCODERS:
        encode_json = _JSON_TEXT.get(seen_type)
        return None if encode_json is None else (seen_type, encode_json)
    return None


def _integer_text(
    low: int | None, high: int | None, validators: list[Callable[[Any], None]]
) -> Callable[[str], str]:
    valid = _validated(validators)

    def encode(text: str) -> str:
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            number = int(text)
            if (low is None or number >= low) and (high is None or number <= high):
                if not validators or valid(number):
                    return text
        raise Slow

    return encode


def _decimal_text(max_digits: int, decimal_places: int) -> Callable[[str], str]:
    whole_limit = max_digits - decimal_places

    def encode(text: str) -> str:
        # DecimalValidator's digit counts, read off canonical text (no leading zeros, no
        # exponent); any other spelling goes to the generic path, which counts exactly.
        whole, point, fraction = text.removeprefix("-").partition(".")
        if (
            whole.isascii()
            and whole.isdigit()
            and (whole == "0" or whole[0] != "0")
            and len(whole) + len(fraction) <= 38
        ):
            if not point:
                if len(whole) <= whole_limit:
                    return text
            elif fraction.isascii() and fraction.isdigit() and len(fraction) <= decimal_places:
                if (0 if whole == "0" else len(whole)) <= whole_limit:
                    return text
        raise Slow

    return encode


def _float_text(text: str) -> str:
    # Plain decimal text: PostgreSQL reads it to the same double as float() (both round once).
    whole, point, fraction = text.removeprefix("-").partition(".")
    if (
        whole.isascii()
        and whole.isdigit()
        and len(text) <= 38
        and (not point or (fraction.isascii() and fraction.isdigit()))
    ):
        return text
    raise Slow


def _boolean_text(value: bool) -> str:
    return "t" if value else "f"


def _text(
    max_length: int | None,
    validators: list[Callable[[Any], None]],
    choices: frozenset[str] | None,
    *,
    blank: bool,
) -> Callable[[str], str]:
    valid = _validated(validators)

    def encode(text: str) -> str:
        if not text:
            if blank:
                return text
            raise Slow
        if max_length is not None and len(text) > max_length:
            raise Slow
        if choices is not None and text not in choices:
            raise Slow
        if validators and not valid(text):
            raise Slow
        return text

    return encode


def _datetime_text(zone: dt.tzinfo) -> Callable[[str], str]:
    parse = dt.datetime.fromisoformat

    def encode(text: str) -> str:
        try:
            parsed = parse(text)
        except ValueError:
            raise Slow from None
        if not 1 < parsed.year < 9999:  # the generic path words the out-of-range years
            raise Slow
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=zone).isoformat()
        if _is_rfc3339(text):
            return text  # PostgreSQL reads this spelling as the same instant
        # Other spellings (a seconds offset, a week date...): the instant, in UTC.
        return parsed.astimezone(dt.UTC).isoformat()

    return encode


def _is_rfc3339(text: str) -> bool:
    """YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM), already known to parse (fromisoformat)."""
    if text[-1:] == "Z":
        body = text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
        body = text[:-6]
    else:
        return False
    if text[10:11] != "T" or body[4:5] != "-" or body[7:8] != "-" or body[13:14] != ":":
        return False
    if len(body) < _SECONDS_TEXT:
        return False  # 2024-03-20T19:26Z: no seconds
    if len(body) == _SECONDS_TEXT:
        return body[16] == ":"
    fraction = body[_SECONDS_TEXT + 1 :]
    return (
        body[16] == ":"
        and body[_SECONDS_TEXT] == "."
        and 0 < len(fraction) <= 6
        and fraction.isdigit()
    )


def _epoch_text(*, milliseconds: bool) -> Callable[[str], str]:
    def encode(text: str) -> str:
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 15:
            number = int(text)
            try:
                delta = (
                    dt.timedelta(milliseconds=number)
                    if milliseconds
                    else dt.timedelta(seconds=number)
                )
                return (_EPOCH + delta).isoformat()
            except OverflowError:
                pass
        raise Slow

    return encode


def _date_text(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise Slow from None


def _uuid_text(text: str) -> str:
    if (
        len(text) == 36
        and text[8] == text[13] == text[18] == text[23] == "-"
        and _HEX.issuperset(text.replace("-", ""))
    ):
        return text
    raise Slow


def _binary_text(
    max_length: int | None, validators: list[Callable[[Any], None]]
) -> Callable[[str], str]:
    valid = _validated(validators)

    def encode(text: str) -> str:
        try:
            data = binascii.a2b_base64(text, strict_mode=True)
        except ValueError:
            raise Slow from None
        if max_length is not None and len(data) > max_length:
            raise Slow
        if validators and not valid(data):
            raise Slow
        return "\\\\x" + data.hex()  # bytea's hex input, its backslash escaped for COPY

    return encode


def _json_dumps(data: Any) -> str:
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        raise Slow from None


def _json_set(payload: list[str]) -> str:
    if not payload:
        raise Slow  # an empty set is not allowed
    return orjson.dumps(sorted(set(payload))).decode()


def _json_number_set(payload: list[str]) -> str:
    if not payload:
        raise Slow
    return orjson.dumps(sorted(set(map(_json_integer, payload)))).decode()


def _json_boolean(payload: bool) -> str:
    return "true" if payload else "false"


# What a JSON field gets, by the attribute's type: what converters._to_json gives, as text.
_JSON_TEXT: dict[str, Callable[[Any], str]] = {
    "S": lambda payload: orjson.dumps(payload).decode(),
    "N": lambda payload: _json_dumps(_json_number(payload)),
    "BOOL": _json_boolean,
    "SS": _json_set,
    "NS": _json_number_set,
    "M": lambda payload: _json_dumps(_plain_map(payload, 1)),
    "L": lambda payload: _json_dumps([_plain(item, 1) for item in payload]),
}


def _plain(value: Any, depth: int) -> Any:
    """A DynamoDB JSON value as plain JSON data, for the common cases; Slow for the rest."""
    if type(value) is not dict or len(value) != 1:
        raise Slow
    ((tag, payload),) = value.items()
    if tag == "S":
        if type(payload) is str:
            return payload
    elif tag == "N":
        if type(payload) is str:
            return _json_number(payload)
    elif tag == "BOOL":
        if payload is True or payload is False:
            return payload
    elif tag == "NULL":
        return None
    elif tag == "M":
        if type(payload) is dict and depth < MAX_DEPTH:
            return _plain_map(payload, depth + 1)
    elif tag == "L":
        if type(payload) is list and depth < MAX_DEPTH:
            return [_plain(item, depth + 1) for item in payload]
    elif tag == "SS":
        if type(payload) is list and payload and all(type(item) is str for item in payload):
            return sorted(set(payload))
    elif tag == "NS":
        if type(payload) is list and payload:
            numbers = set(map(_json_integer, payload))
            return sorted(numbers)
    raise Slow


def _plain_map(payload: dict[str, Any], depth: int) -> dict[str, Any]:
    """A map's entries as plain JSON data; strings and integers (most entries) inline."""
    if depth > MAX_DEPTH:
        raise Slow
    result = {}
    for key, item in payload.items():
        if type(item) is dict and len(item) == 1:
            text = item.get("S")
            if type(text) is str:
                result[key] = text
                continue
            text = item.get("N")
            if type(text) is str:
                digits = text[1:] if text[:1] == "-" else text
                if digits.isascii() and digits.isdigit() and len(digits) <= 18:
                    result[key] = int(text)
                    continue
        result[key] = _plain(item, depth)
    return result


def _json_integer(text: Any) -> int:
    if type(text) is str:
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            return int(text)
    raise Slow


def _json_number(text: str) -> int | float | str:
    """A number inside JSON: whole numbers as integers; others as the float that prints them.

    As jsonvalue.to_json_value + converters._plain_numbers give for plain (no exponent) text.
    """
    digits = text[1:] if text[:1] == "-" else text
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(text)
    whole, point, fraction = digits.partition(".")
    if (
        point
        and whole.isascii()
        and whole.isdigit()
        and fraction.isascii()
        and fraction.isdigit()
        and len(whole) + len(fraction) <= 38
    ):
        exact = Decimal(text)
        if exact == exact.to_integral_value():
            return int(exact)  # "3.0" is the integer 3
        number = float(text)
        if repr(number) == text or Decimal(repr(number)) == exact:
            return number
        return str(exact)  # no float prints these digits: the exact digits, as text
    raise Slow
