"""Hugging Face Spaces entry point (also: `python app.py`). Configure with FTDEMO_* env vars."""

from __future__ import annotations

import logging
import os

from ftdemo.config import Settings
from ftdemo.ui.app import launch


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own startup requests
    overrides: dict[str, object] = {}
    # A Space routes traffic to port 7860 of the container and sets GRADIO_SERVER_NAME=0.0.0.0;
    # honour it unless FTDEMO_HOST says otherwise.
    if not os.environ.get("FTDEMO_HOST") and os.environ.get("GRADIO_SERVER_NAME"):
        overrides["host"] = os.environ["GRADIO_SERVER_NAME"]
    launch(Settings.from_env(**overrides))


if __name__ == "__main__":
    main()
