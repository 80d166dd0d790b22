"""A job's stored tables: the analysis kept on its TableImport rows, their profiles, and the
mapping read, suggested and checked against them (no re-reading of the upload).
"""

from __future__ import annotations

from typing import Any

from .archive import SourceTree
from .discover import discover
from .errors import ImporterError
from .mapping import RAW, MappingSet, TableMapping, suggest_mapping
from .models import ImportJob, TableImport
from .permissions import missing_permissions, replaces_user_model
from .profile import TableProfile
from .run import Analysis, TableAnalysis
from .sources import DataFile, TableSource
from .validation import MappingProblem, validate_mapping

# --- analysis storage ------------------------------------------------------------------------


def table_import(job: ImportJob, position: int, table: Any, analysis: Analysis) -> TableImport:
    """The TableImport row that keeps one analysed table's source, counts and profile."""
    source: TableSource = table.source
    return TableImport(
        job=job,
        position=position,
        name=table.name,
        source={
            "root": source.root,
            "layout": source.layout,
            "export_id": source.export_id,
            "files": [_file_json(data_file) for data_file in source.files],
            "key_attributes": list(source.key_attributes),
            "output_format": source.output_format,
            "export_type": source.export_type,
        },
        manifest_item_count=source.manifest_item_count,
        items_read=table.profile.items,
        warnings=list(source.warnings) + _type_conflicts(table.profile),
        error=table.error or "",
        profile=table.profile.to_json(),
    )


def stored_analysis(job: ImportJob, tree: SourceTree) -> Analysis:
    """The job's analysis for a run: its tables found again in the upload, their stored profiles.

    Discovery reads only the manifests and checksums; the items were profiled once, by the
    analysis task, so a dry run or an import reads each item once more, not twice.
    """
    discovery = discover(tree)
    found = {source.name: source for source in discovery.tables}
    stored = list(job.tables.all())
    missing = [table.name for table in stored if table.name not in found]
    if missing:
        raise ImporterError(f"the upload no longer holds table(s) {', '.join(missing)}")
    tables = tuple(
        TableAnalysis(
            source=found[table.name], profile=table_profile(table), error=table.error or None
        )
        for table in stored
    )
    return Analysis(label=tree.label, tables=tables, warnings=discovery.warnings)


def _file_json(data_file: DataFile) -> dict[str, Any]:
    return {
        "path": data_file.path,
        "expected_items": data_file.expected_items,
        "missing": data_file.missing,
    }


def _type_conflicts(profile: TableProfile) -> list[str]:
    return [
        f"attribute {attribute.name} has more than one type: {attribute.type_names}"
        for attribute in profile.attributes
        if attribute.has_conflict
    ]


# --- profiles and mappings -------------------------------------------------------------------


def table_profile(table: TableImport) -> TableProfile:
    """The stored profile of one table (no re-reading of the upload)."""
    return TableProfile.from_json(table.profile)


def job_mappings(job: ImportJob) -> MappingSet:
    """The job's current mapping: saved tables as saved, any other table as suggested."""
    saved = MappingSet.from_json(job.mapping) if job.mapping else MappingSet()
    tables = {}
    for table in job.tables.all():
        tables[table.name] = saved.tables.get(table.name) or suggest_table(table, target=RAW)
    return MappingSet(tables=tables)


def suggest_table(table: TableImport, *, target: str) -> TableMapping:
    """The engine's suggestion for one table onto `target` (a model label, raw or skip)."""
    return suggest_mapping(
        table_profile(table),
        target=target,
        key_attributes=tuple(table.source.get("key_attributes", ())),
    )


def check_mapping(job: ImportJob, mappings: MappingSet) -> list[MappingProblem]:
    """Validate every table's mapping against its stored profile, with the wizard's own rules."""
    problems: list[MappingProblem] = []
    for table in job.tables.all():
        mapping = mappings.tables.get(table.name)
        if mapping is not None:
            problems.extend(table_problems(table, mapping))
    return problems


def table_problems(table: TableImport, mapping: TableMapping) -> list[MappingProblem]:
    """Every problem of one table's mapping, as the wizard sees it."""
    problems = validate_mapping(mapping, table_profile(table))
    if replaces_user_model(mapping):
        # The wizard runs as a logged-in staff user: clearing the user model would delete that
        # login (and every other one) in the middle of the import. Scripted migrations that
        # really mean it use the command line, which warns.
        problems.append(
            MappingProblem(
                table=table.name,
                setting="mode",
                message=(
                    f"replace mode would delete every {mapping.target} row first, the staff "
                    "logins included (yours too): choose upsert to add new users and update "
                    "changed ones, or clear the table from the command line "
                    "(import_dynamodb --clear-tables) in a scripted migration"
                ),
            )
        )
    return problems


def permission_problems(user: Any, mappings: MappingSet) -> list[MappingProblem]:
    """One problem per table whose target the user may not write (as the admin would refuse)."""
    problems = []
    for name, mapping in mappings.tables.items():
        missing = missing_permissions(user, mapping)
        if missing:
            problems.append(
                MappingProblem(
                    table=name,
                    message=f"you may not import into {mapping.target}: "
                    f"it needs the permission(s) {', '.join(missing)}",
                )
            )
    return problems


def mapping_json(job: ImportJob) -> str:
    """The job's mapping as the JSON file the wizard downloads and the command reads."""
    return job_mappings(job).dumps()
