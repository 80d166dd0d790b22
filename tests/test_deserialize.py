"""Tests for importer.deserialize: boto3's conformance cases, DynamoDB's limits, CASES.md."""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from typing import Any

import pytest

from importer.deserialize import (
    TYPE_NAMES,
    deserialize_item,
    deserialize_value,
    parse_number,
    type_tag,
)
from importer.errors import DeserializeError, ImporterError

LARGEST = "9.9999999999999999999999999999999999999E+125"  # 38 nines


def assert_exact(result: Any, literal: str) -> None:
    """Assert `result` is the Decimal written `literal`, digit for digit (not just equal)."""
    assert type(result) is Decimal
    assert str(result) == literal


def error_of(value: Any) -> DeserializeError:
    """Deserialize `value`, expecting a DeserializeError, and return it."""
    with pytest.raises(DeserializeError) as caught:
        deserialize_value(value)
    return caught.value


# --- FORMATS.md 7.3: boto3's TypeDeserializer cases, rewritten --------------------------------


def test_boto3_case_1_unknown_tag() -> None:
    error = error_of({"FOO": "bar"})
    assert error.reason == 'unknown type tag "FOO"'
    assert error.path == ""


def test_boto3_case_2_empty_value() -> None:
    assert error_of({}).reason == "empty attribute value {} has no type tag"


def test_boto3_case_3_null() -> None:
    assert deserialize_value({"NULL": True}) is None


def test_boto3_case_4_bool() -> None:
    assert deserialize_value({"BOOL": False}) is False


def test_boto3_case_5_number() -> None:
    assert_exact(deserialize_value({"N": "1"}), "1")


def test_boto3_case_6_decimal_number() -> None:
    assert_exact(deserialize_value({"N": "1.25"}), "1.25")


def test_boto3_case_7_string() -> None:
    assert deserialize_value({"S": "foo"}) == "foo"


def test_boto3_case_8_binary_already_decoded() -> None:
    result = deserialize_value({"B": b"\x00"})
    assert type(result) is bytes
    assert result == b"\x00"


def test_boto3_case_9_number_set() -> None:
    assert deserialize_value({"NS": ["1", "1.25"]}) == {Decimal("1"), Decimal("1.25")}


def test_boto3_case_10_string_set() -> None:
    assert deserialize_value({"SS": ["foo", "bar"]}) == {"foo", "bar"}


def test_boto3_case_11_binary_set_already_decoded() -> None:
    assert deserialize_value({"BS": [b"\x00", b"\x01"]}) == {b"\x00", b"\x01"}


def test_boto3_case_12_list() -> None:
    value = {"L": [{"N": "1"}, {"S": "foo"}, {"L": [{"N": "1.25"}]}]}
    assert deserialize_value(value) == [Decimal("1"), "foo", [Decimal("1.25")]]


def test_boto3_case_13_map() -> None:
    value = {"M": {"foo": {"S": "mystring"}, "bar": {"M": {"baz": {"N": "1"}}}}}
    assert deserialize_value(value) == {"foo": "mystring", "bar": {"baz": Decimal("1")}}


# --- FORMATS.md 7.4 and 5.2: DynamoDB's own rules ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        (LARGEST, LARGEST),
        ("-" + LARGEST, "-" + LARGEST),
        ("1E-130", "1E-130"),
        ("-1E-130", "-1E-130"),
        (
            "1.0000000000000000000000000000000000000000",
            "1.0000000000000000000000000000000000000000",
        ),
        ("0.00000000000000000000000000000000000000000000012", "1.2E-46"),
        ("-0", "-0"),
        ("0", "0"),
        ("0E-200", "0E-200"),  # zero has no range
        (".5", "0.5"),
        ("5.", "5"),
        ("1e2", "1E+2"),
        ("1E+125", "1E+125"),
        ("007", "7"),
    ],
)
def test_number_accepted_exactly(text: str, literal: str) -> None:
    assert_exact(deserialize_value({"N": text}), literal)


