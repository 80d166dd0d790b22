"""The importer's settings, read in one place with defaults.

A host project overrides any key in its settings::

    DYNAMODB_IMPORTER = {"TABLE_MODEL_MAP": {"users": "accounts.User"}, "BATCH_SIZE": 2000}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # DynamoDB table name → "app_label.Model" (or "raw" for importer.RawItem).
    "TABLE_MODEL_MAP": {},
    # Upload and zip limits (checked before anything is read).
    "MAX_UPLOAD_BYTES": 2 * 1024**3,
    "MAX_ZIP_MEMBERS": 100_000,
    "MAX_UNCOMPRESSED_BYTES": 64 * 1024**3,
    "MAX_COMPRESSION_RATIO": 250,
    # Reading limits: one line (item) and the decompressed size of one data file.
    "MAX_LINE_BYTES": 8 * 1024**2,
    "MAX_FILE_DECOMPRESSED_BYTES": 64 * 1024**3,
    # Rows per database round trip.
    "BATCH_SIZE": 1000,
    # Time zone given to timestamps that carry none.
    "NAIVE_TIMEZONE": "UTC",
    # On PostgreSQL, write through COPY and set-based SQL (importer/pgcopy.py); False forces the
    # generic batched-ORM path (same results, slower).
    "POSTGRES_COPY": True,
    # The app labels whose models may be import targets. None: the project's own apps, found by
    # where their code lives (not in Django, not in an installed package; importer/permissions.py).
    # Set it when the project itself is installed as a package.
    "TARGET_APPS": None,
    # Worker processes that profile a big table's data files side by side (importer/fanout.py);
    # None: one per CPU.
    "ANALYSIS_PROCESSES": None,
    # New rows of each table the dry-run preview lists (the rest are counted); every error,
    # update and skip is listed.
    "PREVIEW_NEW_ROWS": 1000,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ImporterSettings:
    table_model_map: dict[str, str] = field(default_factory=dict)
    max_upload_bytes: int
    max_zip_members: int
    max_uncompressed_bytes: int
    max_compression_ratio: int
    max_line_bytes: int
    max_file_decompressed_bytes: int
    batch_size: int
    naive_timezone: str
    postgres_copy: bool = True
    analysis_processes: int | None = None
    preview_new_rows: int = 1000
    target_apps: tuple[str, ...] | None = None


def get_settings() -> ImporterSettings:
    """Return the importer's settings: DEFAULTS overlaid with settings.DYNAMODB_IMPORTER."""
    given = getattr(settings, "DYNAMODB_IMPORTER", {}) or {}
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown DYNAMODB_IMPORTER setting(s): {', '.join(sorted(unknown))}")
    merged = {**DEFAULTS, **given}
    if merged["TARGET_APPS"] is not None:
        merged["TARGET_APPS"] = tuple(merged["TARGET_APPS"])
    return ImporterSettings(**{key.lower(): value for key, value in merged.items()})
