"""Exact JSON for DynamoDB values: numbers keep every digit, sets become sorted lists.

The rule (documented in the README): a DynamoDB number goes into JSON as the exact number literal
DynamoDB sent (integers as integers, `9.99` as `9.99`, `1E+100` as `1E+100`), never through a float.
PostgreSQL's jsonb keeps such literals exactly (it stores JSON numbers as `numeric`); reading back
with `ExactJSONDecoder` gives `Decimal` for non-integers. Sets become lists sorted by value, and
binary becomes base64 text, since JSON has neither.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Set
from decimal import Decimal
from typing import Any

JSONValue = None | bool | int | Decimal | str | list["JSONValue"] | dict[str, "JSONValue"]


def to_json_value(value: Any) -> JSONValue:
    """Turn a deserialized DynamoDB value into plain JSON data (Decimal kept, sets sorted)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if _is_integral(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, Set):
        return [to_json_value(item) for item in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    raise TypeError(f"cannot store a {type(value).__name__} in JSON")


def _is_integral(number: Decimal) -> bool:
    # Whole numbers become JSON integers; astronomically large ones keep their exponent form
    # ("1E+100" stays 1E+100 rather than 101 digits the user never wrote).
    return number == number.to_integral_value() and number.adjusted() <= 40


def dumps(value: Any) -> str:
    """Serialize JSON data with exact Decimal literals."""
    return ExactJSONEncoder().encode(value)


def loads(text: str | bytes) -> Any:
    """Parse JSON text, giving Decimal for every non-integer number."""
    return json.loads(text, parse_float=Decimal)


class ExactJSONEncoder(json.JSONEncoder):
    """A JSONEncoder that writes Decimal as its exact literal (for JSONField(encoder=...))."""

    def encode(self, o: Any) -> str:
        return "".join(self.iterencode(o))

    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        yield from _encode(o)


def _encode(value: Any) -> Any:
    if value is None:
        yield "null"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif isinstance(value, str):
        yield json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be stored in JSON")
        yield str(int(value)) if _is_integral(value) else str(value)
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, float):
        yield json.dumps(value, allow_nan=False)
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ","
            yield json.dumps(str(key), ensure_ascii=False)
            yield ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, (list, tuple, Set)):
        items = sorted(value) if isinstance(value, Set) else value
        yield "["
        for index, item in enumerate(items):
            if index:
                yield ","
            yield from _encode(item)
        yield "]"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    else:
        raise TypeError(f"cannot store a {type(value).__name__} in JSON")


class ExactJSONDecoder(json.JSONDecoder):
    """A JSONDecoder that reads non-integer numbers as Decimal (for JSONField(decoder=...))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)
