"""Shared test helpers: the public export corpus, and small zips built in tmp_path."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The public corpus of real exports lives in shared/, outside the repository: beside the
# checkout, or where EXPORT_CORPUS says, or in the workplace's shared/ (a clone made elsewhere).
CORPUS_PLACES = [
    *([Path(os.environ["EXPORT_CORPUS"])] if os.environ.get("EXPORT_CORPUS") else []),
    REPO.parent / "shared" / "corpus" / "public",
    Path("/work/shared/corpus/public"),
]
CORPUS = next(
    (place for place in CORPUS_PLACES if (place / "README.md").is_file()), CORPUS_PLACES[0]
)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Without the corpus, the tests of real exports would fail one by one with puzzling messages.
    if not (CORPUS / "README.md").is_file():
        places = ", ".join(str(place) for place in CORPUS_PLACES)
        raise pytest.UsageError(
            f"the public export corpus is missing: looked in {places} "
            "(put shared/ beside the checkout, or set EXPORT_CORPUS)"
        )


@pytest.fixture
def make_zip(tmp_path: Path) -> Callable[..., Path]:
    """Return a function writing {member name: bytes} into tmp_path/<name> as a deflated zip."""

    def make(members: dict[str, bytes], name: str = "upload.zip") -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, content in members.items():
                archive.writestr(member, content)
        return path

    return make


@pytest.fixture
def zip_folder(make_zip: Callable[..., Path]) -> Callable[..., Path]:
    """Return a function zipping a folder's files under a prefix ("" zips from inside it)."""

    def zip_it(folder: Path, prefix: str = "", name: str = "upload.zip") -> Path:
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        return make_zip(
            {prefix + path.relative_to(folder).as_posix(): path.read_bytes() for path in files},
            name,
        )

    return zip_it
