"""importer.archive: folders and zips as one read-only tree; every zip safety check."""

from __future__ import annotations

import gzip
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from importer import archive, read
from importer.archive import FolderTree, ZipTree, open_source
from importer.conf import DEFAULTS
from importer.errors import SourceError, UnsafeArchiveError

MakeZip = Callable[..., Path]


def test_limit_defaults_match_the_settings_defaults() -> None:
    assert archive.MAX_UPLOAD_BYTES == DEFAULTS["MAX_UPLOAD_BYTES"]
    assert archive.MAX_ZIP_MEMBERS == DEFAULTS["MAX_ZIP_MEMBERS"]
    assert archive.MAX_UNCOMPRESSED_BYTES == DEFAULTS["MAX_UNCOMPRESSED_BYTES"]
    assert archive.MAX_COMPRESSION_RATIO == DEFAULTS["MAX_COMPRESSION_RATIO"]
    assert read.MAX_LINE_BYTES == DEFAULTS["MAX_LINE_BYTES"]
    assert read.MAX_FILE_DECOMPRESSED_BYTES == DEFAULTS["MAX_FILE_DECOMPRESSED_BYTES"]


# --- folders ----------------------------------------------------------------------------------


def test_folder_lists_regular_files_sorted_and_opens_raw_bytes(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "b" / "data").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "z.json").write_bytes(b"{}")
    (root / "b" / "data" / "x.json.gz").write_bytes(gzip.compress(b"abc", mtime=0))
    with open_source(root) as tree:
        assert isinstance(tree, FolderTree)
        assert tree.label == "export"
        assert tree.names() == ["b/data/x.json.gz", "z.json"]
        assert tree.size("z.json") == 2
        with tree.open("b/data/x.json.gz") as stream:
            assert stream.read() == gzip.compress(b"abc", mtime=0)  # not decompressed
        with pytest.raises(KeyError):
            tree.open("../outside.json")


def test_folder_skips_symlinks_leading_outside_and_never_enters_linked_folders(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(b"{}")
    root = tmp_path / "export"
    root.mkdir()
    (root / "real.json").write_bytes(b"{}")
    (root / "inside-link.json").symlink_to(root / "real.json")
    (root / "outside-link.json").symlink_to(outside / "secret.json")
    (root / "linked-folder").symlink_to(outside, target_is_directory=True)
    (root / "dangling.json").symlink_to(tmp_path / "nothing.json")
    with open_source(root) as tree:
        assert tree.names() == ["inside-link.json", "real.json"]


def test_missing_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(tmp_path / "nope.zip")
    assert str(caught.value) == f"{tmp_path / 'nope.zip'} does not exist"


# --- zips ---------------------------------------------------------------------------------------


def test_zip_lists_files_without_directories_and_opens_raw_member_bytes(
    make_zip: MakeZip,
) -> None:
    gz = gzip.compress(b'{"Item":{}}\n', mtime=0)
    path = make_zip({"AWSDynamoDB/": b"", "AWSDynamoDB/1/data/a.json.gz": gz, "top.json": b"[]"})
    with open_source(path) as tree:
        assert isinstance(tree, ZipTree)
        assert tree.label == "upload.zip"
        assert tree.names() == ["AWSDynamoDB/1/data/a.json.gz", "top.json"]
        assert tree.size("top.json") == 2
        with tree.open("AWSDynamoDB/1/data/a.json.gz") as stream:
            assert stream.read() == gz


def test_zip_backslash_names_read_as_folders(make_zip: MakeZip) -> None:
    path = make_zip({"AWSDynamoDB\\1\\manifest-summary.json": b"{}"})
    with open_source(path) as tree:
        assert tree.names() == ["AWSDynamoDB/1/manifest-summary.json"]
        with tree.open("AWSDynamoDB/1/manifest-summary.json") as stream:
            assert stream.read() == b"{}"


def test_closing_the_tree_closes_the_zip(make_zip: MakeZip) -> None:
    tree = open_source(make_zip({"a.json": b"{}"}))
    with tree:
        pass
    with pytest.raises(ValueError):
        tree.open("a.json")


def test_upload_over_the_size_limit_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({"a.json": b"x" * 500})
    size = path.stat().st_size
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path, max_upload_bytes=100)
    assert str(caught.value) == f"upload.zip is {size} bytes, more than the 100 bytes allowed"


