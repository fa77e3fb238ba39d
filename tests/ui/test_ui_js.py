"""The page's script parses (a syntax error would silently disable every shortcut and predict-as-you-type)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ftdemo.ui import js


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to parse JavaScript")
@pytest.mark.parametrize("name", ["KEYBOARD_JS", "PREDICT_ANSWERED_JS"])
def test_the_page_script_parses(tmp_path, name) -> None:
    source = tmp_path / "page.js"
    source.write_text(f"const f = {getattr(js, name)};\n", encoding="utf-8")
    done = subprocess.run(["node", "--check", str(source)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
