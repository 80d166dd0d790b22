"""The wizard's forms: the upload, a mapping file, and one mapping form per table."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from django import forms
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils.html import escape

from .archive import zip_member_names
from .conf import get_settings
from .discover import may_hold_export, no_export_message
from .errors import ImporterError
from .mapping import (
    RAW,
    SKIP,
    Converter,
    ErrorPolicy,
    FieldMapping,
    Mode,
    TableMapping,
    importable_fields,
    resolve_model,
)
from .models import TableImport
from .permissions import target_models
from .profile import AttributeProfile, TableProfile

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


class UploadForm(forms.Form):
    upload = forms.FileField(
        label="DynamoDB export (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    reuse = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = get_settings().max_upload_bytes
        # Django renders help_text as HTML: escape it, or <ExportId> vanishes as a tag.
        self.fields["upload"].help_text = escape(
            "The export folder (AWSDynamoDB/<ExportId>/… or dynamodump folders) compressed as "
            f"one .zip, at most {filesizeformat(self.max_bytes)}."
        )
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_upload(self) -> Any:
        upload = self.cleaned_data["upload"]
        if upload.size is not None and upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"{upload.name} is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(self.max_bytes)}."
            )
        magic = upload.read(4)
        upload.seek(0)
        if magic not in ZIP_MAGICS:
            raise forms.ValidationError(
                f"{upload.name} is not a zip file: compress the export folder as .zip and upload that."
            )
        # The zip's directory says whether there can be an export in it: an empty zip or one
        # without a single data file is refused here, before a job is made for it.
        conf = get_settings()
        try:
            names = zip_member_names(
                upload,
                label=upload.name,
                max_members=conf.max_zip_members,
                max_uncompressed_bytes=conf.max_uncompressed_bytes,
                max_compression_ratio=conf.max_compression_ratio,
            )
        except ImporterError as error:
            raise forms.ValidationError(f"{error}.") from None
        finally:
            upload.seek(0)
        if not may_hold_export(names):
            raise forms.ValidationError(f"{no_export_message(upload.name)}.")
        return upload


class MappingFileForm(forms.Form):
    mapping_file = forms.FileField(
        label="Mapping file (.json)",
        help_text="A mapping downloaded from this wizard or written by import_dynamodb --save-mapping.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


def target_choices() -> list[tuple[str, Any]]:
    """Raw, skip, and every model of the project that an export can go into."""
    project = [
        (model._meta.label, f"{model._meta.label} ({model._meta.verbose_name})")
        for model in target_models()
    ]
    return [
        (RAW, "Raw items (importer.RawItem, every attribute kept)"),
        (SKIP, "Skip this table"),
        ("Models", project),
    ]


class TableMappingForm(forms.Form):
    """One table's mapping: target, key, mode, error policy, and a field per attribute."""

    target = forms.ChoiceField(label="Target")
    key = forms.MultipleChoiceField(
        label="Import key",
        required=False,
        help_text=(
            "The attribute(s) that identify an item, to find rows that already exist. To choose "
            "several, hold Ctrl (⌘ on a Mac) and click, or hold Shift and use the arrow keys."
        ),
    )
    mode = forms.ChoiceField(label="Mode", choices=Mode.choices)
    on_error = forms.ChoiceField(label="On a bad row", choices=ErrorPolicy.choices)
    catch_all = forms.ChoiceField(label="Catch-all JSON field", required=False)

    def __init__(
        self,
        *args: Any,
        table: TableImport,
        profile: TableProfile,
        mapping: TableMapping,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", f"t{table.position}")
        kwargs.setdefault(
            "initial",
            {
                "target": mapping.target,
                "key": list(mapping.key),
                "mode": mapping.mode,
                "on_error": mapping.on_error,
                "catch_all": mapping.catch_all or "",
            },
        )
        super().__init__(*args, **kwargs)
        self.table = table
        self.profile = profile
        self.mapping = mapping
        self.fields["target"].choices = target_choices()
        self.fields["key"].choices = [(attr.name, attr.name) for attr in profile.attributes]
        self.fields["key"].widget.attrs["size"] = min(4, max(2, len(profile.attributes)))
        for name in ("target", "key", "mode", "on_error", "catch_all"):
            self.fields[name].widget.attrs["id"] = f"id_{self.prefix}-{name}"
        self.target = self._chosen_target()
        self.model_fields = self._model_fields()
        json_fields = [f.name for f in self.model_fields if isinstance(f, models.JSONField)]
        self.fields["catch_all"].choices = [("", "none")] + [(name, name) for name in json_fields]
        field_choices = [("", "— not imported —")] + [
            (f.name, f"{f.name} ({f.get_internal_type()})") for f in self.model_fields
        ]
        for index, attribute in enumerate(profile.attributes):
            given = mapping.field_for(attribute.name)
            self.fields[f"a{index}_field"] = forms.ChoiceField(
                label=f"Field for {attribute.name}",
                choices=field_choices,
                required=False,
                initial=(given.field or "") if given else "",
            )
            self.fields[f"a{index}_converter"] = forms.ChoiceField(
                label=f"Converter for {attribute.name}",
                choices=[("", "as is"), *Converter.choices],
                required=False,
                initial=given.converter if given else "",
            )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def _chosen_target(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("target")) or self.mapping.target
        return self.mapping.target

    def _model_fields(self) -> list[models.Field]:
        if self.target in (RAW, SKIP):
            return []
        try:
            return importable_fields(resolve_model(self.target))
        except Exception:  # an unknown label: the target field's own validation says so
            return []

    def mark_settings(self, problems: dict[str, list[str]]) -> None:
        """Mark the table settings (mode, key, ...) that have problems, for the problems shown."""
        for name in problems:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] = "is-invalid"
                attrs["aria-describedby"] = f"{attrs['id']}-problems"

    @property
    def maps_attributes(self) -> bool:
        return bool(self.model_fields)

    def attribute_rows(self, problems: dict[str, list[str]]) -> list[dict[str, Any]]:
        """One row per attribute: its profile, its field and converter selects, its problems."""
        rows = []
        for index, attribute in enumerate(self.profile.attributes):
            rows.append(
                {
                    "attribute": attribute,
                    "presence": attribute.presence(self.profile.items),
                    "field": self[f"a{index}_field"],
                    "converter": self[f"a{index}_converter"],
                    "show_converter": _converter_matters(attribute),
                    "problems": problems.get(attribute.name, []),
                }
            )
        return rows

    def to_mapping(self) -> TableMapping:
        """The TableMapping the (valid) form describes."""
        data = self.cleaned_data
        target = data["target"]
        fields: tuple[FieldMapping, ...] = ()
        if self.maps_attributes:
            fields = tuple(
                FieldMapping(
                    attribute=attribute.name,
                    field=data.get(f"a{index}_field") or None,
                    converter=data.get(f"a{index}_converter") or "",
                )
                for index, attribute in enumerate(self.profile.attributes)
            )
        return TableMapping(
            table=self.table.name,
            target=target,
            key=tuple(data.get("key") or ()),
            mode=data["mode"],
            on_error=data["on_error"],
            fields=fields,
            catch_all=(data.get("catch_all") or None) if self.maps_attributes else None,
        )


def _converter_matters(attribute: AttributeProfile) -> bool:
    # Numbers may be epoch seconds or milliseconds; strings may need truncating.
    return "N" in attribute.types or "S" in attribute.types