def test_number_with_trailing_zeros_past_38_characters_equals_one() -> None:
    assert deserialize_value({"N": "1.0000000000000000000000000000000000000000"}) == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "123456789012345678901234567890123456789",
            "number has 39 significant digits; DynamoDB allows 38",
        ),
        (
            "1.23456789012345678901234567890123456789E+5",
            "number has 39 significant digits; DynamoDB allows 38",
        ),
        ("1E+126", "1E+126 is outside DynamoDB's number range"),
        ("-1E+126", "-1E+126 is outside DynamoDB's number range"),
        ("1E-131", "1E-131 is outside DynamoDB's number range"),
        ("0.1E-130", "0.1E-130 is outside DynamoDB's number range"),
        ("1" + "0" * 126, "1" + "0" * 59 + "... is outside DynamoDB's number range"),
        ("1E+99999999999999999999", "1E+99999999999999999999 is outside DynamoDB's number range"),
        ("NaN", '"NaN" is not a DynamoDB number'),
        ("0x10", '"0x10" is not a DynamoDB number'),
        (" 5", '" 5" is not a DynamoDB number'),
        ("5 ", '"5 " is not a DynamoDB number'),
        ("5\n", '"5\\n" is not a DynamoDB number'),
        ("+5", '"+5" is not a DynamoDB number'),
        ("Infinity", '"Infinity" is not a DynamoDB number'),
        ("-inf", '"-inf" is not a DynamoDB number'),
        ("1_000", '"1_000" is not a DynamoDB number'),
        ("١٢", '"١٢" is not a DynamoDB number'),  # Arabic-Indic digits: Decimal() takes them
        ("", '"" is not a DynamoDB number'),
        ("-", '"-" is not a DynamoDB number'),
        (".", '"." is not a DynamoDB number'),
        ("1-2", '"1-2" is not a DynamoDB number'),
        ("1e", '"1e" is not a DynamoDB number'),
        ("1.2.3", '"1.2.3" is not a DynamoDB number'),
        ("x" * 100, '"' + "x" * 60 + '..." is not a DynamoDB number'),
    ],
)
def test_number_rejected(text: str, reason: str) -> None:
    assert error_of({"N": text}).reason == reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (5, "a number must be a JSON string, got number 5"),
        (1.5, "a number must be a JSON string, got number 1.5"),
        (True, "a number must be a JSON string, got true"),
        (None, "a number must be a JSON string, got null"),
        (["1"], "a number must be a JSON string, got array"),
    ],
)
def test_number_must_be_a_string(payload: Any, reason: str) -> None:
    assert error_of({"N": payload}).reason == reason


def test_number_ignores_a_low_precision_thread_context() -> None:
    # Decimal(str) never rounds; NaN-for-garbage contexts must not leak NaN through either.
    with decimal.localcontext(prec=3) as context:
        context.traps[decimal.InvalidOperation] = False
        assert_exact(parse_number("123456.789"), "123456.789")
        assert_exact(parse_number("1" + "0" * 100), "1" + "0" * 100)
        with pytest.raises(DeserializeError):
            parse_number("1-2")


def test_parse_number_names_the_path() -> None:
    with pytest.raises(DeserializeError) as caught:
        parse_number("NaN", path="prices.eur")
    assert caught.value.path == "prices.eur"
    assert str(caught.value) == 'prices.eur: "NaN" is not a DynamoDB number'


def test_base64_binary_is_decoded() -> None:
    assert deserialize_value({"B": "aGVsbG8="}) == b"hello"


def test_empty_string_and_binary_are_allowed() -> None:
    assert deserialize_value({"S": ""}) == ""
    assert deserialize_value({"B": ""}) == b""


def test_bytearray_binary_becomes_bytes() -> None:
    result = deserialize_value({"B": bytearray(b"\x01\x02")})
    assert type(result) is bytes
    assert result == b"\x01\x02"


