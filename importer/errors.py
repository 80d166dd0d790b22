"""The importer's exceptions: each carries a message fit to show a user as it is."""

from __future__ import annotations


class ImporterError(Exception):
    """Base of every error the importer reports to a user (never a traceback)."""


class UnsafeArchiveError(ImporterError):
    """The upload is not a zip we are willing to read (bomb, zip slip, symlink, encrypted...)."""


class SourceError(ImporterError):
    """The source (folder or zip) cannot be opened or holds no export."""


class ReadError(ImporterError):
    """A data file cannot be read: corrupt gzip, invalid JSON, an unknown line shape."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {message}")
        self.reason = message


class DeserializeError(ImporterError):
    """An attribute value is not valid DynamoDB JSON (bad tag, bad number, bad base64...)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class MappingError(ImporterError):
    """A mapping cannot work: unknown model or field, key not unique, required field unmapped."""


class ImportAborted(ImporterError):
    """The run stopped on the first bad row (error policy "abort"); nothing was written."""


class JobStateError(ImporterError):
    """The job is not in a state that allows this step (e.g. import before preview)."""
