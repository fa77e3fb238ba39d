"""Extract an uploaded .zip without letting it write outside the target folder or fill the disk."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from ftdemo.errors import InvalidInputError

MAX_MEMBERS = 10_000  # a save_to_disk folder has a handful of files; more is an attack or a mistake
_CHUNK = 1 << 20


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's relative path, or InvalidInputError for anything that could escape the folder."""
    name = info.filename.replace("\\", "/")  # a Windows-made zip may use backslashes
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise InvalidInputError(f"zip member {info.filename!r} has an absolute path; the zip was rejected")
    if ".." in path.parts:
        raise InvalidInputError(
            f"zip member {info.filename!r} points outside the folder ('..'); the zip was rejected"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidInputError(f"zip member {info.filename!r} is a symbolic link; the zip was rejected")
    return path


def _declared_size(members: list[zipfile.ZipInfo]) -> int:
    return sum(info.file_size for info in members)


def safe_extract(zip_path: str | Path, dest: str | Path, *, max_bytes: int) -> Path:
    """Extract `zip_path` into the existing folder `dest` and return it.

    Every member is checked before anything is written (absolute paths, '..', symlinks, member
    count, declared total size); bytes are counted again while writing because a zip's declared
    sizes are only claims. Raises InvalidInputError; on error `dest` may hold partial output, so
    callers extract into a temporary folder.
    """
    dest = Path(dest)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InvalidInputError(f"{Path(zip_path).name!r} is not a readable zip file ({err})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise InvalidInputError(f"the zip has {len(members)} files; at most {MAX_MEMBERS} are accepted")
        paths = [_member_path(info) for info in members]
        declared = _declared_size(members)
        if declared > max_bytes:
            raise InvalidInputError(
                f"the zip would unpack to {declared:,} bytes; the limit is {max_bytes:,} bytes"
            )
        written = 0
        for info, rel in zip(members, paths):
            target = dest.joinpath(*rel.parts)
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise InvalidInputError(
                                f"the zip unpacks to more than {max_bytes:,} bytes; the limit was reached"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as err:
                raise InvalidInputError(f"zip member {info.filename!r} cannot be extracted ({err})") from None
    return dest