@pytest.mark.parametrize("text", ["aGVsbG8", "aGVsbG8==", "aGVs bG8=", "aGVsbG8=\n", "=aGVs", "é"])
def test_invalid_base64_rejected(text: str) -> None:
    assert error_of({"B": text}).reason == "invalid base64 in binary value"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"SS": []}, "empty string set is not allowed"),
        ({"NS": []}, "empty number set is not allowed"),
        ({"BS": []}, "empty binary set is not allowed"),
        ({"SS": "a"}, 'a string set must be a JSON array, got string "a"'),
        ({"M": []}, "a map must be a JSON object, got array"),
        ({"L": {}}, "a list must be a JSON array, got object"),
        ({"S": 5}, "a string value must be a JSON string, got number 5"),
        ({"B": 5}, "a binary value must be a base64 string, got number 5"),
        ({"BOOL": "true"}, 'a boolean must be true or false, got string "true"'),
        ({"BOOL": 1}, "a boolean must be true or false, got number 1"),
        ({"S": "a", "N": "1"}, "value has 2 type tags (S, N); expected exactly one"),
        ("a", 'expected a DynamoDB attribute value such as {"S": "text"}, got string "a"'),
        (None, 'expected a DynamoDB attribute value such as {"S": "text"}, got null'),
    ],
)
def test_invalid_value_rejected(value: Any, reason: str) -> None:
    assert error_of(value).reason == reason


def test_empty_map_and_list_are_allowed() -> None:
    assert deserialize_value({"M": {}}) == {}
    assert deserialize_value({"L": []}) == []


@pytest.mark.parametrize("payload", [True, False, None, "x"])
def test_null_ignores_its_payload_like_boto3(payload: Any) -> None:
    assert deserialize_value({"NULL": payload}) is None


def test_duplicate_set_elements_collapse() -> None:
    assert deserialize_value({"SS": ["a", "a"]}) == {"a"}
    assert deserialize_value({"NS": ["1", "1.0"]}) == {Decimal("1")}
    assert deserialize_value({"BS": ["aGk=", "aGk="]}) == {b"hi"}


def test_errors_are_importer_errors() -> None:
    assert isinstance(error_of({}), ImporterError)


# --- CASES.md -----------------------------------------------------------------------------------


def test_c01_one_followed_by_100_zeros_is_exact() -> None:
    result = deserialize_value({"N": "1" + "0" * 100})
    assert result == Decimal("1E+100")
    assert_exact(result, "1" + "0" * 100)


def test_c02_trailing_zeros_do_not_count_as_digits() -> None:
    result = deserialize_value({"N": "1234567895171680000000000000000000000000"})
    assert result == Decimal("1.23456789517168E+39")
    assert_exact(result, "1234567895171680000000000000000000000000")


def test_c05_base64_binary() -> None:
    assert deserialize_value({"B": "SGVsbG8="}) == b"Hello"
    assert deserialize_value({"M": {"files": {"BS": ["SGVsbG8="]}}}) == {"files": {b"Hello"}}


def test_c06_binary_and_number_sets() -> None:
    binary_set = {"BS": ["beba", "feca"]}
    number_set = {"NS": ["1", "2.5"]}
    assert deserialize_value(binary_set) == {b"m\xe6\xda", b"}\xe7\x1a"}
    assert deserialize_value(number_set) == {Decimal("1"), Decimal("2.5")}
    assert TYPE_NAMES[type_tag(binary_set)] == "binary set"
    assert TYPE_NAMES[type_tag(number_set)] == "number set"


def test_c07_scientific_notation() -> None:
    assert_exact(deserialize_value({"N": "3e5"}), "3E+5")
    assert deserialize_value({"N": "3e5"}) == 300000
    assert_exact(deserialize_value({"N": "-1.5E-3"}), "-0.0015")


def test_c08_negative_decimal() -> None:
    assert_exact(deserialize_value({"N": "-123.123"}), "-123.123")


