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
