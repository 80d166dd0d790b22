"""The stock ledger and the undo history built on it (`stock_transactions`, `undo_actions`)."""

import uuid

from django.db import models

from backend.stock.models import Stock


class StockTransaction(models.Model):
    class Reason(models.TextChoices):
        RECEIVED = "received", "Received"
        SHIPPED = "shipped", "Shipped"
        ADJUSTED = "adjusted", "Adjusted"
        PRODUCTION = "production", "Production"

    id = models.CharField(primary_key=True, max_length=64)
    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, related_name="transactions")
    change = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.id} {self.change:+d} {self.stock_id}"


class UndoAction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    transaction = models.ForeignKey(
        StockTransaction, on_delete=models.SET_NULL, null=True, blank=True, related_name="undos"
    )
    action_type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict, blank=True)
    performed_by = models.CharField(max_length=150)
    performed_at = models.DateTimeField()
    undone = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.action_type} by {self.performed_by}"
