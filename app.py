"""Hugging Face Spaces entry point (also: `python app.py`). Configure with FTDEMO_* env vars.

A Space sets GRADIO_SERVER_NAME=0.0.0.0 (and may set GRADIO_SERVER_PORT); Settings honours both unless
FTDEMO_HOST / FTDEMO_PORT say otherwise. On ZeroGPU hardware `spaces` is imported before anything loads
torch, as ZeroGPU asks, and training runs inside a `spaces.GPU` call (ftdemo.jobs.zerogpu).
"""

from __future__ import annotations

import logging

from ftdemo import logs
from ftdemo.cli.serve_cmd import import_spaces_first, preflight
from ftdemo.errors import FtdemoError
from ftdemo.settings import Settings


def main() -> None:
    logs.configure(logging.INFO)
    try:
        settings = Settings.from_env()
        import_spaces_first(settings)
        preflight(settings)  # e.g. refuses a database on a bucket/NFS mount, with what to do instead
    except FtdemoError as err:
        raise SystemExit(f"error: {err}") from None
    from ftdemo.ui.app import launch

    launch(settings)


if __name__ == "__main__":
    main()
