from django.contrib import admin

from .models import Product, PushToProduction


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "batch_size", "weight_kg", "created_at"]
    search_fields = ["id", "name"]


@admin.register(PushToProduction)
class PushToProductionAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "quantity", "pushed_by", "pushed_at", "approved"]
