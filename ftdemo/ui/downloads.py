"""Files the app makes for someone to download (model zips, exports): one fresh folder each, under one
temp folder, and the folders older than FTDEMO_TEMP_FILE_HOURS removed whenever a new one is made.

Gradio serves a handler's file from its own cache (a copy, removed by `delete_cache`); the original
here would otherwise stay until the machine's temp dir is cleaned, one per click.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

DOWNLOADS = Path(tempfile.gettempdir()) / "ftdemo-downloads"


def fresh_folder(max_age_hours: float) -> Path:
    """A new empty folder for one generated file; removes older ones first (other users' too: all
    of them are past their use once gradio has copied the file to its cache)."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age_hours * 3600
    for old in DOWNLOADS.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    folder = DOWNLOADS / uuid.uuid4().hex
    folder.mkdir()
    return folder
