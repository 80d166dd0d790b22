"""DynamoDB JSON attribute values to Python: exact Decimals, bytes, sets, strict validation.

Pure Python and on the hot path: one dict lookup per value, error paths built only on failure.
Unlike boto3's TypeDeserializer (FORMATS.md 6, 7.4) it decodes base64 and enforces DynamoDB's
number grammar, 38 digits and range, raising DeserializeError instead of passing values through.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from importer.errors import DeserializeError

TYPE_NAMES: dict[str, str] = {
    "S": "string",
    "N": "number",
    "B": "binary",
    "SS": "string set",
    "NS": "number set",
    "BS": "binary set",
    "M": "map",
    "L": "list",
    "NULL": "null",
    "BOOL": "boolean",
}

MAX_DIGITS = 38
MAX_DEPTH = 32  # nested M/L levels DynamoDB allows in one attribute
_MIN_ADJUSTED, _MAX_ADJUSTED = -130, 125  # 1E-130 <= |x| <= 9.99...E+125 (38 nines)

# Data Pipeline / Java SDK v1 files spell tags in camel or lower case (FORMATS.md 4.6).
_TAG_ALIASES = {tag.lower(): tag for tag in TYPE_NAMES} | {"nullvalue": "NULL"}

# [0-9], not \d: Decimal() would also accept other scripts' digits, "_" separators and spaces.
_NUMBER = re.compile(r"-?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?").fullmatch
_STRICT = Context(traps=[InvalidOperation])
_TOO_DEEP = f"value is nested more than {MAX_DEPTH} levels deep; DynamoDB's limit"


def deserialize_item(attributes: dict[str, Any]) -> dict[str, Any]:
    """Turn a DynamoDB JSON attribute map (name -> {"TAG": value}) into name -> Python value."""
    if not isinstance(attributes, dict):
        raise DeserializeError(f"an item must be a JSON object, got {_kind(attributes)}")
    try:
        return _entries(attributes, 0)
    except DeserializeError as error:
        raise DeserializeError(error.reason, path=error.path.removeprefix(".")) from None


def deserialize_value(value: Any, *, path: str = "") -> Any:
    """Turn one DynamoDB JSON attribute value into Python; errors name `path` and below."""
    try:
        return _value(value, 0)
    except DeserializeError as error:
        full_path = f"{path}{error.path}" if path else error.path.removeprefix(".")
        raise DeserializeError(error.reason, path=full_path) from None


def parse_number(text: str, *, path: str = "") -> Decimal:
    """Parse a DynamoDB number string exactly, enforcing 38 digits and DynamoDB's range."""
    try:
        return _number(text, 0)
    except DeserializeError as error:
        raise DeserializeError(error.reason, path=path) from None


def type_tag(value: Any) -> str:
    """Return the normalized tag of one attribute value ("SS" for {"sS": [...]})."""
    return _split(value)[0]


def _value(value: Any, depth: int) -> Any:
    if type(value) is dict and len(value) == 1:
        for tag, payload in value.items():
            # Strings and plain numbers are most values: skip the handler call for them.
            if type(payload) is str:
                if tag == "S":
                    return payload
                # Plain (no exponent) and short: always within DynamoDB's range and digits.
                if tag == "N" and len(payload) <= MAX_DIGITS and not payload.strip("0123456789.-"):
                    try:
                        return Decimal(payload, _STRICT)  # exact; _STRICT: see _number
                    except InvalidOperation:
                        pass
            handler = _HANDLERS.get(tag)
            if handler is not None:
                return handler(payload, depth)
    tag, payload = _split(value)
    return _HANDLERS[tag](payload, depth)


def _split(value: Any) -> tuple[str, Any]:
    if not isinstance(value, dict):
        raise DeserializeError(
            f'expected a DynamoDB attribute value such as {{"S": "text"}}, got {_kind(value)}'
        )
    if not value:
        raise DeserializeError("empty attribute value {} has no type tag")
    if len(value) > 1:
        tags = ", ".join(str(key) for key in value)
        raise DeserializeError(f"value has {len(value)} type tags ({tags}); expected exactly one")
    ((tag, payload),) = value.items()
    normalized = tag if tag in TYPE_NAMES else _TAG_ALIASES.get(str(tag).lower())
    if normalized is None:
        raise DeserializeError(f"unknown type tag {_quote(str(tag))}")
    return normalized, payload


def _string(payload: Any, depth: int) -> str:
    if not isinstance(payload, str):
        raise DeserializeError(f"a string value must be a JSON string, got {_kind(payload)}")
    return payload


def _number(payload: Any, depth: int) -> Decimal:
    # Short numbers (nearly all) can't hold 39 digits, so only the range is left to check. The
    # strip test rules out what Decimal() takes but DynamoDB does not (spaces, "_", NaN, other
    # scripts' digits). Decimal(str) is exact; _STRICT only makes malformed text raise.
    if (
        type(payload) is str
        and len(payload) <= MAX_DIGITS
        and not payload.strip("0123456789.-+eE")
        and payload[:1] != "+"
    ):
        try:
            number = Decimal(payload, _STRICT)
        except InvalidOperation:
            pass  # the slow path names the problem
        else:
            if _MIN_ADJUSTED <= number.adjusted() <= _MAX_ADJUSTED:
                return number
    return _number_slowly(payload)


