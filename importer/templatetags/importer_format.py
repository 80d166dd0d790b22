"""Filters that word the wizard's values: a table's status in a dry run, a file and line."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# A dry run's table status says what the import would do (report.TableStatus values).
PLANNED_STATUS = {"imported": "would be imported", "failed": "would fail", "skipped": "skipped"}


@register.filter
def table_status(status: str, counts_key: str) -> str:
    """The status of a table as its page words it: planned ("plan") or done ("load")."""
    if counts_key == "plan":
        return PLANNED_STATUS.get(status, status)
    return status


@register.filter
def source_place(path: str, line: int | None = None) -> SafeString:
    """A file path (and line) that breaks after a "/", never inside its last part or the line."""
    folders, slash, last = (path or "").rpartition("/")
    place = f"{last}:{line}" if line else last
    head = (
        "".join(f"{conditional_escape(part)}/<wbr>" for part in folders.split("/")) if slash else ""
    )
    return mark_safe(f'{head}<span class="text-nowrap">{conditional_escape(place)}</span>')
