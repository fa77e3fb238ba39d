"""Hugging Face Spaces entry point (also: `python app.py`). Configure with FTDEMO_* env vars."""

from __future__ import annotations

import logging
import os

from ftdemo import logs
from ftdemo.cli.serve_cmd import preflight
from ftdemo.errors import FtdemoError
from ftdemo.settings import Settings


def main() -> None:
    logs.configure(logging.INFO)
    overrides: dict[str, object] = {}
    # A Space routes traffic to port 7860 of the container and sets GRADIO_SERVER_NAME=0.0.0.0;
    # honour it unless FTDEMO_HOST says otherwise.
    if not os.environ.get("FTDEMO_HOST") and os.environ.get("GRADIO_SERVER_NAME"):
        overrides["host"] = os.environ["GRADIO_SERVER_NAME"]
    try:
        settings = Settings.from_env(**overrides)
        preflight(settings)  # e.g. refuses a database on a bucket/NFS mount, with what to do instead
    except FtdemoError as err:
        raise SystemExit(f"error: {err}") from None
    from ftdemo.ui.app import launch

    launch(settings)


if __name__ == "__main__":
    main()
