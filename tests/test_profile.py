"""Profiling every item: types, presence, samples, key candidates (CASES.md C06, C24)."""

from __future__ import annotations

from decimal import Decimal

from importer.profile import profile_table
from importer.sources import SourceItem


def items(rows):
    return [SourceItem(attributes=row, file="f", line=index + 1) for index, row in enumerate(rows)]


def test_c24_rare_attribute_in_one_item_of_five_thousand_is_listed():
    rows = [{"id": {"S": f"i{n}"}} for n in range(5000)]
    rows[4998]["promo_code"] = {"S": "SPRING"}
    profile = profile_table("orders", items(rows))
    promo = profile.attribute("promo_code")
    assert profile.items == 5000
    assert (promo.present, promo.types, promo.samples) == (1, {"S": 1}, ("SPRING",))
    assert promo.presence(profile.items) == 0.02
    assert profile.key_candidates == ("id",)


def test_c06_set_types_are_named_and_conflicts_flagged():
    profile = profile_table(
        "t",
        items(
            [
                {
                    "id": {"N": "1"},
                    "b": {"BS": ["beba", "feca"]},
                    "n": {"NS": ["1", "2.5"]},
                    "q": {"N": "3"},
                },
                {"id": {"N": "2"}, "q": {"S": "4"}},
                {"id": {"N": "2"}, "q": {"NULL": True}},
            ]
        ),
    )
    assert profile.attribute("b").type_names == "binary set ×1"
    assert profile.attribute("n").type_names == "number set ×1"
    quantity = profile.attribute("q")
    assert quantity.types == {"N": 1, "NULL": 1, "S": 1}
    assert quantity.has_conflict is True
    assert (quantity.number_min, quantity.number_max) == (Decimal("3"), Decimal("4"))
    assert profile.key_candidates == ()  # id repeats


def test_invalid_values_are_counted_not_fatal():
    profile = profile_table("t", items([{"id": {"S": "a"}, "x": {"FOO": "bar"}}]))
    assert profile.invalid_items == 1
    assert profile.attribute("x").types == {"invalid": 1}


def test_batches_count_exactly_across_shapes_aliases_and_malformed_values():
    rows = []
    for n in range(2500):  # more than two profiling batches
        row = {"id": {"S": f"i{n}"}, "qty": {"N": str(n)} if n % 2 else {"S": str(-n)}}
        if n == 1700:
            row["note"] = None  # JSON null, not a typed value
        if n == 1800:
            row["note"] = {"s": "lower-case tag"}
        if n == 2400:
            row["id"] = {"S": "i0"}  # repeats the first key
        rows.append(row)
    profile = profile_table("t", items(rows))
    assert profile.items == 2500
    assert [attribute.name for attribute in profile.attributes] == ["id", "qty", "note"]
    identifier, quantity, note = profile.attributes
    assert (identifier.present, identifier.types, identifier.unique) == (2500, {"S": 2500}, False)
    assert quantity.types == {"N": 1250, "S": 1250}
    assert (quantity.number_min, quantity.number_max) == (Decimal("-2498"), Decimal("2499"))
    assert quantity.samples == ("0", "1", "-2")
    assert (note.present, note.types, note.samples) == (
        2,
        {"S": 1, "invalid": 1},
        ("null", "lower-case tag"),
    )
    assert profile.invalid_items == 1
    assert profile.key_candidates == ("qty",)  # every (type, value) pair differs
