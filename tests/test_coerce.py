"""Coercion of one item into one row: the type and conversion cases of CASES.md, exact values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from importer.coerce import CoercedRow, RowCoercer, RowFailure
from importer.mapping import Converter, FieldMapping, TableMapping
from importer.sources import SourceItem

UTC = dt.UTC


def coercer(fields: dict[str, str], *, converters: dict[str, str] | None = None, key=("code",)):
    converters = converters or {}
    mapping = TableMapping(
        table="readings",
        target="testapp.Reading",
        key=key,
        fields=tuple(
            FieldMapping(attribute=attribute, field=field, converter=converters.get(attribute, ""))
            for attribute, field in fields.items()
        ),
    )
    return RowCoercer(mapping)


def coerce_one(attribute: str, field: str, value: dict[str, Any], **kwargs: Any):
    result = coercer({"code": "code", attribute: field}, **kwargs).coerce(
        SourceItem(
            attributes={"code": {"S": "r1"}, attribute: value}, file="data/a.json.gz", line=7
        )
    )
    return result


def value_of(attribute: str, field: str, value: dict[str, Any], **kwargs: Any) -> Any:
    result = coerce_one(attribute, field, value, **kwargs)
    assert isinstance(result, CoercedRow), result
    return result.values[field]


def problem_of(attribute: str, field: str, value: dict[str, Any], **kwargs: Any):
    result = coerce_one(attribute, field, value, **kwargs)
    assert isinstance(result, RowFailure), result
    assert len(result.problems) == 1
    return result.problems[0]


def test_c01_huge_number_into_a_field_that_cannot_hold_it_is_a_row_error():
    problem = problem_of("amount", "amount", {"N": "1" + "0" * 100})
    assert problem.attribute == "amount"
    assert problem.field == "amount"
    assert problem.raw_value == "1" + "0" * 100
    assert problem.message == "Ensure that there are no more than 9 digits in total."


def test_c02_forty_digit_number_exact_in_decimal_and_json_out_of_range_in_bigint():
    text = "1234567895171680000000000000000000000000"
    assert value_of("huge", "huge_amount", {"N": text}) == Decimal(text)
    assert value_of("payload", "payload", {"N": text}) == int(text)
    problem = problem_of("big", "big_count", {"N": text})
    assert problem.message == (
        f"{text} is out of range for testapp.Reading.big_count "
        "(-9223372036854775808 to 9223372036854775807)"
    )


def test_c03_map_with_numbers_into_json_field():
    value = value_of(
        "payload",
        "payload",
        {"M": {"price": {"N": "9.99"}, "qty": {"N": "3"}, "tags": {"L": [{"N": "1"}]}}},
    )
    assert value == {"price": 9.99, "qty": 3, "tags": [1]}
    assert type(value["qty"]) is int


def test_c04_string_set_becomes_a_sorted_list():
    assert value_of("payload", "payload", {"SS": ["b", "a"]}) == ["a", "b"]
    assert value_of("payload", "payload", {"SS": ["a", "b"]}) == ["a", "b"]


def test_c05_binary_into_binary_field_and_binary_set_inside_a_map_into_json():
    assert value_of("blob", "blob", {"B": "SGVsbG8="}) == b"Hello"
    assert value_of("payload", "payload", {"M": {"files": {"BS": ["SGVsbG8=", "AA=="]}}}) == {
        "files": ["AA==", "SGVsbG8="]
    }


def test_c06_number_set_values_become_numbers():
    assert value_of("payload", "payload", {"NS": ["2.5", "1"]}) == [1, 2.5]


def test_c07_scientific_notation():
    assert value_of("count", "count", {"N": "3e5"}) == 300000
    assert value_of("small", "small_amount", {"N": "-1.5E-3"}) == Decimal("-0.0015")
    problem = problem_of("small", "small_amount", {"N": "1.23456E-3"})
    assert problem.message == "Ensure that there are no more than 4 decimal places."


def test_c08_negative_decimal():
    assert value_of("amount", "amount", {"N": "-123.123"}) == Decimal("-123.123")


def test_c09_timestamp_like_text_into_char_field_stays_text():
    assert (
        value_of("label", "label", {"S": "2024-03-20T19:26:08.123456"})
        == "2024-03-20T19:26:08.123456"
    )


def test_c10_iso_timestamp_with_z():
    assert value_of("seen", "seen_at", {"S": "2025-02-13T09:16:25.000Z"}) == dt.datetime(
        2025, 2, 13, 9, 16, 25, tzinfo=UTC
    )


def test_c11_epoch_numbers_with_converters_and_without():
    expected = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    seconds = {"seen": Converter.EPOCH_SECONDS}
    millis = {"seen": Converter.EPOCH_MILLISECONDS}
    assert value_of("seen", "seen_at", {"N": "1700000000"}, converters=seconds) == expected
    assert value_of(
        "seen", "seen_at", {"N": "1700000000123"}, converters=millis
    ) == expected.replace(microsecond=123000)
    problem = problem_of("seen", "seen_at", {"N": "1700000000"})
    assert problem.message == (
        "is a number; choose the epoch seconds or epoch milliseconds converter for this field"
    )


def test_c12_c13_map_into_json_field_is_a_real_object():
    assert value_of(
        "payload", "payload", {"M": {"color": {"S": "Black"}, "size": {"N": "42"}}}
    ) == {
        "color": "Black",
        "size": 42,
    }


def test_c19_fractional_quantity_names_attribute_field_and_raw_value():
    result = coercer({"code": "code", "qty": "quantity"}).coerce(
        SourceItem(
            attributes={"code": {"S": "r9"}, "qty": {"N": "12.5"}}, file="data/a.json.gz", line=3
        )
    )
    assert isinstance(result, RowFailure)
    (problem,) = result.problems
    assert (problem.table, problem.file, problem.line, problem.item_key) == (
        "readings",
        "data/a.json.gz",
        3,
        "code=r9",
    )
    assert (problem.attribute, problem.field, problem.raw_value, problem.message) == (
        "qty",
        "quantity",
        "12.5",
        "not an integer",
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("quantity", {"N": "0"}, 0),
        ("active", {"BOOL": False}, False),
        ("label", {"S": ""}, ""),
        ("count", {"S": "17"}, 17),
        ("active", {"N": "1"}, True),
        ("active", {"S": "false"}, False),
        ("ratio", {"N": "0.5"}, 0.5),
        ("birth_date", {"S": "1990-05-17"}, dt.date(1990, 5, 17)),
        (
            "token",
            {"S": "12345678-1234-5678-1234-567812345678"},
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("seen_at", {"S": "2024-03-20 19:26:08"}, dt.datetime(2024, 3, 20, 19, 26, 8, tzinfo=UTC)),
        (
            "seen_at",
            {"S": "2024-03-20T21:26:08+02:00"},
            dt.datetime(2024, 3, 20, 19, 26, 8, tzinfo=UTC),
        ),
        ("size", {"S": "L"}, "L"),
        ("payload", {"NULL": True}, None),
    ],
)
def test_values_are_values_never_missing(field, value, expected):
    assert value_of("attr", field, value) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", {"BOOL": True}, "expected a number, got a boolean"),
        ("active", {"S": "maybe"}, "expected a boolean, got text 'maybe'"),
        ("label", {"S": "x" * 41}, "is 41 characters; testapp.Reading.label allows 40"),
        ("size", {"S": "M"}, "'M' is not one of: L, S"),
        ("token", {"S": "nope"}, "'nope' is not a UUID"),
        ("birth_date", {"S": "not-a-date"}, "'not-a-date' is not a date (expected YYYY-MM-DD)"),
        ("quantity", {"NULL": True}, "is null, but quantity does not allow null"),
        ("blob", {"S": "text"}, "expected binary, got text"),
        ("count", {"N": "NaN"}, '"NaN" is not a DynamoDB number'),
    ],
)
def test_bad_values_are_row_errors(field, value, message):
    assert problem_of("attr", field, value).message == message


def test_missing_attribute_gets_default_null_blank_or_error():
    result = coercer(
        {"code": "code", "q": "quantity", "c": "count", "l": "label", "s": "size"}
    ).coerce(SourceItem(attributes={"code": {"S": "r1"}}, file="f", line=1))
    assert isinstance(result, CoercedRow)
    assert result.values == {"code": "r1", "quantity": 0, "count": None, "label": "", "size": ""}


def test_truncate_converter_cuts_over_long_text():
    assert (
        value_of("label", "label", {"S": "y" * 50}, converters={"label": Converter.TRUNCATE})
        == "y" * 40
    )


def test_c15_missing_and_mistyped_key_attributes():
    mapping = TableMapping(table="events", target="raw", key=("pk", "sk"))
    raw = RowCoercer(mapping, key_types={"pk": "S", "sk": "N"})
    missing = raw.coerce(SourceItem(attributes={"pk": {"S": "a"}}, file="f", line=2))
    mistyped = raw.coerce(
        SourceItem(attributes={"pk": {"S": "a"}, "sk": {"S": "x"}}, file="f", line=3)
    )
    fine = raw.coerce(SourceItem(attributes={"pk": {"S": "a"}, "sk": {"N": "1"}}, file="f", line=4))
    assert isinstance(missing, RowFailure) and isinstance(mistyped, RowFailure)
    assert [p.message for p in missing.problems] == ["missing key attribute sk"]
    assert [p.message for p in mistyped.problems] == ["sk has type S, expected N"]
    assert mistyped.problems[0].attribute == "sk"
    assert isinstance(fine, CoercedRow)
    assert fine.values["item_key"] == '{"pk":"a","sk":1}'
    assert fine.item_key == "pk=a, sk=1"
