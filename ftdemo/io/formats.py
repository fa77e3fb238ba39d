"""Which file format a path holds, decided from its suffix (never by sniffing content)."""

from __future__ import annotations

import enum
from pathlib import Path

from ftdemo.errors import InvalidInputError


class FileFormat(str, enum.Enum):
    """The formats ftdemo reads and writes. JSON means JSON lines (or one top-level JSON array)."""

    CSV = "csv"
    TSV = "tsv"
    JSONL = "jsonl"
    JSON = "json"
    PARQUET = "parquet"
    ZIP = "zip"  # a zipped `datasets` save_to_disk directory (import only)
    DIRECTORY = "directory"  # a `datasets` save_to_disk directory


IMPORT_FORMATS = tuple(FileFormat)
EXPORT_FORMATS = (FileFormat.CSV, FileFormat.TSV, FileFormat.JSONL, FileFormat.JSON, FileFormat.PARQUET,
                  FileFormat.DIRECTORY)


def _allowed(formats: tuple[FileFormat, ...]) -> str:
    return ", ".join(f.value for f in formats)


def import_format(path: str | Path) -> FileFormat:
    """The format to read `path` as: a directory is a `datasets` directory, else the suffix decides.

    Raises InvalidInputError naming the allowed formats when the suffix is unknown.
    """
    p = Path(path)
    if p.is_dir():
        return FileFormat.DIRECTORY
    suffix = p.suffix.lower().lstrip(".")
    try:
        fmt = FileFormat(suffix)
    except ValueError:
        fmt = None
    if fmt is None or fmt is FileFormat.DIRECTORY:
        shown = f"'.{suffix}'" if suffix else "no suffix"
        raise InvalidInputError(
            f"cannot import {p.name!r} ({shown}); use one of: {_allowed(IMPORT_FORMATS)} "
            "(a directory or .zip must hold a `datasets` save_to_disk folder)"
        )
    return fmt


def export_format(path: str | Path) -> FileFormat:
    """The format to write `path` as: no suffix or a trailing '/' means a `datasets` directory."""
    text = str(path)
    if text.endswith(("/", "\\")) or not Path(text).suffix:
        return FileFormat.DIRECTORY
    suffix = Path(text).suffix.lower().lstrip(".")
    try:
        fmt = FileFormat(suffix)
    except ValueError:
        fmt = None
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(
            f"cannot export to {Path(text).name!r}; use a name ending in one of: "
            f"{', '.join('.' + f.value for f in EXPORT_FORMATS if f is not FileFormat.DIRECTORY)}, "
            "or a name without a suffix for a `datasets` directory"
        )
    return fmt
