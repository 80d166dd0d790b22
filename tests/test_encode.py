"""The fast lane's encoders at their edges (tests/test_fastpath.py compares whole imports)."""

from __future__ import annotations

import pytest
from django.db import models

from importer.encode import NULL, Slow, _epoch_text, _is_rfc3339, _missing_text


def test_an_epoch_past_the_last_timestamp_is_handed_back_not_raised():
    with pytest.raises(Slow):
        _epoch_text(milliseconds=False)("100000000000000")
    assert _epoch_text(milliseconds=False)("1700000000") == "2023-11-14T22:13:20+00:00"
    assert _epoch_text(milliseconds=True)("1700000000123") == "2023-11-14T22:13:20.123000+00:00"


@pytest.mark.parametrize(
    ("text", "passes_through"),
    [
        ("2024-03-20T19:26:08Z", True),
        ("2024-03-20T19:26:08.123456+05:30", True),
        ("2024-03-20T19:26:08.1234567Z", False),
        ("2024-03-20T19:26Z", False),
        ("2024-03-20T19:26+01:00", False),
        ("2024-03-20 19:26:08Z", False),
    ],
)
def test_only_rfc_3339_spellings_pass_through(text, passes_through):
    assert _is_rfc3339(text) is passes_through


@pytest.mark.parametrize(
    ("model_field", "text"),
    [
        (models.JSONField(default=dict), "{}"),
        (models.JSONField(default=list), "[]"),
        (models.JSONField(default="pending"), None),
        (models.JSONField(null=True), NULL),
        (models.BooleanField(default=True), "t"),
        (models.IntegerField(default=0), "0"),
        (models.CharField(max_length=5, default="a\tb"), None),
        (models.CharField(max_length=5, blank=True), ""),
        (models.BinaryField(default=b"x"), None),
        (models.CharField(max_length=5), None),
    ],
)
def test_a_missing_attribute_gets_its_fields_default_as_copy_text_or_the_generic_path(
    model_field, text
):
    assert _missing_text(model_field) == text
