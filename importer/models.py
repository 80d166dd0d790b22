"""The importer's own tables: the raw landing table, and the wizard's jobs, tables and row outcomes."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .jsonvalue import ExactJSONDecoder, ExactJSONEncoder


class RawItem(models.Model):
    """One DynamoDB item kept as it was: every attribute as exact JSON, keyed by table and key."""

    source_table = models.CharField(max_length=255, db_index=True)
    item_key = models.CharField(
        max_length=4096, help_text='The item\'s key attributes as compact JSON, e.g. {"id":1}.'
    )
    attributes = models.JSONField(encoder=ExactJSONEncoder, decoder=ExactJSONDecoder)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_table", "item_key"], name="rawitem_unique_key")
        ]
        ordering = ["source_table", "id"]

    def __str__(self) -> str:
        return f"{self.source_table} {self.item_key}"


class Task(models.TextChoices):
    """The background tasks of a job (importer/tasks.py), one per long phase."""

    ANALYSE = "analyse", "Analysis"
    DRY_RUN = "dry_run", "Dry run"
    IMPORT = "import", "Import"


class ImportJob(models.Model):
    """One upload taken through the wizard: the stored zip, its state, its mapping and results."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        ANALYSING = "analysing", "Analysing"
        READY = "ready", "Ready to map"
        PLANNING = "planning", "Dry run in progress"
        PLANNED = "planned", "Previewed"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # Who uploaded it. Kept as a name too: an import may delete users (replace mode on the user
    # model, from the command line), and the history must still say who ran it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    upload = models.FileField(upload_to="imports/%Y/%m/", max_length=500)
    original_name = models.CharField(max_length=255)
    upload_size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    # The mapping JSON, the same document `import_dynamodb --mapping` reads.
    mapping = models.JSONField(null=True, blank=True)
    reused_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Totals and warnings of the last dry run ("plan") and import ("load").
    summary = models.JSONField(default=dict, blank=True)
    # Seconds per phase: analyse, plan, load.
    timings = models.JSONField(default=dict, blank=True)
    # The background task that runs (or last ran) on this job, and its live progress: written by
    # the worker through a second connection (PostgreSQL) or the progress cache (SQLite), see
    # importer/progress.py. `heartbeat_at` goes stale when the worker dies.
    task = models.CharField(max_length=8, choices=Task.choices, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    progress_phase = models.CharField(max_length=16, blank=True)
    progress_unit = models.CharField(max_length=8, default="items")
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    progress_rate = models.FloatField(default=0.0)  # units per second
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # True when the last task crashed or its worker died: the Retry action re-enqueues `task`.
    retryable = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import #{self.pk} {self.original_name} ({self.status})"

    @property
    def status_phrase(self) -> str:
        """The status as the end of a sentence about the job: "failed", "is ready to map"."""
        match self.status:
            case self.Status.FAILED:
                return "failed"
            case self.Status.CANCELLED:
                return "was cancelled"
            case self.Status.PLANNING:
                return "is in its dry run"
            case _:
                return f"is {self.get_status_display().lower()}"

    @property
    def is_working(self) -> bool:
        return self.status in (self.Status.ANALYSING, self.Status.PLANNING, self.Status.IMPORTING)


class Phase(models.TextChoices):
    DRY_RUN = "dry_run", "Dry run"
    IMPORT = "import", "Import"


class TableImport(models.Model):
    """One table found in a job's upload: where it came from, its profile and its counts."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="tables")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    # The TableSource: root, layout, export id, files, key attributes, format.
    source = models.JSONField(default=dict)
    manifest_item_count = models.BigIntegerField(null=True, blank=True)
    items_read = models.BigIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)  # why the table cannot be imported, if it cannot
    profile = models.JSONField(default=dict)  # TableProfile.to_json()
    plan_counts = models.JSONField(default=dict, blank=True)
    plan_status = models.CharField(max_length=16, blank=True)
    load_counts = models.JSONField(default=dict, blank=True)
    load_status = models.CharField(max_length=16, blank=True)
    messages = models.JSONField(default=list, blank=True)  # from the last run
    target = models.CharField(max_length=255, blank=True)  # from the last run

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="tableimport_unique_position")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def files(self) -> list[dict]:
        return self.source.get("files", [])


class ImportRow(models.Model):
    """The outcome of one item in a run: new, updated (with old → new per field), error..."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    table = models.ForeignKey(TableImport, on_delete=models.CASCADE, related_name="rows")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    outcome = models.CharField(max_length=16)
    item_key = models.TextField(blank=True)
    file = models.TextField(blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)  # field → [old, new], as display text
    problems = models.JSONField(default=list, blank=True)  # [{attribute, field, message, ...}]

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "phase", "outcome", "id"], name="importrow_page")]

    def __str__(self) -> str:
        return f"{self.table_id} {self.item_key} {self.outcome}"


class ImportProblem(models.Model):
    """One problem of a run (a row error or a whole-table failure): the error CSV's rows."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    table = models.CharField(max_length=255)
    file = models.TextField(blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    item_key = models.TextField(blank=True)
    attribute = models.TextField(blank=True)
    field = models.CharField(max_length=255, blank=True)
    raw_value = models.TextField(blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "phase", "id"], name="importproblem_page")]

    def __str__(self) -> str:
        return f"{self.table}: {self.message}"
