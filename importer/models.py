"""The importer's own tables: the raw landing table for items no model fits."""

from __future__ import annotations

from django.db import models

from .jsonvalue import ExactJSONDecoder, ExactJSONEncoder


class RawItem(models.Model):
    """One DynamoDB item kept as it was: every attribute as exact JSON, keyed by table and key."""

    source_table = models.CharField(max_length=255, db_index=True)
    item_key = models.CharField(
        max_length=4096, help_text="The item's key attributes as compact JSON, e.g. {\"id\":1}."
    )
    attributes = models.JSONField(encoder=ExactJSONEncoder, decoder=ExactJSONDecoder)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_table", "item_key"], name="rawitem_unique_key")
        ]
        ordering = ["source_table", "id"]

    def __str__(self) -> str:
        return f"{self.source_table} {self.item_key}"
