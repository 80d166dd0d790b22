"""A read-only view of an uploaded zip or a folder, checked before anything in it is read.

Nothing is ever extracted: callers list names and open members as byte streams. Zips are refused
(UnsafeArchiveError) when they could hurt the machine: too big, too many members, a bomb, paths
that leave the archive, symlinks or encrypted members.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self, cast

from importer.errors import SourceError, UnsafeArchiveError

# Keep equal to importer.conf.DEFAULTS (this module must not import Django).
MAX_UPLOAD_BYTES = 2 * 1024**3
MAX_ZIP_MEMBERS = 100_000
MAX_UNCOMPRESSED_BYTES = 64 * 1024**3
MAX_COMPRESSION_RATIO = 250

# Small members of repetitive text legitimately compress beyond any ratio (1 KB of spaces is
# ~1000x); a bomb is only a bomb when it expands to something big, so the ratio is checked above
# this size. The total-size and member-count limits bound everything below it.
RATIO_CHECK_MIN_BYTES = 1024**2

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_DRIVE = re.compile(r"^[A-Za-z]:")
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


class SourceTree(ABC):
    """A folder or a zip seen as sorted POSIX paths of regular files, opened as raw bytes."""

    label: str
    path: Path  # the folder or the zip file: another process opens the same source from it

    @abstractmethod
    def names(self) -> list[str]:
        """Return every regular file's relative POSIX path, sorted; directories are left out."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """Open one file for reading its raw bytes (a zip member is inflated, a .gz is not)."""

    @abstractmethod
    def size(self, name: str) -> int:
        """Return one file's size in bytes (uncompressed size for a zip member)."""

    @abstractmethod
    def close(self) -> None:
        """Release the underlying file handles."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class FolderTree(SourceTree):
    """A folder on disk; symlinks leading outside it are skipped, linked folders never entered."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self.path = self._root
        self.label = self._root.name or str(self._root)
        self._names = self._scan()
        self._known = frozenset(self._names)

    def _scan(self) -> list[str]:
        names = []
        # followlinks=False: a symlinked folder could loop or lead anywhere on the disk.
        for dirpath, _dirnames, filenames in os.walk(self._root, followlinks=False):
            for filename in filenames:
                path = Path(dirpath, filename)
                if path.is_symlink() and not path.resolve().is_relative_to(self._root):
                    continue
                if path.is_file():  # leaves out sockets, fifos and dangling links
                    names.append(path.relative_to(self._root).as_posix())
        return sorted(names)

    def _path(self, name: str) -> Path:
        if name not in self._known:
            raise KeyError(f"{name} is not in {self.label}")
        return self._root / name

    def names(self) -> list[str]:
        return list(self._names)

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def close(self) -> None:
        pass


class ZipTree(SourceTree):
    """A zip whose members have all passed the safety checks of `open_source`."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        members: dict[str, zipfile.ZipInfo],
        label: str,
        path: Path,
    ):
        self._zip = archive
        self.path = path
        self._members = members
        self._names = sorted(members)
        self.label = label

    def names(self) -> list[str]:
        return list(self._names)

    def open(self, name: str) -> BinaryIO:
        if name not in self._members:
            raise KeyError(f"{name} is not in {self.label}")
        return cast(BinaryIO, self._zip.open(self._members[name]))

    def size(self, name: str) -> int:
        if name not in self._members:
            raise KeyError(f"{name} is not in {self.label}")
        return self._members[name].file_size

    def close(self) -> None:
        self._zip.close()


def open_source(
    path: str | Path,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    max_members: int = MAX_ZIP_MEMBERS,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_compression_ratio: int = MAX_COMPRESSION_RATIO,
) -> SourceTree:
    """Open a folder or a zip as a SourceTree; refuse a zip that is unsafe before reading it."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if path.is_dir():
        return FolderTree(path)
    label = path.name
    size = path.stat().st_size
    if size > max_upload_bytes:
        raise UnsafeArchiveError(
            f"{label} is {_size_text(size)}, more than the {_size_text(max_upload_bytes)} allowed"
        )
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic not in _ZIP_MAGICS and not zipfile.is_zipfile(path):
        raise SourceError(f"{label} is not a zip file: compress the export folder as a .zip")
    archive, members = _open_checked(
        path,
        label,
        max_members=max_members,
        max_uncompressed_bytes=max_uncompressed_bytes,
        max_compression_ratio=max_compression_ratio,
    )
    return ZipTree(archive, members, label, path.resolve())


def zip_member_names(
    stream: BinaryIO,
    *,
    label: str,
    max_members: int = MAX_ZIP_MEMBERS,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_compression_ratio: int = MAX_COMPRESSION_RATIO,
) -> list[str]:
    """Check a zip's entries as open_source does, from an open file; return its files' names.

    Only the zip's directory is read (e.g. an upload, before it is stored); `stream` stays open.
    """
    archive, members = _open_checked(
        stream,
        label,
        max_members=max_members,
        max_uncompressed_bytes=max_uncompressed_bytes,
        max_compression_ratio=max_compression_ratio,
    )
    archive.close()  # the ZipFile's, not the caller's stream
    return list(members)


def _open_checked(
    file: Path | BinaryIO,
    label: str,
    *,
    max_members: int,
    max_uncompressed_bytes: int,
    max_compression_ratio: int,
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open a zip and check its directory; close it again if it is refused."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise SourceError(f"{label} is a damaged zip file and cannot be opened ({err})") from err
    try:
        members = _checked_members(
            archive,
            label,
            max_members=max_members,
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_compression_ratio=max_compression_ratio,
        )
    except BaseException:
        archive.close()
        raise
    return archive, members


def _checked_members(
    archive: zipfile.ZipFile,
    label: str,
    *,
    max_members: int,
    max_uncompressed_bytes: int,
    max_compression_ratio: int,
) -> dict[str, zipfile.ZipInfo]:
    """Check every entry's header against the limits; return the regular files by POSIX name."""
    infos = archive.infolist()
    if not infos:
        raise SourceError(f"{label} is an empty zip file")
    if len(infos) > max_members:
        raise UnsafeArchiveError(
            f"{label} has {len(infos)} entries, more than the {max_members} allowed"
        )
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        # Some Windows tools write backslashes; the zip format says "/", so read them as "/".
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
            raise UnsafeArchiveError(
                f"{label}: {info.filename} points outside the archive (absolute path or '..')"
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(
                f"{label}: {info.filename} is a symbolic link; links are not accepted"
            )
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(
                f"{label}: {info.filename} is encrypted; upload a zip without a password"
            )
        if name.endswith("/"):
            continue
        if info.compress_type not in _READABLE_METHODS:
            raise SourceError(
                f"{label}: {info.filename} uses compression method {info.compress_type}, which "
                "cannot be read; re-create the zip with standard (deflate) compression"
            )
        if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > max_compression_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise UnsafeArchiveError(
                f"{label}: {info.filename} expands {ratio} times (more than "
                f"{max_compression_ratio} allowed); this looks like a zip bomb"
            )
        total += info.file_size
        if total > max_uncompressed_bytes:
            raise UnsafeArchiveError(
                f"{label} expands to more than {_size_text(max_uncompressed_bytes)} "
                f"(the limit is passed at {info.filename})"
            )
        if name in members:
            raise UnsafeArchiveError(f"{label}: {info.filename} appears more than once")
        members[name] = info
    return members


def _size_text(size: int) -> str:
    """Format a byte count for a message: '512 bytes', '2.0 GiB'."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
