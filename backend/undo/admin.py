from django.contrib import admin

from .models import StockTransaction, UndoAction


@admin.register(StockTransaction)
class StockTransactionAdmin(admin.ModelAdmin):
    list_display = ["id", "stock", "change", "balance_after", "reason", "created_at"]


@admin.register(UndoAction)
class UndoActionAdmin(admin.ModelAdmin):
    list_display = ["id", "action_type", "performed_by", "performed_at", "undone"]
