"""Adapted checkpoints on disk: <root>/<dataset>/adapted/a0001/, a0002/, ...

An adapted checkpoint is a masked-LM model (encoder + head) continued on a dataset's texts
(ftdemo.training.adapt), saved with `save_pretrained` plus its tokenizer and adapt.json. It is written
like a registry version: into a hidden temp directory in the dataset's folder, every file fsynced, then
renamed into place in one atomic step, so a cancel, a crash or kill -9 leaves either a complete checkpoint
or a temp directory that is never listed and that `Registry.clean_temp()` removes on the next start.

A fine-tune uses one as its base model by its path (TrainConfig.base_model): the classifier loads the
encoder's weights and starts its own head fresh, as from any other base.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ftdemo.errors import NotFoundError
from ftdemo.models.registry import _TEMP_PREFIX, _scratch_name, library_versions, publish_numbered
from ftdemo.tasks import validate_dataset_name

FOLDER = "adapted"
METADATA = "adapt.json"
_NAME = re.compile(r"^a(\d{4,})$")


@dataclass(frozen=True)
class AdaptedInfo:
    dataset: str
    number: int
    path: Path
    created_at: str
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return f"a{self.number:04d}"

    def to_dict(self) -> dict[str, Any]:
        """What lists show: name, path (the base_model value a fine-tune takes), when, and how it went."""
        meta = self.metadata
        return {"name": self.name, "dataset": self.dataset, "path": str(self.path), "created_at": self.created_at,
                "base_model": meta.get("base_model", ""), "run_id": meta.get("run_id"),
                "texts": (meta.get("counts") or {}).get("texts"), "metrics": meta.get("metrics", {}),
                "epochs": (meta.get("config") or {}).get("epochs")}


class AdaptedStore:
    """Adapted checkpoints per dataset under a models root (the registry's root)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def save(self, dataset: str, result: Any, metadata: dict[str, Any] | None = None) -> AdaptedInfo:
        """Write `result` (an AdaptResult) as the dataset's next adapted checkpoint; its AdaptedInfo."""
        ds_dir = self.root / validate_dataset_name(dataset)
        (ds_dir / FOLDER).mkdir(parents=True, exist_ok=True)
        tmp = ds_dir / _scratch_name(_TEMP_PREFIX)  # beside the versions: the registry's clean-up sees it
        tmp.mkdir()
        try:
            result.model.save_pretrained(tmp)
            result.tokenizer.save_pretrained(tmp)
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            meta = {**result.summary(), **(metadata or {}), "library_versions": library_versions()}

            def write(number: int) -> None:
                meta.update(dataset=dataset, name=f"a{number:04d}", created_at=created)
                (tmp / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str), encoding="utf-8")

            number, final = publish_numbered(tmp, ds_dir / FOLDER, "a", lambda: self._next_number(ds_dir / FOLDER),
                                             write, what=f"adapted checkpoint number for {dataset!r}")
            return AdaptedInfo(dataset, number, final, created, meta)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def list(self, dataset: str) -> list[AdaptedInfo]:
        """Complete adapted checkpoints of a dataset, oldest first ([] if none)."""
        folder = self.root / validate_dataset_name(dataset) / FOLDER
        if not folder.is_dir():
            return []
        out = []
        for child in folder.iterdir():
            match = _NAME.match(child.name)
            if match and child.is_dir() and (child / METADATA).is_file():
                meta = _read(child / METADATA)
                out.append(AdaptedInfo(dataset, int(match.group(1)), child, str(meta.get("created_at", "")), meta))
        return sorted(out, key=lambda a: a.number)

    def get(self, dataset: str, name: str) -> AdaptedInfo:
        """One checkpoint by name ("a0001", "a1" or "1"); NotFoundError naming the ones there are."""
        text = str(name).strip().lower().removeprefix("a")
        for info in self.list(dataset):
            if text.isdigit() and int(text) == info.number:
                return info
        known = ", ".join(a.name for a in self.list(dataset)) or "none yet (adapt the dataset first)"
        raise NotFoundError(f"dataset {dataset!r} has no adapted checkpoint {name!r}; adapted: {known}")

    @staticmethod
    def _next_number(folder: Path) -> int:
        numbers = [int(m.group(1)) for c in folder.iterdir() if (m := _NAME.match(c.name))]
        return max(numbers, default=0) + 1


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