def test_too_many_members_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({f"data/{index}.json": b"{}" for index in range(4)})
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path, max_members=3)
    assert str(caught.value) == "upload.zip has 4 entries, more than the 3 allowed"


def test_total_uncompressed_size_over_the_limit_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({"a.json": b" " * 600, "b.json": b" " * 600})
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path, max_uncompressed_bytes=1000)
    assert str(caught.value) == (
        "upload.zip expands to more than 1000 bytes (the limit is passed at b.json)"
    )


def test_zip_bomb_compression_ratio_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({"data/bomb.json": b"\0" * (2 * 1024**2)})
    with zipfile.ZipFile(path) as raw:
        info = raw.getinfo("data/bomb.json")
    ratio = info.file_size // info.compress_size
    assert ratio > 250
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path)
    assert str(caught.value) == (
        f"upload.zip: data/bomb.json expands {ratio} times (more than 250 allowed); "
        "this looks like a zip bomb"
    )


def test_small_members_of_repetitive_text_are_not_bombs(make_zip: MakeZip) -> None:
    # Pretty-printed scan pages compress far beyond 250x when tiny; only big expansions are bombs.
    with open_source(make_zip({"page.json": b" " * 100_000})) as tree:
        assert tree.names() == ["page.json"]


@pytest.mark.parametrize(
    "name",
    [
        "../evil.json",
        "data/../../evil.json",
        "/etc/evil.json",
        "C:\\evil.json",
        "..\\evil.json",
        "\\\\server\\share\\evil.json",
    ],
)
def test_zip_slip_paths_are_refused(make_zip: MakeZip, name: str) -> None:
    path = make_zip({"ok.json": b"{}", name: b"{}"})
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path)
    assert str(caught.value) == (
        f"upload.zip: {name} points outside the archive (absolute path or '..')"
    )


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "upload.zip"
    link = zipfile.ZipInfo("AWSDynamoDB/data/link.json.gz")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as raw:
        raw.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "upload.zip: AWSDynamoDB/data/link.json.gz is a symbolic link; links are not accepted"
    )


def _patch_central_directory(path: Path, offset: int, value: int) -> None:
    """Overwrite a 2-byte field of the first central-directory entry (zipfile won't write it)."""
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")
    struct.pack_into("<H", raw, entry + offset, value)
    path.write_bytes(bytes(raw))


def test_encrypted_member_is_refused(make_zip: MakeZip) -> None:
    path = make_zip({"secret.json": b"{}"})
    _patch_central_directory(path, 8, 0x1)  # general purpose flag bit 0: encrypted
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "upload.zip: secret.json is encrypted; upload a zip without a password"
    )


def test_unreadable_compression_method_is_a_source_error(make_zip: MakeZip) -> None:
    path = make_zip({"big.json": b"{}"})
    _patch_central_directory(path, 10, 9)  # Deflate64, written by Windows for large files
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "upload.zip: big.json uses compression method 9, which cannot be read; re-create the "
        "zip with standard (deflate) compression"
    )


def test_duplicate_member_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "upload.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name" while writing
        with zipfile.ZipFile(path, "w") as raw:
            raw.writestr("a.json", b"{}")
            raw.writestr("a.json", b"[]")
    with pytest.raises(UnsafeArchiveError) as caught:
        open_source(path)
    assert str(caught.value) == "upload.zip: a.json appears more than once"


@pytest.mark.parametrize("content", [b"", b"just text\n", gzip.compress(b'{"Item":{}}\n', mtime=0)])
def test_a_file_that_is_not_a_zip_is_a_source_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "export.json.gz"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "export.json.gz is not a zip file: compress the export folder as a .zip"
    )


def test_empty_zip_is_a_source_error(make_zip: MakeZip) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(make_zip({}))
    assert str(caught.value) == "upload.zip is an empty zip file"


def test_corrupt_zip_is_a_source_error(make_zip: MakeZip) -> None:
    path = make_zip({"a.json": b"{}" * 100})
    path.write_bytes(path.read_bytes()[:40])  # local header intact, central directory gone
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "upload.zip is a damaged zip file and cannot be opened (File is not a zip file)"
    )
