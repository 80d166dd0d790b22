"""A job's stored upload: check it is still in storage and open it as a SourceTree."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .archive import SourceTree, open_source
from .conf import get_settings
from .errors import ImporterError
from .models import ImportJob


def require_upload(job: ImportJob) -> None:
    """Raise ImporterError unless the job's upload is still in Django's storage."""
    if not job.upload or not job.upload.storage.exists(job.upload.name):
        raise ImporterError(
            f"the upload of import #{job.pk} is no longer in storage; upload it again"
        )


@contextmanager
def opened_upload(job: ImportJob) -> Iterator[SourceTree]:
    """Open the stored upload as a SourceTree (copied locally when the storage has no paths)."""
    conf = get_settings()
    limits = {
        "max_upload_bytes": conf.max_upload_bytes,
        "max_members": conf.max_zip_members,
        "max_uncompressed_bytes": conf.max_uncompressed_bytes,
        "max_compression_ratio": conf.max_compression_ratio,
    }
    require_upload(job)
    try:
        path = job.upload.path
    except NotImplementedError:
        path = None
    if path is not None:
        with open_source(path, **limits) as tree:
            tree.label = job.original_name
            yield tree
        return
    with tempfile.NamedTemporaryFile(suffix=".zip") as local, job.upload.open("rb") as stored:
        shutil.copyfileobj(stored, local)
        local.flush()
        with open_source(local.name, **limits) as tree:
            tree.label = job.original_name
            yield tree
