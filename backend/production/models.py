"""Products and the pushes of stock to production (`production`, `push_to_production`)."""

import uuid

from django.db import models

from backend.stock.models import Stock


class Product(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, null=True, blank=True)
    batch_size = models.PositiveIntegerField(default=1)
    weight_kg = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    specs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class PushToProduction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="pushes")
    quantity = models.IntegerField()
    pushed_by = models.CharField(max_length=150)
    pushed_at = models.DateTimeField()
    approved = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "pushes to production"

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} by {self.pushed_by}"