# --- A real export line (FORMATS.md 1.4, scylladb/scylla-migrator) ------------------------------

SCYLLA_LINE = (
    '{"Item":{"id":{"S":"K3TXQk84Si"},"a":{"BOOL":false},"b":{"NULL":true},'
    '"c":{"SS":["8gfX8dh0xa","fRjHZJ2Ce9"]},"d":{"NS":["3","2"]},'
    '"e":{"L":[{"N":"1"},{"S":"Dsb87qc6Es"}]},'
    '"f":{"M":{"h":{"NULL":true},"i":{"BOOL":true},"g":{"N":"9"}}},'
    '"j":{"B":"aGVsbG8="},"k":{"BS":["aXMgZmFzdA==","c2N5bGxhZGI="]}}}'
)


def test_real_scylla_migrator_line() -> None:
    result = deserialize_item(json.loads(SCYLLA_LINE)["Item"])
    assert result == {
        "id": "K3TXQk84Si",
        "a": False,
        "b": None,
        "c": {"8gfX8dh0xa", "fRjHZJ2Ce9"},
        "d": {Decimal("3"), Decimal("2")},
        "e": [Decimal("1"), "Dsb87qc6Es"],
        "f": {"h": None, "i": True, "g": Decimal("9")},
        "j": b"hello",
        "k": {b"is fast", b"scylladb"},
    }
    assert list(result) == ["id", "a", "b", "c", "d", "e", "f", "j", "k"]
    assert result["a"] is False


# --- Type tags ----------------------------------------------------------------------------------


def test_type_names() -> None:
    assert TYPE_NAMES == {
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"s": "x"}, "x"),
        ({"n": "1.5"}, Decimal("1.5")),
        ({"b": "aGk="}, b"hi"),
        ({"sS": ["a"]}, {"a"}),
        ({"ss": ["a"]}, {"a"}),
        ({"nS": ["1"]}, {Decimal("1")}),
        ({"bS": ["aGk="]}, {b"hi"}),
        ({"m": {"a": {"s": "x"}}}, {"a": "x"}),
        ({"l": [{"n": "1"}, {"bOOL": True}]}, [Decimal("1"), True]),
        ({"nULLValue": True}, None),
        ({"null": True}, None),
        ({"bOOL": True}, True),
        ({"bool": False}, False),
    ],
)
def test_data_pipeline_tags_are_normalized(value: dict[str, Any], expected: Any) -> None:
    assert deserialize_value(value) == expected


def test_data_pipeline_line() -> None:
    item = {"name": {"s": "x"}, "age": {"n": "1"}, "tags": {"sS": ["a"]}}
    assert deserialize_item(item) == {"name": "x", "age": Decimal("1"), "tags": {"a"}}


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ({"S": "x"}, "S"),
        ({"NULL": True}, "NULL"),
        ({"sS": ["a"]}, "SS"),
        ({"nULLValue": True}, "NULL"),
        ({"Bool": True}, "BOOL"),
        ({"SS": []}, "SS"),  # type_tag reads the tag only, not the payload
    ],
)
def test_type_tag(value: dict[str, Any], tag: str) -> None:
    assert type_tag(value) == tag


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({}, "empty attribute value {} has no type tag"),
        ({"FOO": 1}, 'unknown type tag "FOO"'),
        ({"S": "a", "N": "1"}, "value has 2 type tags (S, N); expected exactly one"),
        ([], 'expected a DynamoDB attribute value such as {"S": "text"}, got array'),
    ],
)
def test_type_tag_rejects(value: Any, reason: str) -> None:
    with pytest.raises(DeserializeError) as caught:
        type_tag(value)
    assert caught.value.reason == reason