def _number_slowly(text: Any) -> Decimal:
    if not isinstance(text, str):
        raise DeserializeError(f"a number must be a JSON string, got {_kind(text)}")
    match = _NUMBER(text)
    if match is None:
        raise DeserializeError(f"{_quote(text)} is not a DynamoDB number")
    mantissa, exponent = match.groups()
    # An exponent this long is out of range for any mantissa that fits in memory, and would
    # make Decimal() raise instead of giving a value we can check.
    if exponent is not None and len(exponent.lstrip("+-").lstrip("0")) > 9:
        raise DeserializeError(f"{_clip(text)} is outside DynamoDB's number range")
    digits = mantissa.replace(".", "").strip("0")  # DynamoDB trims leading and trailing zeros
    if not digits:
        return Decimal(text)  # zero, whatever its exponent
    if len(digits) > MAX_DIGITS:
        raise DeserializeError(
            f"number has {len(digits)} significant digits; DynamoDB allows {MAX_DIGITS}"
        )
    number = Decimal(text)
    if not _MIN_ADJUSTED <= number.adjusted() <= _MAX_ADJUSTED:
        raise DeserializeError(f"{_clip(text)} is outside DynamoDB's number range")
    return number


def _binary(payload: Any, depth: int) -> bytes:
    if isinstance(payload, str):
        try:
            # strict_mode is what base64.b64decode(validate=True) does, minus a wrapper call.
            return binascii.a2b_base64(payload, strict_mode=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise DeserializeError("invalid base64 in binary value") from None
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)  # already decoded, as botocore hands it to boto3
    raise DeserializeError(f"a binary value must be a base64 string, got {_kind(payload)}")


def _set(tag: str, element: Callable[[Any, int], Any]) -> Callable[[Any, int], set[Any]]:
    name = TYPE_NAMES[tag]

    def parse(payload: Any, depth: int) -> set[Any]:
        if not isinstance(payload, list):
            raise DeserializeError(f"a {name} must be a JSON array, got {_kind(payload)}")
        if not payload:
            raise DeserializeError(f"empty {name} is not allowed")
        result: set[Any] = set()
        try:
            for item in payload:
                result.add(element(item, depth))
        except DeserializeError as error:
            # Sets keep no order, but the index still points at the offending JSON element.
            raise DeserializeError(error.reason, path=f"[{payload.index(item)}]") from None
        return result

    return parse


def _map(payload: Any, depth: int) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise DeserializeError(f"a map must be a JSON object, got {_kind(payload)}")
    if depth >= MAX_DEPTH:
        raise DeserializeError(_TOO_DEEP)
    return _entries(payload, depth + 1)


def _entries(payload: dict[str, Any], depth: int) -> dict[str, Any]:
    """The values of a map (or an item's attributes), the common ones without a call each."""
    result: dict[str, Any] = {}
    key = ""
    try:
        for key, item in payload.items():
            if type(item) is dict and len(item) == 1:
                # S, N (plain and short: always within DynamoDB's range and digits), BOOL and
                # M are most values: decided here; the rest (and every error) by _value.
                text = item.get("S")
                if type(text) is str:
                    result[key] = text
                    continue
                text = item.get("N")
                if type(text) is str:
                    if len(text) <= MAX_DIGITS and not text.strip("0123456789.-"):
                        try:
                            result[key] = Decimal(text, _STRICT)
                            continue
                        except InvalidOperation:
                            pass
                else:
                    flag = item.get("BOOL")
                    if flag is True or flag is False:
                        result[key] = flag
                        continue
                    inner = item.get("M")
                    if type(inner) is dict and depth < MAX_DEPTH:
                        result[key] = _entries(inner, depth + 1)
                        continue
            result[key] = _value(item, depth)
    except DeserializeError as error:
        raise DeserializeError(error.reason, path=f".{key}{error.path}") from None
    return result


def _list(payload: Any, depth: int) -> list[Any]:
    if not isinstance(payload, list):
        raise DeserializeError(f"a list must be a JSON array, got {_kind(payload)}")
    if depth >= MAX_DEPTH:
        raise DeserializeError(_TOO_DEEP)
    depth += 1
    result: list[Any] = []
    try:
        for item in payload:
            result.append(_value(item, depth))
    except DeserializeError as error:
        raise DeserializeError(error.reason, path=f"[{len(result)}]{error.path}") from None
    return result


def _null(payload: Any, depth: int) -> None:
    # DynamoDB only ever writes {"NULL": true}; like boto3 we ignore the payload.
    return None


def _boolean(payload: Any, depth: int) -> bool:
    if payload is True or payload is False:
        return payload
    raise DeserializeError(f"a boolean must be true or false, got {_kind(payload)}")


_HANDLERS: dict[str, Callable[[Any, int], Any]] = {
    "S": _string,
    "N": _number,
    "B": _binary,
    "SS": _set("SS", _string),
    "NS": _set("NS", _number),
    "BS": _set("BS", _binary),
    "M": _map,
    "L": _list,
    "NULL": _null,
    "BOOL": _boolean,
}


def _clip(text: str, limit: int = 60) -> str:
    # Error messages echo the input; a megabyte-long bogus number must not flood the report.
    return text if len(text) <= limit else text[:limit] + "..."


def _quote(text: str) -> str:
    return json.dumps(_clip(text), ensure_ascii=False)


def _kind(value: Any) -> str:
    """Describe a decoded JSON value for a message: `string "x"`, `number 5`, `true`, `array`."""
    if isinstance(value, str):
        return f"string {_quote(value)}"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float, Decimal)):
        return f"number {_clip(str(value))}"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def number_or_none(text: Any) -> Decimal | None:
    """The Decimal of an N payload that is short and valid (the common case), else None."""
    if (
        type(text) is str
        and len(text) <= MAX_DIGITS
        and not text.strip("0123456789.-+eE")
        and text[:1] != "+"
    ):
        try:
            number = Decimal(text, _STRICT)
        except InvalidOperation:
            return None
        if _MIN_ADJUSTED <= number.adjusted() <= _MAX_ADJUSTED:
            return number
    return None
