from django.contrib import admin

from .models import Stock, StockRemarks


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ["id", "sku", "name", "quantity", "unit_price", "is_active", "created_at"]
    search_fields = ["id", "sku", "name"]


@admin.register(StockRemarks)
class StockRemarksAdmin(admin.ModelAdmin):
    list_display = ["id", "stock", "author", "created_at"]
