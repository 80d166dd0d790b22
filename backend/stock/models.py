"""Stock items and the remarks staff leave on them (`stock`, `stock_remarks`)."""

import uuid

from django.db import models


class Stock(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    quantity = models.IntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    location = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    barcode = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(null=True, blank=True)
    extra = models.JSONField(
        default=dict,
        blank=True,
        help_text="Attributes from DynamoDB that have no field of their own.",
    )

    class Meta:
        verbose_name_plural = "stock"

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockRemarks(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, related_name="remarks")
    remark = models.TextField()
    author = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "stock remarks"

    def __str__(self) -> str:
        return f"{self.stock_id}: {self.remark[:40]}"
