"""The log says what a person running the app needs, not the libraries' routine chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

START = """
import logging, sys
from ftdemo import logs
logs.configure(logging.INFO)
from ftdemo.services import Services
from ftdemo.settings import Settings
from ftdemo.training.setup import load_classifier
from ftdemo.tasks import TaskType
Services(Settings(data_dir=sys.argv[1], seed_demo=False)).close()
if len(sys.argv) > 2:
    load_classifier(sys.argv[2], ["a", "b"], TaskType.SINGLE_LABEL)  # a new head: its weights are "missing"
"""


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", START, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_starts_log_a_schema_upgrade_once_and_no_library_chatter(tmp_path, tiny_model_dir) -> None:
    first = _run(str(tmp_path))
    assert "database schema upgraded from empty to" in first
    second = _run(str(tmp_path), str(tiny_model_dir))
    assert "schema upgraded" not in second
    for chatter in ("Context impl", "Will assume", "LOAD REPORT", "MISSING", "Loading weights"):
        assert chatter not in first + second, chatter