def test_map_keys_are_names_not_tags() -> None:
    assert deserialize_value({"M": {"S": {"S": "x"}}}) == {"S": "x"}
    value = {"M": {"N": {"N": "1"}, "M": {"M": {}}, "NULL": {"L": []}}}
    assert deserialize_value(value) == {"N": Decimal("1"), "M": {}, "NULL": []}
    assert deserialize_item({"S": {"N": "1"}, "BOOL": {"S": "no"}}) == {
        "S": Decimal("1"),
        "BOOL": "no",
    }


# --- Error paths --------------------------------------------------------------------------------


def test_nested_error_path() -> None:
    item = {"price": {"M": {"a": {"L": [{"N": "1"}, {"N": "x"}]}}}}
    with pytest.raises(DeserializeError) as caught:
        deserialize_item(item)
    assert caught.value.path == "price.a[1]"
    assert caught.value.reason == '"x" is not a DynamoDB number'
    assert str(caught.value) == 'price.a[1]: "x" is not a DynamoDB number'


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"ok": {"S": "x"}, "bad": {"N": "x"}}, "bad"),
        ({"tags": {"SS": ["a", "b", 3]}}, "tags[2]"),
        ({"tags": {"NS": ["1", "1", "NaN"]}}, "tags[2]"),
        ({"files": {"BS": ["aGk=", "!"]}}, "files[1]"),
        ({"grid": {"L": [{"L": [{"N": "1"}, {"S": 2}]}]}}, "grid[0][1]"),
        ({"m": {"M": {"x": {"M": {"y": {}}}}}}, "m.x.y"),
        ({"m": {"M": {"x": {"L": [{"M": {"y": {"FOO": 1}}}]}}}}, "m.x[0].y"),
        ({"flag": {"bool": "yes"}}, "flag"),
    ],
)
def test_error_path(item: dict[str, Any], path: str) -> None:
    with pytest.raises(DeserializeError) as caught:
        deserialize_item(item)
    assert caught.value.path == path


def test_deserialize_value_prefixes_the_given_path() -> None:
    with pytest.raises(DeserializeError) as caught:
        deserialize_value({"M": {"eur": {"N": "NaN"}}}, path="prices")
    assert caught.value.path == "prices.eur"
    with pytest.raises(DeserializeError) as caught:
        deserialize_value({"L": [{"N": "NaN"}]}, path="prices")
    assert caught.value.path == "prices[0]"
    assert error_of({"M": {"eur": {"N": "NaN"}}}).path == "eur"
    assert error_of({"L": [{"N": "NaN"}]}).path == "[0]"


def test_item_must_be_an_object() -> None:
    with pytest.raises(DeserializeError) as caught:
        deserialize_item([{"id": {"S": "a"}}])  # type: ignore[arg-type]
    assert caught.value.reason == "an item must be a JSON object, got array"
    assert caught.value.path == ""


# --- Nesting depth ------------------------------------------------------------------------------


def nested(levels: int, tag: str) -> dict[str, Any]:
    """Wrap {"S": "leaf"} in `levels` maps (each under key "a") or lists."""
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"a": value}} if tag == "M" else {"L": [value]}
    return value


def test_32_nested_levels_are_accepted() -> None:
    result = deserialize_value(nested(32, "M"))
    for _ in range(32):
        result = result["a"]
    assert result == "leaf"
    assert deserialize_value(nested(32, "L")) is not None


def test_33_nested_maps_are_rejected() -> None:
    with pytest.raises(DeserializeError) as caught:
        deserialize_item({"deep": nested(33, "M")})
    assert caught.value.reason == "value is nested more than 32 levels deep; DynamoDB's limit"
    assert caught.value.path == "deep" + ".a" * 32


def test_33_nested_lists_are_rejected() -> None:
    with pytest.raises(DeserializeError) as caught:
        deserialize_item({"deep": nested(33, "L")})
    assert caught.value.path == "deep" + "[0]" * 32


def test_far_too_deep_input_fails_cleanly() -> None:
    # Deeper than Python's recursion limit: rejected at level 33, never a RecursionError.
    assert error_of(nested(5000, "L")).path == "[0]" * 32
