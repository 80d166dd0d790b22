"""The model every measurement writes to; field names equal the export's attribute names."""

from django.db import models


class Row(models.Model):
    """One exported item: ten attributes of mixed DynamoDB types, one field each."""

    key = models.CharField(max_length=40, primary_key=True)  # S (the table's partition key)
    quantity = models.IntegerField()  # N, small integer
    size_bytes = models.BigIntegerField()  # N, beyond 32 bits
    price = models.DecimalField(max_digits=12, decimal_places=2)  # N, two decimals
    active = models.BooleanField()  # BOOL
    created_at = models.DateTimeField()  # S, ISO 8601 with offset
    attributes = models.JSONField()  # M, nested map
    tags = models.JSONField()  # SS
    description = models.TextField()  # S, free text
    external_id = models.UUIDField()  # S, UUID

    def __str__(self) -> str:
        return self.key
