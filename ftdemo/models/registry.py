"""Model versions on disk: <root>/<dataset>/v0001/, v0002/, ...

A version is a `save_pretrained` directory (safetensors weights + tokenizer) plus
metadata.json and a README.md model card. It is written into a hidden temp directory
next to the versions, every file and the directory are fsynced, and only then is it
renamed into place: the rename is atomic, so a crash leaves either a complete version
or a temp directory that is never listed and is removed by `clean_temp()` on the next
start. Loading never unpickles: safetensors only, no remote code.

Which version is *active* lives in the database; `ftdemo.models.guard` holds the rule the
caller applies before switching.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError, NotFoundError, StorageError
from ftdemo.models.card import render_model_card
from ftdemo.processes import pid_alive
from ftdemo.tasks import validate_dataset_name

FORMAT = 1
_VERSION_DIR = re.compile(r"^v(\d{4,})$")
# left where a deleted version was: its number is never given again (the store keeps the deleted version's
# row under that name, and one name must mean one model)
_DELETED_MARK = re.compile(r"^v(\d{4,})\.deleted$")
_TEMP_PREFIX, _TRASH_PREFIX = ".tmp-", ".del-"
STALE_TEMP_S = 24 * 3600  # a temp dir this old is abandoned even if its pid was reused


@dataclass(frozen=True)
class VersionInfo:
    dataset: str
    version: int
    path: Path
    created_at: str  # ISO 8601 UTC from metadata.json ("" if unreadable)

    @property
    def name(self) -> str:
        return f"v{self.version:04d}"


class Registry:
    """Versions of models per dataset under one root directory."""

    def __init__(self, root: str | os.PathLike[str], *, clean: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        if clean:
            self.clean_temp()

    # -- writing -------------------------------------------------------------------------------
    def save(self, dataset: str, result: Any, metadata: dict[str, Any] | None = None) -> VersionInfo:
        """Write `result` (a TrainResult) as the next version of `dataset`; returns its VersionInfo.

        `metadata` (e.g. the snapshot id, who started the run) is merged into metadata.json;
        it cannot override the identity keys (format, dataset, version, created_at).
        """
        ds_dir = self._dataset_dir(dataset, create=True)
        tmp = ds_dir / _scratch_name(_TEMP_PREFIX)
        tmp.mkdir()
        try:
            result.model.save_pretrained(tmp)
            result.tokenizer.save_pretrained(tmp)
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            meta = build_metadata(result, metadata or {})

            def write(version: int) -> None:
                meta.update(format=FORMAT, dataset=dataset, version=f"v{version:04d}", created_at=created)
                _write_text(tmp / "metadata.json", json.dumps(meta, indent=2, sort_keys=True, default=str))
                _write_text(tmp / "README.md", render_model_card(meta))

            version, final = publish_numbered(tmp, ds_dir, "v", lambda: self._next_version(ds_dir), write,
                                              what=f"version number for {dataset!r}")
            return VersionInfo(dataset, version, final, created)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def delete(self, dataset: str, version: int | str) -> None:
        """Remove a version. Renamed out of sight first, so it is never seen half-deleted.
        Whether it may be deleted (e.g. it is active) is the caller's decision."""
        path = self.path(dataset, version)
        trash = path.parent / _scratch_name(_TRASH_PREFIX)
        os.rename(path, trash)
        _write_text(path.parent / f"{path.name}.deleted", "")
        _fsync_dir(path.parent)
        shutil.rmtree(trash, ignore_errors=True)

    def clean_temp(self) -> list[Path]:
        """Remove temp/trash dirs left by crashed writers (dead pid, or older than a day); returns them."""
        removed = []
        for ds_dir in (p for p in self.root.iterdir() if p.is_dir()):
            for child in ds_dir.iterdir():
                if child.name.startswith((_TEMP_PREFIX, _TRASH_PREFIX)) and _abandoned(child):
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child)
        return removed

    # -- reading -------------------------------------------------------------------------------
    def list(self, dataset: str) -> list[VersionInfo]:
        """Complete versions of a dataset, oldest first ([] if none)."""
        ds_dir = self._dataset_dir(dataset)
        if not ds_dir.is_dir():
            return []
        out = []
        for child in ds_dir.iterdir():
            match = _VERSION_DIR.match(child.name)
            if match and child.is_dir() and (child / "metadata.json").is_file():
                out.append(VersionInfo(dataset, int(match.group(1)), child, _created_at(child)))
        return sorted(out, key=lambda v: v.version)

    def datasets(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def path(self, dataset: str, version: int | str) -> Path:
        """Directory of one complete version; NotFoundError if there is none."""
        number = parse_version(version)
        path = self._dataset_dir(dataset) / f"v{number:04d}"
        if not (path / "metadata.json").is_file():
            raise NotFoundError(f"dataset {dataset!r} has no model version v{number:04d}")
        return path

    def disk_usage(self, dataset: str) -> int:
        """Bytes used by all of a dataset's versions (temp dirs included while they exist)."""
        ds_dir = self._dataset_dir(dataset)
        return sum(f.stat().st_size for f in ds_dir.rglob("*") if f.is_file()) if ds_dir.is_dir() else 0

    def zip(self, dataset: str, version: int | str, dest: str | os.PathLike[str]) -> Path:
        """Write the version as a zip (files under vNNNN/) to `dest` (a file or a directory)."""
        path = self.path(dataset, version)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"{_slug(dataset)}-{path.name}.zip"
        part = dest.with_name(dest.name + ".part")
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(path.rglob("*")):
                if f.is_file():
                    zf.write(f, f"{path.name}/{f.relative_to(path).as_posix()}")
        os.replace(part, dest)
        return dest

    # -- helpers -------------------------------------------------------------------------------
    def _dataset_dir(self, dataset: str, create: bool = False) -> Path:
        path = self.root / validate_dataset_name(dataset)  # the store's rule: every stored name fits here
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def _next_version(self, ds_dir: Path) -> int:
        numbers = [int(m.group(1)) for c in ds_dir.iterdir()
                   if (m := _VERSION_DIR.match(c.name) or _DELETED_MARK.match(c.name))]
        return max(numbers, default=0) + 1


def read_metadata(path: Path) -> dict:
    """metadata.json next to the weights, or {} when there is none."""
    meta_file = path / "metadata.json"
    if not meta_file.is_file():
        return {}
    try:
        data = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{meta_file} is not valid JSON ({err}); fix or remove it") from None
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class VersionShape:
    """What a UI needs to know about a version before loading it: read from its files, no torch."""

    layers: int
    heads: int
    labels: tuple[str, ...]


def version_shape(path: Path) -> VersionShape:
    """Layers, heads and labels of a saved classifier, from config.json and metadata.json."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"cannot read the model's config.json in {path} ({err})") from None
    id2label = config.get("id2label") or {}
    labels = read_metadata(Path(path)).get("labels") or [id2label[k] for k in sorted(id2label, key=int)]
    return VersionShape(int(config.get("num_hidden_layers") or 0), int(config.get("num_attention_heads") or 0),
                        tuple(str(x) for x in labels))


def parse_version(version: int | str) -> int:
    """3, "3", "v3" and "v0003" all mean version 3."""
    text = str(version).strip().lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"model version {version!r} should look like v0003 or 3")
    return int(text)


def build_metadata(result: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """metadata.json contents for a TrainResult (everything but the weights)."""
    summary = result.summary()
    labels = summary["labels"]
    meta = {
        "task": summary["task"], "labels": labels, "label2id": {lab: i for i, lab in enumerate(labels)},
        "base_model": summary["base_model"], "thresholds": summary["thresholds"],
        "snapshot": {"hash": summary["snapshot_hash"], "counts": summary["counts"]},
        "config": summary["config"], "metrics": summary["metrics"], "history": summary["history"],
        "timings": summary["timings"], "device": summary["device"], "best_epoch": summary["best_epoch"],
        "stopped_early": summary["stopped_early"], "library_versions": library_versions(),
    }
    if summary.get("self_training"):  # rounds, pseudo-label counts and each student's paired comparison
        meta["self_training"] = summary["self_training"]
    meta.update({k: v for k, v in extra.items() if k not in ("format", "dataset", "version", "created_at")})
    return meta


def library_versions() -> dict[str, str]:
    import numpy
    import torch
    import transformers

    import ftdemo

    return {"ftdemo": ftdemo.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": numpy.__version__}


def _created_at(path: Path) -> str:
    try:
        with open(path / "metadata.json", encoding="utf-8") as fh:
            return str(json.load(fh).get("created_at", ""))
    except (OSError, ValueError):
        return ""


def _scratch_name(prefix: str) -> str:
    """A temp or trash directory's name: prefix, pid, a random part, host (see _abandoned)."""
    return f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}-{_slug(platform.node())}"


