"""Admin: the raw landing table (browsable per source table) and a read-only log of imports."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import ImportJob, RawItem, TableImport


@admin.register(RawItem)
class RawItemAdmin(admin.ModelAdmin):
    list_display = ["source_table", "item_key", "imported_at"]
    list_filter = ["source_table"]
    search_fields = ["item_key"]


class TableImportInline(admin.TabularInline):
    model = TableImport
    fields = ["name", "manifest_item_count", "items_read", "target", "plan_counts", "load_counts"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "original_name",
        "created_by_name",
        "created_at",
        "status",
        "task",
        "heartbeat_at",
    ]
    list_filter = ["status", "task", "retryable"]
    search_fields = ["original_name"]
    inlines = [TableImportInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
