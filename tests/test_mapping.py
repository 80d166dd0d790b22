"""Suggestions by name and type, the mapping JSON, and validation before any import runs."""

from __future__ import annotations

import pytest

from importer.errors import MappingError
from importer.mapping import FieldMapping, MappingSet, TableMapping, normalize_name, suggest_mapping
from importer.profile import profile_table
from importer.sources import SourceItem
from importer.validation import validate_mapping


def profile(rows, table="stock"):
    return profile_table(table, [SourceItem(attributes=row, file="f", line=1) for row in rows])


@pytest.mark.parametrize(
    "name", ["createdAt", "created_at", "Created-At", "CREATED AT", "created_At"]
)
def test_names_match_whatever_their_case_and_separators(name):
    assert normalize_name(name) == "createdat"


def test_suggestion_for_a_demo_table_matches_fields_key_converters_and_catch_all():
    stock = profile(
        [
            {
                "id": {"S": "STK-1"},
                "sku": {"S": "A"},
                "name": {"S": "Bolt"},
                "unitPrice": {"N": "1.5"},
                "createdAt": {"S": "2024-01-01T00:00:00Z"},
                "updatedAt": {"N": "1700000000123"},
                "stockId": {"S": "x"},
                "promoCode": {"S": "P"},
            }
        ]
    )
    mapping = suggest_mapping(stock, target="stock.Stock")
    assert mapping.key == ("id",)
    assert mapping.catch_all == "extra"
    assert [(f.attribute, f.field, f.converter) for f in mapping.fields] == [
        ("id", "id", ""),
        ("sku", "sku", ""),
        ("name", "name", ""),
        ("unitPrice", "unit_price", ""),
        ("createdAt", "created_at", ""),
        ("updatedAt", "updated_at", "epoch_ms"),
        ("stockId", "extra", ""),
        ("promoCode", "extra", ""),
    ]
    assert validate_mapping(mapping, stock) == []


def test_foreign_key_matches_by_attname():
    remarks = profile(
        [
            {
                "id": {"S": "6f1c7d52-2d7c-4a55-9f5e-1a2b3c4d5e6f"},
                "stockId": {"S": "S1"},
                "remark": {"S": "ok"},
                "createdAt": {"S": "2024-01-01"},
            }
        ],
        table="stock_remarks",
    )
    mapping = suggest_mapping(remarks, target="stock.StockRemarks")
    assert mapping.field_for("stockId").field == "stock"


def test_mapping_json_round_trip():
    mappings = MappingSet(
        tables={
            "stock": TableMapping(
                table="stock",
                target="stock.Stock",
                key=("id",),
                mode="replace",
                on_error="abort",
                fields=(
                    FieldMapping(attribute="id", field="id"),
                    FieldMapping(attribute="seen", field="updated_at", converter="epoch_s"),
                    FieldMapping(attribute="legacy", field=None),
                ),
                catch_all="extra",
            ),
            "logs": TableMapping(table="logs", target="raw", key=("pk", "sk")),
        }
    )
    assert MappingSet.loads(mappings.dumps()) == mappings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "mapping file is not valid JSON"),
        ('{"tables": []}', 'mapping file: expected {"version": 1, "tables": {...}}'),
        (
            '{"tables": {"t": {"target": "raw", "mode": "merge"}}}',
            '"mode" must be one of insert, upsert, replace',
        ),
        (
            '{"tables": {"t": {"target": "a.B", "fields": {"x": {"field": "y", "converter": "rot13"}}}}}',
            "attribute 'x' has unknown converter 'rot13'",
        ),
    ],
)
def test_bad_mapping_files_are_explained(text, message):
    with pytest.raises(MappingError) as raised:
        MappingSet.loads(text)
    assert message in str(raised.value)


def test_validation_flags_what_cannot_work():
    stock = profile([{"code": {"S": "1"}, "seen": {"N": "1700000000"}, "qty": {"N": "1"}}])
    mapping = TableMapping(
        table="stock",
        target="stock.Stock",
        key=("qty",),
        fields=(
            FieldMapping(attribute="code", field="sku"),
            FieldMapping(attribute="seen", field="created_at"),
            FieldMapping(attribute="qty", field="quantity"),
            FieldMapping(attribute="nope", field="colour"),
        ),
    )
    assert [problem.message for problem in validate_mapping(mapping, stock)] == [
        "seen holds numbers; choose epoch seconds or epoch milliseconds for created_at",
        "stock.Stock has no field 'colour'",
        "the import key (quantity) is not unique in stock.Stock: choose a primary key or a unique field",
        "id is required but no attribute is mapped to it",
        "name is required but no attribute is mapped to it",
    ]
    unknown = TableMapping(table="t", target="shop.Nothing")
    assert [p.message for p in validate_mapping(unknown)] == [
        "unknown model 'shop.Nothing': expected app_label.Model, e.g. stock.Stock, or raw/skip"
    ]


def test_validation_flags_auto_now_fields_and_blank_non_text_fields():
    counters = profile([{"id": {"N": "1"}, "name": {"S": "a"}, "touched": {"S": "2024-01-01"}}])
    mapping = TableMapping(
        table="counters",
        target="testapp.Counter",
        key=("id",),
        fields=(
            FieldMapping(attribute="id", field="id"),
            FieldMapping(attribute="name", field="name"),
            FieldMapping(attribute="touched", field="touched_at"),
        ),
    )
    assert [problem.message for problem in validate_mapping(mapping, counters)] == [
        "touched_at is set by Django on every save (auto_now/auto_now_add): "
        "the imported touched would be replaced by the time of the import"
    ]


def test_catch_all_and_converter_must_be_strings():
    with pytest.raises(MappingError) as raised:
        MappingSet.loads('{"tables": {"t": {"target": "raw", "catch_all": ["x"]}}}')
    assert str(raised.value) == (
        "mapping for table 't': \"catch_all\" must be the name of a JSONField, or absent"
    )
    with pytest.raises(MappingError) as raised:
        MappingSet.loads(
            '{"tables": {"t": {"target": "a.B", "fields": {"x": {"field": "y", "converter": 3}}}}}'
        )
    assert (
        str(raised.value) == "mapping for table 't': attribute 'x': \"converter\" must be a string"
    )


@pytest.mark.parametrize(
    "target",
    [
        "sessions.Session",
        "auth.Permission",
        "importer.ImportJob",
        "contenttypes.ContentType",
        "django_tasks_database.DBTaskResult",
    ],
)
def test_django_and_importer_bookkeeping_are_never_targets(target):
    assert [p.message for p in validate_mapping(TableMapping(table="t", target=target))] == [
        f"{target} cannot be an import target: only the project's own models can "
        "(not Django's, an installed package's or the importer's bookkeeping)"
    ]


@pytest.mark.django_db
def test_importing_needs_add_and_change_and_delete_for_replace():
    from django.contrib.auth.models import Permission

    from backend.users.models import User
    from importer.permissions import missing_permissions

    clerk = User.objects.create_user(username="clerk", is_staff=True)
    upsert = TableMapping(table="stock", target="stock.Stock")
    replace = TableMapping(table="stock", target="stock.Stock", mode="replace")
    assert missing_permissions(clerk, upsert) == ["stock.add_stock", "stock.change_stock"]
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_stock", "change_stock"])
    )
    clerk = User.objects.get(pk=clerk.pk)
    assert missing_permissions(clerk, upsert) == []
    assert missing_permissions(clerk, replace) == ["stock.delete_stock"]
    assert missing_permissions(clerk, TableMapping(table="x", target="raw")) == [
        "importer.add_rawitem",
        "importer.change_rawitem",
    ]