def _abandoned(path: Path) -> bool:
    parts = path.name.split("-", 3)  # the host comes last: it may hold dashes itself
    try:
        pid = int(parts[1])
        age = time.time() - path.stat().st_mtime
    except (IndexError, ValueError, OSError):
        return True
    if age > STALE_TEMP_S:
        return True
    if len(parts) == 4 and parts[3] != _slug(platform.node()):
        # a training worker on another machine writing to a shared models directory: its pid means nothing
        # here, so only the age tells an abandoned directory from a save in progress
        return False
    if pid == os.getpid():
        return False  # ours: a save in another thread of this process may be writing it
    return not pid_alive(pid)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "dataset"


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def publish_numbered(tmp: Path, parent: Path, prefix: str, next_number: Callable[[], int],
                     write: Callable[[int], None], *, what: str) -> tuple[int, Path]:
    """Move the finished folder `tmp` to `parent`/{prefix}{number:04d} atomically, as the next free number;
    returns (number, final path). `write(number)` puts the number's own files (metadata) into `tmp` first.
    Another writer may take a number between `next_number()` and the rename: the rename then fails on the
    existing folder, and the next number is tried."""
    for _attempt in range(100):
        number = next_number()
        write(number)
        _fsync_tree(tmp)
        final = parent / f"{prefix}{number:04d}"
        try:
            os.rename(tmp, final)  # atomic; fails if `final` exists and is not empty
        except OSError:
            if final.exists():
                continue
            raise
        _fsync_dir(parent)
        return number, final
    raise StorageError(f"could not find a free {what}")


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened for fsync there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
