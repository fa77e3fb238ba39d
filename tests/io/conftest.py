"""Fixtures for the import/export tests: files written into a fresh tmp_path."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """write(name, content) → path; str content is written as UTF-8 with no newline translation."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return _write


@pytest.fixture
def make_zip(tmp_path: Path) -> Callable[..., Path]:
    """make_zip(name, {member: bytes}, symlinks={member: target}) → path of a zip built member by member."""

    def _make(name: str, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                zf.writestr(member, data)
            for member, target in (symlinks or {}).items():
                info = zipfile.ZipInfo(member)
                info.external_attr = (0o120777 << 16)  # S_IFLNK: how zip stores a symlink
                zf.writestr(info, target)
        return path

    return _make


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Callable[..., Path]:
    """dataset_dir(data, features=None, name='ds') → a `datasets` save_to_disk folder."""
    import datasets

    def _make(data: dict, features: object = None, name: str = "ds") -> Path:
        path = tmp_path / name
        datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path))
        return path

    return _make
